// C++ client of oppmatrix.v1.ClassificationService. Every call has a
// deadline; UNAVAILABLE is retried by gRPC itself with exponential backoff,
// through the channel's service config (see ServiceConfigJson()).
//
//   oppmatrix::ClientOptions options;
//   options.target = "127.0.0.1:50051";
//   auto client = oppmatrix::ClassificationClient::Create(options);
//   absl::StatusOr<oppmatrix::v1::Classification> c =
//       (*client)->Classify(opportunity);
//   if (!c.ok()) {
//     for (const auto& v : oppmatrix::GetFieldViolations(c.status()))
//       std::cerr << v.field() << ": " << v.description() << "\n";
//   }
#ifndef OPPMATRIX_CLIENTS_CPP_CLASSIFICATION_CLIENT_H_
#define OPPMATRIX_CLIENTS_CPP_CLASSIFICATION_CLIENT_H_

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "oppmatrix/v1/classification_service.grpc.pb.h"
#include "services/common/grpc_channel.h"
#include "services/common/status_util.h"

namespace oppmatrix {

// A ClassifyStream call: write requests, read one result per request in
// order, then Finish(). Not thread-safe; one writer and one reader thread
// may use it concurrently.
class ClassifyStreamCall {
 public:
  ClassifyStreamCall(std::unique_ptr<grpc::ClientContext> context,
                     v1::ClassificationService::Stub* stub);
  // False when the stream is broken; Finish() then tells why.
  bool Write(const v1::ClassifyRequest& request);
  // False at the end of the stream.
  bool Read(v1::ClassifyResult* result);
  // Half-closes, drains nothing, and returns the call's final status.
  absl::Status Finish();

 private:
  std::unique_ptr<grpc::ClientContext> context_;
  std::unique_ptr<
      grpc::ClientReaderWriter<v1::ClassifyRequest, v1::ClassifyResult>>
      stream_;
  bool writes_done_ = false;
};

class ClassificationClient {
 public:
  // Creates a channel to options.target.
  static absl::StatusOr<std::unique_ptr<ClassificationClient>> Create(
      const ClientOptions& options);

  // Uses an existing channel (tests, in-process servers).
  ClassificationClient(std::shared_ptr<grpc::Channel> channel,
                       const ClientOptions& options);

  // Classifies one opportunity. Field violations of an INVALID_ARGUMENT are
  // readable with GetFieldViolations(status).
  absl::StatusOr<v1::Classification> Classify(
      const v1::Opportunity& opportunity, bool with_reasons = true);

  // Classify with the whole response: whether the result was stored and
  // whether it was served from the cache.
  absl::StatusOr<v1::ClassifyResponse> Classify(
      const v1::ClassifyRequest& request);

  // Classifies a batch (at most the server's --max_batch_size); one result
  // per opportunity, in order, each with its own status.
  absl::StatusOr<std::vector<v1::ClassifyResult>> BatchClassify(
      const std::vector<v1::Opportunity>& opportunities,
      bool with_reasons = true);

  // The stored classification; NOT_FOUND when there is none, UNAVAILABLE
  // while the server's Redis is unreachable.
  absl::StatusOr<v1::Classification> GetClassification(
      const std::string& tenant_id, const std::string& opportunity_id);

  // A tenant's matrix: per cell count, total amount and top opportunities.
  absl::StatusOr<v1::GetMatrixResponse> GetMatrix(
      const v1::GetMatrixRequest& request);

  // One page of a cell, highest priority first.
  absl::StatusOr<v1::ListOpportunitiesResponse> ListOpportunities(
      const v1::ListOpportunitiesRequest& request);

  // One page of a tenant's cell moves, newest first.
  absl::StatusOr<v1::ListTransitionsResponse> ListTransitions(
      const v1::ListTransitionsRequest& request);

  // Removes stored classifications (opportunities deleted in the CRM);
  // one result per deletion, in order.
  absl::StatusOr<v1::DeleteClassificationResponse> DeleteClassification(
      const v1::DeleteClassificationRequest& request);

  // One opportunity's stored result with its history and trend.
  absl::StatusOr<v1::GetHistoryResponse> GetHistory(
      const std::string& tenant_id, const std::string& opportunity_id);

  // Why the classification changed between two states of its history
  // (entries as in GetHistory; from_entry 0: the one before to_entry).
  absl::StatusOr<v1::ExplainResponse> Explain(
      const v1::ExplainRequest& request);
  absl::StatusOr<v1::PinOpportunityResponse> PinOpportunity(
      const v1::PinOpportunityRequest& request);
  absl::StatusOr<v1::UnpinOpportunityResponse> UnpinOpportunity(
      const v1::UnpinOpportunityRequest& request);

  // An account's position on the matrix, from its open opportunities.
  absl::StatusOr<v1::GetAccountResponse> GetAccount(
      const std::string& tenant_id, const std::string& account_id);

  // What would move an opportunity into `request.target_cell()`: the
  // smallest changes of the levers, each with its classification.
  absl::StatusOr<v1::WhatIfResponse> WhatIf(const v1::WhatIfRequest& request);

  // Opens a ClassifyStream whose deadline is `timeout` from now.
  std::unique_ptr<ClassifyStreamCall> OpenStream(absl::Duration timeout);

  const std::shared_ptr<grpc::Channel>& channel() const { return channel_; }

  // A context for a call of any service on channel(): the deadline
  // `timeout` from now and the options' token. Calls of other stubs on the
  // same channel (health, IngestionService) use it too.
  std::unique_ptr<grpc::ClientContext> NewContext(absl::Duration timeout) const;

 private:
  // Runs one unary method of the stub with the client's deadline.
  template <typename Request, typename Response, typename Method>
  absl::StatusOr<Response> Call(Method method, const Request& request);

  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::ClassificationService::Stub> stub_;
  ClientOptions options_;
};

}  // namespace oppmatrix

#endif  // OPPMATRIX_CLIENTS_CPP_CLASSIFICATION_CLIENT_H_
