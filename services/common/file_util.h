// Small file helpers returning absl::Status.
//
//   OPPMATRIX_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
#ifndef OPPMATRIX_SERVICES_COMMON_FILE_UTIL_H_
#define OPPMATRIX_SERVICES_COMMON_FILE_UTIL_H_

#include <string>

#include "absl/status/statusor.h"

namespace oppmatrix {

// The whole file, or NOT_FOUND / PERMISSION_DENIED / INTERNAL naming it.
// Files over `max_bytes` are FAILED_PRECONDITION.
absl::StatusOr<std::string> ReadFileToString(const std::string& path,
                                             size_t max_bytes = 16 << 20);

}  // namespace oppmatrix

#endif  // OPPMATRIX_SERVICES_COMMON_FILE_UTIL_H_
