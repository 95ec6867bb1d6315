#include "services/common/env_flags.h"

#include <cstdio>
#include <cstdlib>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace oppmatrix {

std::string EnvNameForFlag(absl::string_view flag_name) {
  return absl::StrCat("OPPMATRIX_", absl::AsciiStrToUpper(flag_name));
}

absl::Status ApplyEnvOverrides(const std::vector<std::string>& flag_names) {
  for (const std::string& name : flag_names) {
    absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    if (flag == nullptr) {
      return absl::InternalError(absl::StrCat("no flag named --", name));
    }
    std::string env = EnvNameForFlag(name);
    const char* value = std::getenv(env.c_str());
    if (value == nullptr) continue;
    std::string error;
    if (!flag->ParseFrom(value, &error)) {
      return absl::InvalidArgumentError(
          absl::StrCat(env, "=\"", value, "\": ", error));
    }
  }
  return absl::OkStatus();
}

std::vector<char*> ParseFlagsWithEnv(int argc, char** argv,
                                     const std::vector<std::string>& flag_names,
                                     absl::string_view usage) {
  absl::SetProgramUsageMessage(usage);
  absl::Status env = ApplyEnvOverrides(flag_names);
  if (!env.ok()) {
    std::fprintf(stderr, "%s: %s\n", argv[0],
                 std::string(env.message()).c_str());
    std::exit(2);
  }
  return absl::ParseCommandLine(argc, argv);
}

}  // namespace oppmatrix
