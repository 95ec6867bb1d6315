// KeepCallbackQueueAlive() against the gRPC 1.51 defect it works around:
// the last reference to a channel dropped inside one of its own callbacks,
// on gRPC's callback thread. Without the workaround that thread frees the
// completion queue it polls and the process aborts ("prior > 0") in most
// runs of this test; with it, every round completes and later channels
// still get their callbacks.
#include "services/common/grpc_callback_queue.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/byte_buffer.h>

#include <chrono>
#include <memory>
#include <string>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace oppmatrix {
namespace {

// One callback call whose callback holds the only reference to its
// channel, and releases it after the caller has let go of its own.
struct LastReferenceCall {
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<grpc::GenericStub> stub;
  grpc::ClientContext context;
  grpc::Slice payload{std::string("x")};
  grpc::ByteBuffer request{&payload, 1};
  grpc::ByteBuffer response;
};

TEST(CallbackQueueTest, LastChannelReferenceDroppedInsideItsCallback) {
  KeepCallbackQueueAlive();
  for (int round = 0; round < 20; ++round) {
    SCOPED_TRACE(round);
    auto* call = new LastReferenceCall;
    call->channel = grpc::CreateChannel("unix:/nonexistent/oppmatrix-test",
                                        grpc::InsecureChannelCredentials());
    call->stub = std::make_unique<grpc::GenericStub>(call->channel);
    call->context.set_deadline(std::chrono::system_clock::now());
    absl::Notification caller_let_go;
    absl::Notification released;
    grpc::StatusCode code = grpc::StatusCode::OK;
    call->stub->UnaryCall(&call->context, "/oppmatrix.test.Nothing/Call",
                          grpc::StubOptions(), &call->request, &call->response,
                          [&, call](grpc::Status status) {
                            code = status.error_code();
                            caller_let_go.WaitForNotification();
                            delete call;  // the channel's last reference
                            released.Notify();
                          });
    caller_let_go.Notify();
    released.WaitForNotification();
    EXPECT_NE(code, grpc::StatusCode::OK);
  }
}

}  // namespace
}  // namespace oppmatrix
