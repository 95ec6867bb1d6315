#include "services/classifier/classification_service.h"

#include <utility>

#include "services/classifier/classification_core.h"
#include "services/common/grpc_status.h"

namespace oppmatrix {

// Reads a request, writes its result, reads the next: one result per
// request, in order. Ends when the client half-closes or the call is
// cancelled (e.g. by a server shutdown past its grace period).
class ClassificationServiceImpl::StreamReactor final
    : public grpc::ServerBidiReactor<v1::ClassifyRequest, v1::ClassifyResult> {
 public:
  explicit StreamReactor(const ClassificationServiceImpl* service)
      : service_(service) {
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status::OK);
      return;
    }
    result_ = ClassifyStreamItem(request_, *service_->rules_->Current(),
                                 service_->options_.clock());
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
  const ClassificationServiceImpl* service_;
  v1::ClassifyRequest request_;
  v1::ClassifyResult result_;
};

ClassificationServiceImpl::ClassificationServiceImpl(const RulesetSource* rules,
                                                     Options options)
    : rules_(rules), options_(std::move(options)) {}

grpc::ServerUnaryReactor* ClassificationServiceImpl::Classify(
    grpc::CallbackServerContext* context, const v1::ClassifyRequest* request,
    v1::ClassifyResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<v1::ClassifyResponse> result =
      ClassifyOne(*request, *rules_->Current(), options_.clock());
  if (result.ok()) *response = *std::move(result);
  reactor->Finish(ToGrpcStatus(result.status()));
  return reactor;
}

grpc::ServerUnaryReactor* ClassificationServiceImpl::BatchClassify(
    grpc::CallbackServerContext* context,
    const v1::BatchClassifyRequest* request,
    v1::BatchClassifyResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<v1::BatchClassifyResponse> result = ClassifyBatch(
      *request, *rules_->Current(), options_.clock(), options_.max_batch_size);
  if (result.ok()) *response = *std::move(result);
  reactor->Finish(ToGrpcStatus(result.status()));
  return reactor;
}

grpc::ServerBidiReactor<v1::ClassifyRequest, v1::ClassifyResult>*
ClassificationServiceImpl::ClassifyStream(grpc::CallbackServerContext*) {
  return new StreamReactor(this);
}

}  // namespace oppmatrix
