// Every flag of every executable can be set from the environment
// (OPPMATRIX_<NAME>, or a tool's own prefix for its own flags): the list
// of flags is read off each executable's --helpfull, and each flag, set
// through its variable, shows as changed ("currently: ...") there. The
// variables come from the flag registry, so a flag added anywhere is
// covered without editing this test.
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"
#include "services/common/env_flags.h"
#include "tests/testing/subprocess.h"

namespace oppmatrix {
namespace {

struct Flag {
  std::string name;
  std::string default_value;  // as --helpfull prints it
  std::string block;          // its lines in --helpfull
};

// The program's own flags (not Abseil's) in `help`, a --helpfull output:
// "  Flags from FILE:" headers, then "    --name (help); default: X;".
std::vector<Flag> OwnFlags(const std::string& help) {
  std::vector<Flag> flags;
  bool own = false;
  for (absl::string_view line : absl::StrSplit(help, '\n')) {
    if (absl::StartsWith(line, "  Flags from ")) {
      own = !absl::StrContains(line, "absl/");
      continue;
    }
    if (!own) continue;
    absl::string_view rest = line;
    if (absl::ConsumePrefix(&rest, "    --")) {
      Flag& f = flags.emplace_back();
      f.name = std::string(rest.substr(0, rest.find(' ')));
    }
    if (flags.empty()) continue;
    absl::StrAppend(&flags.back().block, line, "\n");
  }
  for (Flag& f : flags) {
    const size_t at = f.block.rfind("default: ");
    if (at == std::string::npos) continue;
    std::string value = f.block.substr(at + 9);
    value = value.substr(0, value.find(";\n"));
    f.default_value = value;
  }
  return flags;
}

// A value other than the default that the flag's type parses.
std::string OtherValue(const std::string& def) {
  if (absl::StartsWith(def, "\"")) return "set-from-env";
  if (def == "true") return "false";
  if (def == "false") return "true";
  int64_t n = 0;
  if (absl::SimpleAtoi(def, &n)) return absl::StrCat(n + 1);
  double d = 0;
  if (absl::SimpleAtod(def, &d)) return absl::StrCat(d + 0.25);
  return "7s";  // the remaining flags are durations ("50ms", "inf")
}

struct Executable {
  std::string path;
  // A tool's own prefix (besides OPPMATRIX_) for its own flags.
  std::string tool_prefix;
};

std::string Help(const Executable& e, const std::vector<std::string>& env) {
  testing::Subprocess p({e.path, "--helpfull"}, env);
  p.Wait(absl::Seconds(30));
  return p.Stdout();
}

class FlagEnvTest : public ::testing::TestWithParam<Executable> {};

TEST_P(FlagEnvTest, EveryFlagHasAnEnvironmentVariable) {
  const Executable& exe = GetParam();
  std::vector<Flag> flags = OwnFlags(Help(exe, {}));
  ASSERT_GE(flags.size(), 2u) << exe.path;
  std::set<std::string> changed;
  std::vector<std::string> prefixes = {"OPPMATRIX_"};
  if (!exe.tool_prefix.empty()) prefixes.push_back(exe.tool_prefix);
  for (const std::string& prefix : prefixes) {
    std::vector<std::string> env;
    for (const Flag& f : flags) {
      env.push_back(absl::StrCat(EnvNameForFlag(f.name, prefix), "=",
                                 OtherValue(f.default_value)));
    }
    for (const Flag& f : OwnFlags(Help(exe, env))) {
      if (absl::StrContains(f.block, "currently: ")) changed.insert(f.name);
    }
  }
  for (const Flag& f : flags) {
    EXPECT_TRUE(changed.count(f.name))
        << exe.path << ": --" << f.name << " (default " << f.default_value
        << ") is not set by OPPMATRIX_ or its tool's variable";
  }
}

// --help answers with the program's own flags and their variables, exits
// 0, and names no source or build path.
TEST_P(FlagEnvTest, HelpListsTheOwnFlagsAndExitsZero) {
  const Executable& exe = GetParam();
  for (const char* help : {"--help", "-h"}) {
    testing::Subprocess p({exe.path, help});
    ASSERT_EQ(p.Wait(absl::Seconds(30)), 0) << exe.path << " " << help;
    const std::string out = p.Stdout();
    EXPECT_NE(out.find("--"), std::string::npos) << exe.path;
    EXPECT_NE(out.find("(env OPPMATRIX_"), std::string::npos)
        << exe.path << ":\n"
        << out;
    EXPECT_EQ(out.find(OPPMATRIX_SOURCE_DIR), std::string::npos) << out;
    EXPECT_EQ(out.find(OPPMATRIX_BINARY_DIR), std::string::npos) << out;
    // Every own flag of --helpfull is listed (oppctl lists a command's
    // flags under `oppctl help COMMAND`).
    if (absl::EndsWith(exe.path, "/oppctl")) continue;
    for (const Flag& f : OwnFlags(Help(exe, {}))) {
      EXPECT_NE(out.find("--" + f.name), std::string::npos)
          << exe.path << ": --" << f.name;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    AllExecutables, FlagEnvTest,
    ::testing::Values(
        Executable{OPPMATRIX_BINARY_DIR
                   "/services/classifier/oppmatrix-classifier",
                   ""},
        Executable{
            OPPMATRIX_BINARY_DIR "/services/ingestion/oppmatrix-ingestion", ""},
        Executable{OPPMATRIX_BINARY_DIR "/clients/oppctl/oppctl", ""},
        Executable{OPPMATRIX_BINARY_DIR "/clients/bench/oppmatrix-bench",
                   "OPPMATRIX_BENCH_"},
        Executable{OPPMATRIX_BINARY_DIR "/clients/sim/oppmatrix-crm-sim",
                   "OPPMATRIX_SIM_"},
        Executable{OPPMATRIX_BINARY_DIR "/tests/oppmatrix-kafka-mock",
                   "OPPMATRIX_KAFKA_MOCK_"}));

}  // namespace
}  // namespace oppmatrix
