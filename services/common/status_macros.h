// Status propagation macros, since Abseil 20220623 ships none.
//
//   OPPMATRIX_RETURN_IF_ERROR(ValidateRuleset(rules));
//   OPPMATRIX_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
#ifndef OPPMATRIX_SERVICES_COMMON_STATUS_MACROS_H_
#define OPPMATRIX_SERVICES_COMMON_STATUS_MACROS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define OPPMATRIX_STATUS_CONCAT_INNER_(a, b) a##b
#define OPPMATRIX_STATUS_CONCAT_(a, b) OPPMATRIX_STATUS_CONCAT_INNER_(a, b)

// Returns the status of `expr` from the enclosing function when it is not OK.
#define OPPMATRIX_RETURN_IF_ERROR(expr)                    \
  do {                                                     \
    ::absl::Status oppmatrix_status_ = (expr);             \
    if (!oppmatrix_status_.ok()) return oppmatrix_status_; \
  } while (false)

// Evaluates `rexpr` (an absl::StatusOr<T>); returns its status when not OK,
// otherwise moves the value into `lhs` (which may be a declaration).
#define OPPMATRIX_ASSIGN_OR_RETURN(lhs, rexpr) \
  OPPMATRIX_ASSIGN_OR_RETURN_IMPL_(            \
      OPPMATRIX_STATUS_CONCAT_(oppmatrix_statusor_, __LINE__), lhs, rexpr)

#define OPPMATRIX_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                                     \
  if (!statusor.ok()) return std::move(statusor).status();     \
  lhs = std::move(statusor).value()

#endif  // OPPMATRIX_SERVICES_COMMON_STATUS_MACROS_H_
