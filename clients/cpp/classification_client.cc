#include "clients/cpp/classification_client.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "services/common/file_util.h"
#include "services/common/grpc_callback_queue.h"
#include "services/common/grpc_status.h"
#include "services/common/status_macros.h"

namespace oppmatrix {
namespace {

std::string Seconds(absl::Duration d) {
  return absl::StrFormat("%.3fs", absl::ToDoubleSeconds(d));
}

}  // namespace

std::string ServiceConfigJson(const ClientOptions& options) {
  int attempts = std::clamp(options.max_attempts, 1, 5);
  if (attempts < 2) {
    return R"({"methodConfig":[{"name":[{"service":"oppmatrix.v1.ClassificationService"}],"waitForReady":false}]})";
  }
  return absl::StrCat(
      R"({"methodConfig":[{"name":[{"service":"oppmatrix.v1.ClassificationService"}],)",
      R"("retryPolicy":{"maxAttempts":)", attempts, R"(,"initialBackoff":")",
      Seconds(options.initial_backoff), R"(","maxBackoff":")",
      Seconds(options.max_backoff),
      R"(","backoffMultiplier":2,"retryableStatusCodes":["UNAVAILABLE"]}}]})");
}

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

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> TlsCredentials(
    const TlsFiles& files) {
  grpc::SslCredentialsOptions ssl;
  if (files.cert_file.empty() != files.key_file.empty()) {
    return absl::InvalidArgumentError(
        "a client certificate needs both its certificate and its key file");
  }
  auto read = [](const std::string& path, std::string* out) -> absl::Status {
    if (path.empty()) return absl::OkStatus();
    absl::StatusOr<std::string> text = ReadFileToString(path);
    if (!text.ok()) {
      return absl::InvalidArgumentError(text.status().message());
    }
    *out = *std::move(text);
    return absl::OkStatus();
  };
  OPPMATRIX_RETURN_IF_ERROR(read(files.ca_file, &ssl.pem_root_certs));
  OPPMATRIX_RETURN_IF_ERROR(read(files.cert_file, &ssl.pem_cert_chain));
  OPPMATRIX_RETURN_IF_ERROR(read(files.key_file, &ssl.pem_private_key));
  return grpc::SslCredentials(ssl);
}

std::shared_ptr<grpc::Channel> NewChannel(const ClientOptions& options) {
  // Callbacks on this channel (the bench's, a caller's) may drop its last
  // reference; see grpc_callback_queue.h.
  KeepCallbackQueueAlive();
  grpc::ChannelArguments args;
  args.SetServiceConfigJSON(ServiceConfigJson(options));
  args.SetMaxReceiveMessageSize(64 << 20);
  if (!options.tls_server_name.empty()) {
    args.SetSslTargetNameOverride(options.tls_server_name);
  }
  std::shared_ptr<grpc::ChannelCredentials> creds =
      options.credentials ? options.credentials
                          : grpc::InsecureChannelCredentials();
  return grpc::CreateCustomChannel(options.target, creds, args);
}

std::unique_ptr<grpc::ClientContext> NewCallContext(
    const ClientOptions& options, absl::Duration timeout) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  if (!options.token.empty()) {
    context->AddMetadata("authorization",
                         absl::StrCat("Bearer ", options.token));
  }
  return context;
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

std::unique_ptr<ClassifyStreamCall> ClassificationClient::OpenStream(
    absl::Duration timeout) {
  return std::make_unique<ClassifyStreamCall>(NewContext(timeout), stub_.get());
}

}  // namespace oppmatrix
