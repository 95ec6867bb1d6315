// gRPC glue for oppmatrix.v1.ClassificationService (callback API): reads the
// deadline, calls ClassificationCore, converts the status once. No
// classification or storage logic lives here.
//
//   ClassificationServiceImpl service(&watcher, store.get(), {});
//   builder.RegisterService(&service);
#ifndef OPPMATRIX_SERVICES_CLASSIFIER_CLASSIFICATION_SERVICE_H_
#define OPPMATRIX_SERVICES_CLASSIFIER_CLASSIFICATION_SERVICE_H_

#include "oppmatrix/v1/classification_service.grpc.pb.h"
#include "services/classifier/classification_core.h"
#include "services/classifier/ruleset_watcher.h"
#include "services/store/result_store.h"

namespace oppmatrix {

class ClassificationServiceImpl final
    : public v1::ClassificationService::CallbackService {
 public:
  using Options = ClassificationCore::Options;

  // `rules` and `store` (which may be null) must outlive the service.
  ClassificationServiceImpl(const RulesetSource* rules, ResultStore* store,
                            Options options);

  grpc::ServerUnaryReactor* Classify(grpc::CallbackServerContext* context,
                                     const v1::ClassifyRequest* request,
                                     v1::ClassifyResponse* response) override;
  grpc::ServerUnaryReactor* BatchClassify(
      grpc::CallbackServerContext* context,
      const v1::BatchClassifyRequest* request,
      v1::BatchClassifyResponse* response) override;
  grpc::ServerBidiReactor<v1::ClassifyRequest, v1::ClassifyResult>*
  ClassifyStream(grpc::CallbackServerContext* context) override;
  grpc::ServerUnaryReactor* GetClassification(
      grpc::CallbackServerContext* context,
      const v1::GetClassificationRequest* request,
      v1::GetClassificationResponse* response) override;
  grpc::ServerUnaryReactor* GetMatrix(grpc::CallbackServerContext* context,
                                      const v1::GetMatrixRequest* request,
                                      v1::GetMatrixResponse* response) override;
  grpc::ServerUnaryReactor* ListOpportunities(
      grpc::CallbackServerContext* context,
      const v1::ListOpportunitiesRequest* request,
      v1::ListOpportunitiesResponse* response) override;
  grpc::ServerUnaryReactor* ListTransitions(
      grpc::CallbackServerContext* context,
      const v1::ListTransitionsRequest* request,
      v1::ListTransitionsResponse* response) override;

  ClassificationCore& core() { return core_; }

 private:
  class StreamReactor;

  ClassificationCore core_;
};

}  // namespace oppmatrix

#endif  // OPPMATRIX_SERVICES_CLASSIFIER_CLASSIFICATION_SERVICE_H_
