// Every flag of an oppmatrix executable can also be set through the
// environment as OPPMATRIX_<FLAG NAME IN UPPER CASE> (a tool's own flags
// under a prefix of its own); the command line wins over the environment.
// The flags come from the flag registry, so every flag defined has its
// variable and no list of names is kept by hand.
//
//   int main(int argc, char** argv) {
//     std::vector<char*> rest =
//         oppmatrix::ParseFlagsWithEnv(argc, argv, "Usage: ...");
#ifndef OPPMATRIX_SERVICES_COMMON_ENV_FLAGS_H_
#define OPPMATRIX_SERVICES_COMMON_ENV_FLAGS_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace oppmatrix {

// "max_batch_size" -> "OPPMATRIX_MAX_BATCH_SIZE".
std::string EnvNameForFlag(absl::string_view flag_name,
                           absl::string_view prefix = "OPPMATRIX_");

// The names of every flag defined in the same file as `flag` (e.g. a
// library's flags, for a help text), sorted; empty when there is no such
// flag.
std::vector<std::string> FlagsDefinedWith(absl::string_view flag);

// Which variable each of a program's flags is read from. Every flag of
// the program's own files (not Abseil's) is read from OPPMATRIX_<NAME>,
// except a tool's own flags, whose names would mean something else to
// another tool (an OPPMATRIX_TENANT meant for oppctl must not send the
// bench's writes into a real tenant): the flags defined in the file that
// defines `tool_flag` are read from <tool_prefix><NAME>, unless listed in
// `shared_tool_flags`.
struct EnvFlagNaming {
  std::string tool_flag;  // empty: no tool flags
  std::string tool_prefix = "OPPMATRIX_";
  std::vector<std::string> shared_tool_flags;
};

// The help of flag `name`: "  --name=default\n      help (env ENV)\n";
// "" for a flag that does not exist.
std::string FlagHelpLines(absl::string_view name, absl::string_view env);

// Each of the program's flags with its variable, by flag name.
std::vector<std::pair<std::string, std::string>> FlagEnvVariables(
    const EnvFlagNaming& naming = {});

// Sets the usage text; --help (-h, --helpshort) prints it with the
// program's own flags, each with its default and variable, and exits 0
// (--helpfull keeps Abseil's listing, Abseil's flags included). Then
// applies the environment overrides of every flag (FlagEnvVariables),
// then parses the command line. A bad environment value, an unknown flag
// or a bad flag value prints a message and exits with status 2. Returns
// the positional arguments, argv[0] first.
std::vector<char*> ParseFlagsWithEnv(int argc, char** argv,
                                     absl::string_view usage,
                                     const EnvFlagNaming& naming = {});

// A repeatable string flag's values: every --<name>=V and --<name> V on the
// command line, in order (Abseil keeps only the last); when there is none,
// the lines of its environment variable (`env`, one value per line, blank
// lines skipped). The flag must still be defined, for --help and the check
// of unknown flags.
std::vector<std::string> RepeatedFlagValues(int argc, char** argv,
                                            absl::string_view name,
                                            absl::string_view env);

}  // namespace oppmatrix

#endif  // OPPMATRIX_SERVICES_COMMON_ENV_FLAGS_H_
