// Every flag of an oppmatrix executable can also be set through the
// environment as OPPMATRIX_<FLAG NAME IN UPPER CASE>; the command line wins
// over the environment.
//
//   int main(int argc, char** argv) {
//     std::vector<char*> rest = oppmatrix::ParseFlagsWithEnv(
//         argc, argv, {"listen", "rules"}, "Usage: ...");
#ifndef OPPMATRIX_SERVICES_COMMON_ENV_FLAGS_H_
#define OPPMATRIX_SERVICES_COMMON_ENV_FLAGS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace oppmatrix {

// "max_batch_size" -> "OPPMATRIX_MAX_BATCH_SIZE".
std::string EnvNameForFlag(absl::string_view flag_name,
                           absl::string_view prefix = "OPPMATRIX_");

// Sets each named flag from its <prefix><NAME> variable when that is
// present. An unparsable value is an INVALID_ARGUMENT naming the variable.
absl::Status ApplyEnvOverrides(const std::vector<std::string>& flag_names,
                               absl::string_view prefix = "OPPMATRIX_");

// Sets the usage text (and --help to list the program's own flags),
// applies the environment overrides (OPPMATRIX_<NAME> for `flag_names`,
// <own_prefix><NAME> for `own_flag_names`, e.g. a tool's flags that would
// mean something else to another tool), then parses the command line. A
// bad environment value, an unknown flag or a bad flag value prints a
// message and exits with status 2. Returns the positional arguments,
// argv[0] first.
std::vector<char*> ParseFlagsWithEnv(
    int argc, char** argv, const std::vector<std::string>& flag_names,
    absl::string_view usage,
    const std::vector<std::string>& own_flag_names = {},
    absl::string_view own_prefix = "OPPMATRIX_");

}  // namespace oppmatrix

#endif  // OPPMATRIX_SERVICES_COMMON_ENV_FLAGS_H_
