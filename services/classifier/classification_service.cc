#include "services/classifier/classification_service.h"

#include <utility>

#include "absl/time/time.h"
#include "services/common/grpc_status.h"

namespace oppmatrix {
namespace {

// The call's deadline (InfiniteFuture when the client set none).
absl::Time Deadline(const grpc::CallbackServerContext* context) {
  return absl::FromChrono(context->deadline());
}

// Runs `method` of the core and finishes the call with its status.
template <typename Request, typename Response, typename Method>
grpc::ServerUnaryReactor* Unary(grpc::CallbackServerContext* context,
                                ClassificationCore& core, Method method,
                                const Request* request, Response* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<Response> result = (core.*method)(*request, Deadline(context));
  if (result.ok()) *response = *std::move(result);
  reactor->Finish(ToGrpcStatus(result.status()));
  return reactor;
}

}  // namespace

// Reads a request, writes its result, reads the next: one result per
// request, in order. Ends when the client half-closes or the call is
// cancelled (e.g. by a server shutdown past its grace period).
class ClassificationServiceImpl::StreamReactor final
    : public grpc::ServerBidiReactor<v1::ClassifyRequest, v1::ClassifyResult> {
 public:
  StreamReactor(ClassificationCore* core, absl::Time deadline)
      : core_(core), deadline_(deadline) {
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status::OK);
      return;
    }
    result_ = core_->ClassifyStreamItem(request_, deadline_);
    StartWrite(&result_);
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                          "stream closed while writing"));
      return;
    }
    StartRead(&request_);
  }

  void OnDone() override { delete this; }

 private:
  ClassificationCore* core_;
  const absl::Time deadline_;
  v1::ClassifyRequest request_;
  v1::ClassifyResult result_;
};

ClassificationServiceImpl::ClassificationServiceImpl(const RulesetSource* rules,
                                                     ResultStore* store,
                                                     Options options)
    : core_(rules, store, std::move(options)) {}

grpc::ServerUnaryReactor* ClassificationServiceImpl::Classify(
    grpc::CallbackServerContext* context, const v1::ClassifyRequest* request,
    v1::ClassifyResponse* response) {
  return Unary(context, core_, &ClassificationCore::Classify, request,
               response);
}

grpc::ServerUnaryReactor* ClassificationServiceImpl::BatchClassify(
    grpc::CallbackServerContext* context,
    const v1::BatchClassifyRequest* request,
    v1::BatchClassifyResponse* response) {
  return Unary(context, core_, &ClassificationCore::BatchClassify, request,
               response);
}

grpc::ServerBidiReactor<v1::ClassifyRequest, v1::ClassifyResult>*
ClassificationServiceImpl::ClassifyStream(
    grpc::CallbackServerContext* context) {
  return new StreamReactor(&core_, Deadline(context));
}

grpc::ServerUnaryReactor* ClassificationServiceImpl::GetClassification(
    grpc::CallbackServerContext* context,
    const v1::GetClassificationRequest* request,
    v1::GetClassificationResponse* response) {
  return Unary(context, core_, &ClassificationCore::GetClassification, request,
               response);
}

grpc::ServerUnaryReactor* ClassificationServiceImpl::GetMatrix(
    grpc::CallbackServerContext* context, const v1::GetMatrixRequest* request,
    v1::GetMatrixResponse* response) {
  return Unary(context, core_, &ClassificationCore::GetMatrix, request,
               response);
}

grpc::ServerUnaryReactor* ClassificationServiceImpl::ListOpportunities(
    grpc::CallbackServerContext* context,
    const v1::ListOpportunitiesRequest* request,
    v1::ListOpportunitiesResponse* response) {
  return Unary(context, core_, &ClassificationCore::ListOpportunities, request,
               response);
}

grpc::ServerUnaryReactor* ClassificationServiceImpl::ListTransitions(
    grpc::CallbackServerContext* context,
    const v1::ListTransitionsRequest* request,
    v1::ListTransitionsResponse* response) {
  return Unary(context, core_, &ClassificationCore::ListTransitions, request,
               response);
}

}  // namespace oppmatrix
