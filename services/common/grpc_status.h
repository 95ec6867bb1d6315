// The one place where absl::Status and grpc::Status meet. Details (such as
// google.rpc.BadRequest) travel in the `grpc-status-details-bin` trailer as a
// serialized google.rpc.Status, which every gRPC client library understands.
//
//   return ToGrpcStatus(ValidateRequest(*request));        // server side
//   absl::Status s = FromGrpcStatus(stub->Classify(...));  // client side
#ifndef OPPMATRIX_SERVICES_COMMON_GRPC_STATUS_H_
#define OPPMATRIX_SERVICES_COMMON_GRPC_STATUS_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace oppmatrix {

// absl::Status -> grpc::Status with the message truncated and the payloads
// as google.rpc.Status details.
grpc::Status ToGrpcStatus(const absl::Status& status);

// grpc::Status -> absl::Status, restoring the details as payloads.
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace oppmatrix

#endif  // OPPMATRIX_SERVICES_COMMON_GRPC_STATUS_H_
