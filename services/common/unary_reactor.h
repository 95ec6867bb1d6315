// The unary method of a raw callback service (one that parses its own
// request bytes, so an undecodable body is INVALID_ARGUMENT saying so):
// parses the request onto an arena, hands it to a core's asynchronous
// method and finishes the reactor when that answers, from whatever thread
// it answers on. No gRPC thread waits.
//
//   return UnaryAsync<v1::GetMatrixRequest, v1::GetMatrixResponse>(
//       context, core_, &ClassificationCore::GetMatrixAsync, request,
//       response);
#ifndef OPPMATRIX_SERVICES_COMMON_UNARY_REACTOR_H_
#define OPPMATRIX_SERVICES_COMMON_UNARY_REACTOR_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "google/protobuf/arena.h"
#include "services/common/grpc_status.h"
#include "services/common/proto_bytes.h"

namespace oppmatrix {

// The call's deadline (InfiniteFuture when the client set none).
inline absl::Time CallDeadline(const grpc::CallbackServerContext* context) {
  return absl::FromChrono(context->deadline());
}

// Parses the request's bytes and returns at once; `method` of the core
// answers later (from the store's I/O thread once Redis has answered),
// and the call is finished then: no gRPC thread waits on Redis.
template <typename Request, typename Response, typename Core, typename Method>
grpc::ServerUnaryReactor* UnaryAsync(grpc::CallbackServerContext* context,
                                     Core& core, Method method,
                                     const grpc::ByteBuffer* request_bytes,
                                     grpc::ByteBuffer* response_bytes) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  // The request, parsed onto an arena of its own, lives until the answer.
  struct Held {
    google::protobuf::Arena arena;
    Request* request = google::protobuf::Arena::CreateMessage<Request>(&arena);
  };
  auto request = std::make_shared<Held>();
  if (absl::Status s = ParseProtoBytes(*request_bytes, request->request);
      !s.ok()) {
    reactor->Finish(ToGrpcStatus(s));
    return reactor;
  }
  const Request& held = *request->request;  // before the capture moves it
  (core.*method)(held, CallDeadline(context),
                 [reactor, response_bytes, request = std::move(request)](
                     absl::StatusOr<Response*> result) {
                   if (result.ok()) *response_bytes = ToByteBuffer(**result);
                   reactor->Finish(ToGrpcStatus(result.status()));
                 });
  return reactor;
}

}  // namespace oppmatrix

#endif  // OPPMATRIX_SERVICES_COMMON_UNARY_REACTOR_H_
