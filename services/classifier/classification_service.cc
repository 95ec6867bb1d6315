#include "services/classifier/classification_service.h"

#include <cstdint>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "services/common/grpc_status.h"
#include "services/common/proto_bytes.h"
#include "services/common/status_util.h"

namespace oppmatrix {
namespace {

// The call's deadline (InfiniteFuture when the client set none).
absl::Time Deadline(const grpc::CallbackServerContext* context) {
  return absl::FromChrono(context->deadline());
}

// Parses the request's bytes, runs `method` of the core and finishes the
// call with its status.
template <typename Request, typename Method>
grpc::ServerUnaryReactor* Unary(grpc::CallbackServerContext* context,
                                ClassificationCore& core, Method method,
                                const grpc::ByteBuffer* request_bytes,
                                grpc::ByteBuffer* response_bytes) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  Request request;
  if (absl::Status s = ParseProtoBytes(*request_bytes, &request); !s.ok()) {
    reactor->Finish(ToGrpcStatus(s));
    return reactor;
  }
  auto result = (core.*method)(request, Deadline(context));
  if (result.ok()) *response_bytes = ToByteBuffer(*result);
  reactor->Finish(ToGrpcStatus(result.status()));
  return reactor;
}

// Parses the request's bytes and returns at once; `method` of the core
// answers later (from the store's I/O thread once Redis has answered),
// and the call is finished then: no gRPC thread waits on Redis.
template <typename Request, typename Response, typename Method>
grpc::ServerUnaryReactor* UnaryAsync(grpc::CallbackServerContext* context,
                                     ClassificationCore& core, Method method,
                                     const grpc::ByteBuffer* request_bytes,
                                     grpc::ByteBuffer* response_bytes) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  auto request = std::make_shared<Request>();
  if (absl::Status s = ParseProtoBytes(*request_bytes, request.get());
      !s.ok()) {
    reactor->Finish(ToGrpcStatus(s));
    return reactor;
  }
  const Request& held = *request;
  (core.*method)(held, Deadline(context),
                 [reactor, response_bytes, request = std::move(request)](
                     absl::StatusOr<Response> result) {
                   if (result.ok()) *response_bytes = ToByteBuffer(*result);
                   reactor->Finish(ToGrpcStatus(result.status()));
                 });
  return reactor;
}

}  // namespace

// Reads a request, writes its result, reads the next: one result per
// request, in order. Ends when the client half-closes or the call is
// cancelled (e.g. by a server shutdown past its grace period).
class ClassificationServiceImpl::StreamReactor final
    : public grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  StreamReactor(ClassificationCore* core, absl::Time deadline)
      : core_(core), deadline_(deadline) {
    StartRead(&request_bytes_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status::OK);
      return;
    }
    v1::ClassifyRequest request;
    v1::ClassifyResult result;
    absl::Status parsed = ParseProtoBytes(request_bytes_, &request);
    if (!parsed.ok()) {
      // Again, for the error to name the message (not on the hot path).
      parsed =
          ParseProtoBytes(request_bytes_, &request,
                          absl::StrCat("message ", index_, " of the stream"));
    }
    ++index_;
    if (parsed.ok()) {
      result = core_->ClassifyStreamItem(request, deadline_);
    } else {
      *result.mutable_status() = ToRpcStatus(parsed);
    }
    result_bytes_ = ToByteBuffer(result);
    StartWrite(&result_bytes_);
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                          "stream closed while writing"));
      return;
    }
    StartRead(&request_bytes_);
  }

  void OnDone() override { delete this; }

 private:
  ClassificationCore* core_;
  const absl::Time deadline_;
  int64_t index_ = 0;  // of the next message, from 0
  grpc::ByteBuffer request_bytes_;
  grpc::ByteBuffer result_bytes_;
};

ClassificationServiceImpl::ClassificationServiceImpl(const RulesetSource* rules,
                                                     ResultStore* store,
                                                     Options options)
    : core_(rules, store, std::move(options)) {
  RouteProtobufLogs();
}

grpc::ServerUnaryReactor* ClassificationServiceImpl::Classify(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return UnaryAsync<v1::ClassifyRequest, v1::ClassifyResponse>(
      context, core_, &ClassificationCore::ClassifyAsync, request, response);
}

grpc::ServerUnaryReactor* ClassificationServiceImpl::BatchClassify(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return Unary<v1::BatchClassifyRequest>(
      context, core_, &ClassificationCore::BatchClassify, request, response);
}

grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>*
ClassificationServiceImpl::ClassifyStream(
    grpc::CallbackServerContext* context) {
  return new StreamReactor(&core_, Deadline(context));
}

grpc::ServerUnaryReactor* ClassificationServiceImpl::GetClassification(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return UnaryAsync<v1::GetClassificationRequest,
                    v1::GetClassificationResponse>(
      context, core_, &ClassificationCore::GetClassificationAsync, request,
      response);
}

grpc::ServerUnaryReactor* ClassificationServiceImpl::GetMatrix(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return Unary<v1::GetMatrixRequest>(
      context, core_, &ClassificationCore::GetMatrix, request, response);
}

grpc::ServerUnaryReactor* ClassificationServiceImpl::ListOpportunities(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return Unary<v1::ListOpportunitiesRequest>(
      context, core_, &ClassificationCore::ListOpportunities, request,
      response);
}

grpc::ServerUnaryReactor* ClassificationServiceImpl::ListTransitions(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return Unary<v1::ListTransitionsRequest>(
      context, core_, &ClassificationCore::ListTransitions, request, response);
}

}  // namespace oppmatrix
