// Small file helpers returning absl::Status.
//
//   OPPMATRIX_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
#ifndef OPPMATRIX_SERVICES_COMMON_FILE_UTIL_H_
#define OPPMATRIX_SERVICES_COMMON_FILE_UTIL_H_

#include <string>

#include "absl/status/statusor.h"

namespace oppmatrix {

// The whole file, or NOT_FOUND / PERMISSION_DENIED / INTERNAL naming it.
// Files over `max_bytes` are FAILED_PRECONDITION: a regular file by its size
// before anything is read, a pipe or device once it has delivered more;
// memory stays within `max_bytes` either way.
absl::StatusOr<std::string> ReadFileToString(const std::string& path,
                                             size_t max_bytes = 16 << 20);

// A secret kept in a file (a bearer token mounted from a Secret): its
// content without surrounding whitespace. INVALID_ARGUMENT naming `flag`
// when the file can't be read, is over 4 KiB or is empty.
absl::StatusOr<std::string> ReadSecretFile(const std::string& flag,
                                           const std::string& path);

}  // namespace oppmatrix

#endif  // OPPMATRIX_SERVICES_COMMON_FILE_UTIL_H_
