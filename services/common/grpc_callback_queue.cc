#include "services/common/grpc_callback_queue.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/byte_buffer.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <string>

namespace oppmatrix {
namespace {

// The state of the one call, deleted by its own callback.
struct PinningCall {
  grpc::ClientContext context;
  grpc::Slice empty{std::string()};
  grpc::ByteBuffer request{&empty, 1};
  grpc::ByteBuffer response;
};

}  // namespace

void KeepCallbackQueueAlive() {
  static std::once_flag once;
  std::call_once(once, [] {
    // Never destroyed: its reference to the callback queue is the point.
    // A channel takes that reference when it makes its first callback
    // call, in the call's constructor, so the call itself only has to
    // start: it fails at once (the deadline is now, and the socket path
    // does not exist).
    static auto* const channel = new std::shared_ptr<grpc::Channel>(
        grpc::CreateChannel("unix:/nonexistent/oppmatrix-callback-queue",
                            grpc::InsecureChannelCredentials()));
    grpc::GenericStub stub(*channel);
    auto* call = new PinningCall;
    call->context.set_deadline(std::chrono::system_clock::now());
    stub.UnaryCall(&call->context, "/oppmatrix.internal.CallbackQueue/Keep",
                   grpc::StubOptions(), &call->request, &call->response,
                   [call](grpc::Status) { delete call; });
  });
}

}  // namespace oppmatrix
