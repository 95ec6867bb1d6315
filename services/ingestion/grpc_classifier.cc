#include "services/ingestion/grpc_classifier.h"

#include <iterator>
#include <utility>

#include "absl/strings/str_cat.h"
#include "services/common/grpc_callback_queue.h"
#include "services/common/grpc_status.h"

namespace oppmatrix {

absl::StatusOr<std::unique_ptr<GrpcClassifier>> GrpcClassifier::Create(
    const ClientOptions& options) {
  if (options.target.empty()) {
    return absl::InvalidArgumentError("target: is required");
  }
  return std::make_unique<GrpcClassifier>(NewChannel(options), options);
}

GrpcClassifier::GrpcClassifier(std::shared_ptr<grpc::Channel> channel,
                               const ClientOptions& options)
    : channel_(std::move(channel)),
      stub_(v1::ClassificationService::NewStub(channel_)),
      options_(options) {
  KeepCallbackQueueAlive();  // for a channel not made by NewChannel
}

absl::StatusOr<std::vector<v1::ClassifyResult>> GrpcClassifier::BatchClassify(
    const std::vector<v1::Opportunity>& opportunities) {
  v1::BatchClassifyRequest request;
  request.mutable_opportunities()->Reserve(opportunities.size());
  for (const v1::Opportunity& o : opportunities) {
    *request.add_opportunities() = o;
  }
  v1::BatchClassifyResponse response;
  auto context = NewCallContext(options_, options_.timeout);
  grpc::Status status = stub_->BatchClassify(context.get(), request, &response);
  if (!status.ok()) return FromGrpcStatus(status);
  if (response.results_size() != request.opportunities_size()) {
    return absl::InternalError(absl::StrCat(
        "the classifier answered ", response.results_size(), " results for ",
        request.opportunities_size(), " opportunities"));
  }
  return std::vector<v1::ClassifyResult>(
      std::make_move_iterator(response.mutable_results()->begin()),
      std::make_move_iterator(response.mutable_results()->end()));
}

absl::StatusOr<std::vector<v1::DeleteResult>> GrpcClassifier::Delete(
    const std::vector<v1::OpportunityDeletion>& deletions) {
  v1::DeleteClassificationRequest request;
  request.mutable_deletions()->Add(deletions.begin(), deletions.end());
  v1::DeleteClassificationResponse response;
  auto context = NewCallContext(options_, options_.timeout);
  grpc::Status status =
      stub_->DeleteClassification(context.get(), request, &response);
  if (!status.ok()) return FromGrpcStatus(status);
  if (response.results_size() != request.deletions_size()) {
    return absl::InternalError(
        absl::StrCat("the classifier answered ", response.results_size(),
                     " results for ", request.deletions_size(), " deletions"));
  }
  return std::vector<v1::DeleteResult>(
      std::make_move_iterator(response.mutable_results()->begin()),
      std::make_move_iterator(response.mutable_results()->end()));
}

}  // namespace oppmatrix
