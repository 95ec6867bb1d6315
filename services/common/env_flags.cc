#include "services/common/env_flags.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iterator>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace oppmatrix {
namespace {

// absl exits with 1 on an unknown flag or a value it can't parse; this
// finds those first, so that every usage error exits with 2.
bool CheckCommandLine(int argc, char** argv) {
  static constexpr absl::string_view kBuiltin[] = {
      "help",     "helpfull", "helpshort",  "helppackage", "version",
      "flagfile", "fromenv",  "tryfromenv", "undefok",     "only_check_args"};
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (arg == "--") break;
    if (arg == "-") continue;  // positional: standard input
    if (!absl::ConsumePrefix(&arg, "-")) continue;  // positional
    absl::ConsumePrefix(&arg, "-");
    absl::string_view name = arg.substr(0, arg.find('='));
    const bool has_value = name.size() < arg.size();
    if (std::find(std::begin(kBuiltin), std::end(kBuiltin), name) !=
        std::end(kBuiltin)) {
      continue;
    }
    absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    if (flag == nullptr && !has_value && absl::StartsWith(name, "no")) {
      absl::CommandLineFlag* negated =
          absl::FindCommandLineFlag(name.substr(2));
      if (negated != nullptr && negated->IsOfType<bool>()) continue;
    }
    if (flag == nullptr) {
      std::fprintf(stderr, "%s: unknown flag --%s (see --help)\n", argv[0],
                   std::string(name).c_str());
      return false;
    }
    std::string value;
    if (has_value) {
      value = std::string(arg.substr(name.size() + 1));
    } else if (flag->IsOfType<bool>()) {
      continue;
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      std::fprintf(stderr, "%s: --%s needs a value\n", argv[0],
                   std::string(name).c_str());
      return false;
    }
    const std::string saved = flag->CurrentValue();
    std::string error;
    if (!flag->ParseFrom(value, &error)) {
      std::fprintf(stderr, "%s: --%s=%s: %s\n", argv[0],
                   std::string(name).c_str(), value.c_str(), error.c_str());
      return false;
    }
    flag->ParseFrom(saved, &error);
  }
  return true;
}

// --help lists the program's own flags (every file but Abseil's).
bool OwnFlagFile(absl::string_view file) {
  return !absl::StrContains(file, "absl/");
}

// Whether the command line asks for the short help: --help, -h or
// --helpshort (--helpfull keeps Abseil's full listing).
bool WantsHelp(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (arg == "--") break;
    if (arg == "--help" || arg == "-help" || arg == "-h" ||
        arg == "--helpshort" || arg == "-helpshort") {
      return true;
    }
  }
  return false;
}

// The usage text, then each of the program's own flags with its default,
// help and variable: no source paths, on stdout.
void PrintHelp(absl::string_view usage, const EnvFlagNaming& naming) {
  std::string out = absl::StrCat(usage, "\n\nflags:\n");
  for (const auto& [name, env] : FlagEnvVariables(naming)) {
    absl::StrAppend(&out, FlagHelpLines(name, env));
  }
  absl::StrAppend(&out, "\n--helpfull lists every flag, Abseil's included.\n");
  std::fputs(out.c_str(), stdout);
}

}  // namespace

std::string FlagHelpLines(absl::string_view name, absl::string_view env) {
  const absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
  if (flag == nullptr) return "";
  const std::string def = flag->DefaultValue();
  return absl::StrCat("  --", name, def.empty() ? "" : "=", def, "\n      ",
                      flag->Help(), " (env ", env, ")\n");
}

std::string EnvNameForFlag(absl::string_view flag_name,
                           absl::string_view prefix) {
  return absl::StrCat(prefix, absl::AsciiStrToUpper(flag_name));
}

std::vector<std::string> FlagsDefinedWith(absl::string_view flag) {
  // The registry gives the file name as its usage config normalises it,
  // so it is compared with that of the given flag.
  const absl::CommandLineFlag* known = absl::FindCommandLineFlag(flag);
  if (known == nullptr) return {};
  const std::string here = known->Filename();
  std::vector<std::string> names;
  for (const auto& [name, f] : absl::GetAllFlags()) {
    if (f->Filename() == here) names.emplace_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::vector<std::pair<std::string, std::string>> FlagEnvVariables(
    const EnvFlagNaming& naming) {
  std::string tool_file;
  if (!naming.tool_flag.empty()) {
    const absl::CommandLineFlag* tool =
        absl::FindCommandLineFlag(naming.tool_flag);
    if (tool != nullptr) tool_file = tool->Filename();
  }
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    if (!OwnFlagFile(flag->Filename())) continue;
    const bool tool = !tool_file.empty() && flag->Filename() == tool_file &&
                      std::find(naming.shared_tool_flags.begin(),
                                naming.shared_tool_flags.end(),
                                name) == naming.shared_tool_flags.end();
    out.emplace_back(
        std::string(name),
        EnvNameForFlag(
            name, tool ? naming.tool_prefix : absl::string_view("OPPMATRIX_")));
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<char*> ParseFlagsWithEnv(int argc, char** argv,
                                     absl::string_view usage,
                                     const EnvFlagNaming& naming) {
  absl::SetProgramUsageMessage(usage);
  if (WantsHelp(argc, argv)) {
    PrintHelp(usage, naming);
    std::exit(0);
  }
  absl::FlagsUsageConfig config;
  config.contains_helpshort_flags = OwnFlagFile;
  config.contains_help_flags = OwnFlagFile;
  absl::SetFlagsUsageConfig(config);
  for (const auto& [name, env] : FlagEnvVariables(naming)) {
    const char* value = std::getenv(env.c_str());
    if (value == nullptr) continue;
    absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    std::string error;
    if (!flag->ParseFrom(value, &error)) {
      std::fprintf(stderr, "%s: %s=\"%s\": %s\n", argv[0], env.c_str(), value,
                   error.c_str());
      std::exit(2);
    }
  }
  if (!CheckCommandLine(argc, argv)) std::exit(2);
  return absl::ParseCommandLine(argc, argv);
}

std::vector<std::string> RepeatedFlagValues(int argc, char** argv,
                                            absl::string_view name,
                                            absl::string_view env) {
  std::vector<std::string> out;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (arg == "--") break;
    if (!absl::ConsumePrefix(&arg, "-")) continue;
    absl::ConsumePrefix(&arg, "-");
    if (!absl::ConsumePrefix(&arg, name)) continue;
    if (absl::ConsumePrefix(&arg, "=")) {
      out.emplace_back(arg);
    } else if (arg.empty() && i + 1 < argc) {
      out.emplace_back(argv[++i]);
    }
  }
  if (!out.empty()) return out;
  const char* value = std::getenv(std::string(env).c_str());
  if (value == nullptr) return out;
  for (absl::string_view line : absl::StrSplit(value, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (!line.empty()) out.emplace_back(line);
  }
  return out;
}

}  // namespace oppmatrix
