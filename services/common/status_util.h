// Conversions between absl::Status and google.rpc.Status, and the
// google.rpc.BadRequest details that name the offending request fields.
// No gRPC here: the engine links this too.
//
//   std::vector<FieldViolation> v = ...;
//   absl::Status s = InvalidArgumentWithViolations("bad opportunity", v);
//   google::rpc::Status wire = ToRpcStatus(s);  // carries the BadRequest
#ifndef OPPMATRIX_SERVICES_COMMON_STATUS_UTIL_H_
#define OPPMATRIX_SERVICES_COMMON_STATUS_UTIL_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"

namespace oppmatrix {

using FieldViolation = google::rpc::BadRequest::FieldViolation;

// The type URL under which a BadRequest travels in google.rpc.Status.details
// and in an absl::Status payload.
inline constexpr absl::string_view kBadRequestTypeUrl =
    "type.googleapis.com/google.rpc.BadRequest";

// Status messages longer than this are cut (with "...") before they go on
// the wire, like tensorflow/serving does.
inline constexpr size_t kMaxStatusMessageBytes = 2048;

// Appends a violation of `field` to `violations`.
void AddViolation(std::vector<FieldViolation>& violations,
                  absl::string_view field, absl::string_view description);

// INVALID_ARGUMENT whose message lists the violations ("<summary>:
// field: description; ...") and whose payload is a BadRequest with them.
absl::Status InvalidArgumentWithViolations(
    absl::string_view summary, const std::vector<FieldViolation>& violations);

// The field violations carried by `status`, empty when there are none.
std::vector<FieldViolation> GetFieldViolations(const absl::Status& status);

// absl::Status -> google.rpc.Status; payloads become `details`.
google::rpc::Status ToRpcStatus(const absl::Status& status);

// google.rpc.Status -> absl::Status; `details` become payloads.
absl::Status FromRpcStatus(const google::rpc::Status& status);

// Cuts `message` to kMaxStatusMessageBytes on a UTF-8 boundary.
std::string TruncateStatusMessage(absl::string_view message);

}  // namespace oppmatrix

#endif  // OPPMATRIX_SERVICES_COMMON_STATUS_UTIL_H_
