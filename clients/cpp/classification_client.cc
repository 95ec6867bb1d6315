#include "clients/cpp/classification_client.h"

#include <utility>

#include "services/common/grpc_callback_queue.h"
#include "services/common/grpc_status.h"

namespace oppmatrix {

ClassifyStreamCall::ClassifyStreamCall(
    std::unique_ptr<grpc::ClientContext> context,
    v1::ClassificationService::Stub* stub)
    : context_(std::move(context)),
      stream_(stub->ClassifyStream(context_.get())) {}

bool ClassifyStreamCall::Write(const v1::ClassifyRequest& request) {
  return stream_->Write(request);
}

bool ClassifyStreamCall::Read(v1::ClassifyResult* result) {
  return stream_->Read(result);
}

absl::Status ClassifyStreamCall::Finish() {
  if (!writes_done_) {
    writes_done_ = true;
    stream_->WritesDone();
  }
  v1::ClassifyResult ignored;
  while (stream_->Read(&ignored)) {
  }
  return FromGrpcStatus(stream_->Finish());
}

absl::StatusOr<std::unique_ptr<ClassificationClient>>
ClassificationClient::Create(const ClientOptions& options) {
  if (options.target.empty()) {
    return absl::InvalidArgumentError("target: is required");
  }
  return std::make_unique<ClassificationClient>(NewChannel(options), options);
}

ClassificationClient::ClassificationClient(
    std::shared_ptr<grpc::Channel> channel, const ClientOptions& options)
    : channel_(std::move(channel)),
      stub_(v1::ClassificationService::NewStub(channel_)),
      options_(options) {
  KeepCallbackQueueAlive();  // for a channel not made by NewChannel
}

std::unique_ptr<grpc::ClientContext> ClassificationClient::NewContext(
    absl::Duration timeout) const {
  return NewCallContext(options_, timeout);
}

absl::StatusOr<v1::Classification> ClassificationClient::Classify(
    const v1::Opportunity& opportunity, bool with_reasons) {
  v1::ClassifyRequest request;
  *request.mutable_opportunity() = opportunity;
  request.set_omit_reasons(!with_reasons);
  v1::ClassifyResponse response;
  auto context = NewContext(options_.timeout);
  grpc::Status status = stub_->Classify(context.get(), request, &response);
  if (!status.ok()) return FromGrpcStatus(status);
  return std::move(*response.mutable_classification());
}

absl::StatusOr<std::vector<v1::ClassifyResult>>
ClassificationClient::BatchClassify(
    const std::vector<v1::Opportunity>& opportunities, bool with_reasons) {
  v1::BatchClassifyRequest request;
  request.mutable_opportunities()->Reserve(opportunities.size());
  for (const v1::Opportunity& o : opportunities) {
    *request.add_opportunities() = o;
  }
  request.set_omit_reasons(!with_reasons);
  v1::BatchClassifyResponse response;
  auto context = NewContext(options_.timeout);
  grpc::Status status = stub_->BatchClassify(context.get(), request, &response);
  if (!status.ok()) return FromGrpcStatus(status);
  return std::vector<v1::ClassifyResult>(
      std::make_move_iterator(response.mutable_results()->begin()),
      std::make_move_iterator(response.mutable_results()->end()));
}

template <typename Request, typename Response, typename Method>
absl::StatusOr<Response> ClassificationClient::Call(Method method,
                                                    const Request& request) {
  Response response;
  auto context = NewContext(options_.timeout);
  grpc::Status status =
      (stub_.get()->*method)(context.get(), request, &response);
  if (!status.ok()) return FromGrpcStatus(status);
  return response;
}

absl::StatusOr<v1::ClassifyResponse> ClassificationClient::Classify(
    const v1::ClassifyRequest& request) {
  return Call<v1::ClassifyRequest, v1::ClassifyResponse>(
      &v1::ClassificationService::Stub::Classify, request);
}

absl::StatusOr<v1::Classification> ClassificationClient::GetClassification(
    const std::string& tenant_id, const std::string& opportunity_id) {
  v1::GetClassificationRequest request;
  request.set_tenant_id(tenant_id);
  request.set_opportunity_id(opportunity_id);
  absl::StatusOr<v1::GetClassificationResponse> response =
      Call<v1::GetClassificationRequest, v1::GetClassificationResponse>(
          &v1::ClassificationService::Stub::GetClassification, request);
  if (!response.ok()) return response.status();
  return std::move(*response->mutable_classification());
}

absl::StatusOr<v1::GetMatrixResponse> ClassificationClient::GetMatrix(
    const v1::GetMatrixRequest& request) {
  return Call<v1::GetMatrixRequest, v1::GetMatrixResponse>(
      &v1::ClassificationService::Stub::GetMatrix, request);
}

absl::StatusOr<v1::ListOpportunitiesResponse>
ClassificationClient::ListOpportunities(
    const v1::ListOpportunitiesRequest& request) {
  return Call<v1::ListOpportunitiesRequest, v1::ListOpportunitiesResponse>(
      &v1::ClassificationService::Stub::ListOpportunities, request);
}

absl::StatusOr<v1::ListTransitionsResponse>
ClassificationClient::ListTransitions(
    const v1::ListTransitionsRequest& request) {
  return Call<v1::ListTransitionsRequest, v1::ListTransitionsResponse>(
      &v1::ClassificationService::Stub::ListTransitions, request);
}

absl::StatusOr<v1::DeleteClassificationResponse>
ClassificationClient::DeleteClassification(
    const v1::DeleteClassificationRequest& request) {
  return Call<v1::DeleteClassificationRequest,
              v1::DeleteClassificationResponse>(
      &v1::ClassificationService::Stub::DeleteClassification, request);
}

absl::StatusOr<v1::GetHistoryResponse> ClassificationClient::GetHistory(
    const std::string& tenant_id, const std::string& opportunity_id) {
  v1::GetHistoryRequest request;
  request.set_tenant_id(tenant_id);
  request.set_opportunity_id(opportunity_id);
  return Call<v1::GetHistoryRequest, v1::GetHistoryResponse>(
      &v1::ClassificationService::Stub::GetHistory, request);
}

absl::StatusOr<v1::PinOpportunityResponse> ClassificationClient::PinOpportunity(
    const v1::PinOpportunityRequest& request) {
  return Call<v1::PinOpportunityRequest, v1::PinOpportunityResponse>(
      &v1::ClassificationService::Stub::PinOpportunity, request);
}

absl::StatusOr<v1::UnpinOpportunityResponse>
ClassificationClient::UnpinOpportunity(
    const v1::UnpinOpportunityRequest& request) {
  return Call<v1::UnpinOpportunityRequest, v1::UnpinOpportunityResponse>(
      &v1::ClassificationService::Stub::UnpinOpportunity, request);
}

absl::StatusOr<v1::ExplainResponse> ClassificationClient::Explain(
    const v1::ExplainRequest& request) {
  return Call<v1::ExplainRequest, v1::ExplainResponse>(
      &v1::ClassificationService::Stub::Explain, request);
}

absl::StatusOr<v1::GetAccountResponse> ClassificationClient::GetAccount(
    const std::string& tenant_id, const std::string& account_id) {
  v1::GetAccountRequest request;
  request.set_tenant_id(tenant_id);
  request.set_account_id(account_id);
  return Call<v1::GetAccountRequest, v1::GetAccountResponse>(
      &v1::ClassificationService::Stub::GetAccount, request);
}

absl::StatusOr<v1::WhatIfResponse> ClassificationClient::WhatIf(
    const v1::WhatIfRequest& request) {
  return Call<v1::WhatIfRequest, v1::WhatIfResponse>(
      &v1::ClassificationService::Stub::WhatIf, request);
}

std::unique_ptr<ClassifyStreamCall> ClassificationClient::OpenStream(
    absl::Duration timeout) {
  return std::make_unique<ClassifyStreamCall>(NewContext(timeout), stub_.get());
}

}  // namespace oppmatrix
