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
std::string EnvNameForFlag(absl::string_view flag_name);

// Sets each named flag from its OPPMATRIX_* variable when that is present.
// An unparsable value is an INVALID_ARGUMENT naming the variable.
absl::Status ApplyEnvOverrides(const std::vector<std::string>& flag_names);

// Sets the usage text, applies the environment overrides, then parses the
// command line (exiting with status 2 and a message on a bad environment
// value). Returns the positional arguments, argv[0] first.
std::vector<char*> ParseFlagsWithEnv(int argc, char** argv,
                                     const std::vector<std::string>& flag_names,
                                     absl::string_view usage);

}  // namespace oppmatrix

#endif  // OPPMATRIX_SERVICES_COMMON_ENV_FLAGS_H_
