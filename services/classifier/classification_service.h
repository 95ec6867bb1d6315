// gRPC glue for oppmatrix.v1.ClassificationService (callback API): reads the
// request, takes the ruleset in force, calls the engine, converts the status
// once. No classification logic lives here.
//
//   ClassificationServiceImpl service(&watcher, {.max_batch_size = 1000});
//   builder.RegisterService(&service);
#ifndef OPPMATRIX_SERVICES_CLASSIFIER_CLASSIFICATION_SERVICE_H_
#define OPPMATRIX_SERVICES_CLASSIFIER_CLASSIFICATION_SERVICE_H_

#include <functional>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "oppmatrix/v1/classification_service.grpc.pb.h"
#include "services/classifier/ruleset_watcher.h"

namespace oppmatrix {

class ClassificationServiceImpl final
    : public v1::ClassificationService::CallbackService {
 public:
  struct Options {
    // Largest BatchClassify request, in opportunities.
    int max_batch_size = 1000;
    // The clock classification reads; tests inject a fixed one.
    std::function<absl::Time()> clock = [] { return absl::Now(); };
  };

  // `rules` must outlive the service.
  ClassificationServiceImpl(const RulesetSource* rules, Options options);

  grpc::ServerUnaryReactor* Classify(grpc::CallbackServerContext* context,
                                     const v1::ClassifyRequest* request,
                                     v1::ClassifyResponse* response) override;

  grpc::ServerUnaryReactor* BatchClassify(
      grpc::CallbackServerContext* context,
      const v1::BatchClassifyRequest* request,
      v1::BatchClassifyResponse* response) override;

  grpc::ServerBidiReactor<v1::ClassifyRequest, v1::ClassifyResult>*
  ClassifyStream(grpc::CallbackServerContext* context) override;

 private:
  class StreamReactor;

  const RulesetSource* rules_;
  const Options options_;
};

}  // namespace oppmatrix

#endif  // OPPMATRIX_SERVICES_CLASSIFIER_CLASSIFICATION_SERVICE_H_
