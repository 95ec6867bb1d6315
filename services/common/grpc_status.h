// The one place where absl::Status and grpc::Status meet, and where internal
// errors are kept from clients. Details (such as
// google.rpc.BadRequest) travel in the `grpc-status-details-bin` trailer as a
// serialized google.rpc.Status, which every gRPC client library understands.
//
//   return ToGrpcStatus(ValidateRequest(*request));        // server side
//   absl::Status s = FromGrpcStatus(stub->Classify(...));  // client side
#ifndef OPPMATRIX_SERVICES_COMMON_GRPC_STATUS_H_
#define OPPMATRIX_SERVICES_COMMON_GRPC_STATUS_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace oppmatrix {

// The status as a client may see it. INTERNAL, DATA_LOSS and UNKNOWN say
// only "internal error (log id <16 hex digits>)"; their message (which may
// quote Redis or Lua) is logged at ERROR with that id. Other codes are
// returned unchanged.
absl::Status ClientFacing(const absl::Status& status);

// UNAVAILABLE "<summary> (log id <16 hex digits>)" for a dependency that
// failed with `cause` (a Redis error, an address): the cause is logged at
// WARNING with that id and is not sent.
absl::Status UnavailableWithLogId(absl::string_view summary,
                                  const absl::Status& cause);

// absl::Status -> grpc::Status: ClientFacing, then the message truncated and
// the payloads as google.rpc.Status details.
grpc::Status ToGrpcStatus(const absl::Status& status);

// grpc::Status -> absl::Status, restoring the details as payloads.
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace oppmatrix

#endif  // OPPMATRIX_SERVICES_COMMON_GRPC_STATUS_H_
