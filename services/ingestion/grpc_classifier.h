// The ingestion pipeline's Classifier over the classifier's gRPC API
// (oppmatrix.v1.ClassificationService), on a channel from NewChannel():
// its retry policy retries UNAVAILABLE, each call has the options'
// deadline and token.
//
//   auto classifier = oppmatrix::GrpcClassifier::Create(options);
#ifndef OPPMATRIX_SERVICES_INGESTION_GRPC_CLASSIFIER_H_
#define OPPMATRIX_SERVICES_INGESTION_GRPC_CLASSIFIER_H_

#include <grpcpp/channel.h>

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "oppmatrix/v1/classification_service.grpc.pb.h"
#include "services/common/grpc_channel.h"
#include "services/ingestion/classifier.h"

namespace oppmatrix {

class GrpcClassifier final : public Classifier {
 public:
  // A channel to options.target.
  static absl::StatusOr<std::unique_ptr<GrpcClassifier>> Create(
      const ClientOptions& options);

  // On an existing channel (tests, in-process servers).
  GrpcClassifier(std::shared_ptr<grpc::Channel> channel,
                 const ClientOptions& options);

  absl::StatusOr<std::vector<v1::ClassifyResult>> BatchClassify(
      const std::vector<v1::Opportunity>& opportunities) override;
  absl::StatusOr<std::vector<v1::DeleteResult>> Delete(
      const std::vector<v1::OpportunityDeletion>& deletions) override;

 private:
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::ClassificationService::Stub> stub_;
  const ClientOptions options_;
};

}  // namespace oppmatrix

#endif  // OPPMATRIX_SERVICES_INGESTION_GRPC_CLASSIFIER_H_
