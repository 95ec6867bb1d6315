// What the ingestion pipeline needs of the classifier, as an interface of
// its own: the pipeline knows neither gRPC nor the C++ client library.
// GrpcClassifier (grpc_classifier.h) is the adapter the service runs with;
// tests may put a fake in its place.
//
//   absl::StatusOr<std::vector<v1::ClassifyResult>> r =
//       classifier->BatchClassify(opportunities);
#ifndef OPPMATRIX_SERVICES_INGESTION_CLASSIFIER_H_
#define OPPMATRIX_SERVICES_INGESTION_CLASSIFIER_H_

#include <vector>

#include "absl/status/statusor.h"
#include "oppmatrix/v1/classification_service.pb.h"

namespace oppmatrix {

class Classifier {
 public:
  virtual ~Classifier() = default;

  // Classifies and stores the opportunities: one result per opportunity,
  // in order, each with its own status. A status for the call as a whole
  // when it failed (the classifier unreachable, the batch refused).
  virtual absl::StatusOr<std::vector<v1::ClassifyResult>> BatchClassify(
      const std::vector<v1::Opportunity>& opportunities) = 0;

  // Removes the stored classifications of deleted opportunities (each
  // move out of a cell is recorded as a transition to no cell): one
  // result per deletion, in order.
  virtual absl::StatusOr<std::vector<v1::DeleteResult>> Delete(
      const std::vector<v1::OpportunityDeletion>& deletions) = 0;
};

}  // namespace oppmatrix

#endif  // OPPMATRIX_SERVICES_INGESTION_CLASSIFIER_H_
