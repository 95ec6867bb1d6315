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

// Every method is a raw callback method: it takes the request's bytes and
// parses them itself, so an undecodable body is INVALID_ARGUMENT saying so
// (gRPC's typed methods answer UNIMPLEMENTED, or end a stream as if the
// client had half-closed).
using RawClassificationService = v1::ClassificationService::WithRawCallbackMethod_Classify<
    v1::ClassificationService::WithRawCallbackMethod_BatchClassify<
        v1::ClassificationService::WithRawCallbackMethod_ClassifyStream<
            v1::ClassificationService::WithRawCallbackMethod_GetClassification<
                v1::ClassificationService::WithRawCallbackMethod_GetMatrix<
                    v1::ClassificationService::WithRawCallbackMethod_ListOpportunities<
                        v1::ClassificationService::WithRawCallbackMethod_ListTransitions<
                            v1::ClassificationService::WithRawCallbackMethod_DeleteClassification<
                                v1::ClassificationService::WithRawCallbackMethod_WhatIf<
                                    v1::ClassificationService::WithRawCallbackMethod_GetHistory<
                                        v1::ClassificationService::WithRawCallbackMethod_GetAccount<
                                            v1::ClassificationService::WithRawCallbackMethod_Explain<
                                                v1::ClassificationService::WithRawCallbackMethod_PinOpportunity<
                                                    v1::ClassificationService::
                                                        WithRawCallbackMethod_UnpinOpportunity<
                                                            v1::ClassificationService::
                                                                Service>>>>>>>>>>>>>>;

class ClassificationServiceImpl final : public RawClassificationService {
 public:
  using Options = ClassificationCore::Options;

  // `rules` and `store` (which may be null) must outlive the service.
  ClassificationServiceImpl(const RulesetSource* rules, ResultStore* store,
                            Options options);

  grpc::ServerUnaryReactor* Classify(grpc::CallbackServerContext* context,
                                     const grpc::ByteBuffer* request,
                                     grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* BatchClassify(grpc::CallbackServerContext* context,
                                          const grpc::ByteBuffer* request,
                                          grpc::ByteBuffer* response) override;
  // One ClassifyResult per message; a message that does not decode gets a
  // result whose status is INVALID_ARGUMENT naming its index, and the
  // stream goes on.
  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* ClassifyStream(
      grpc::CallbackServerContext* context) override;
  grpc::ServerUnaryReactor* GetClassification(
      grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
      grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* GetMatrix(grpc::CallbackServerContext* context,
                                      const grpc::ByteBuffer* request,
                                      grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* ListOpportunities(
      grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
      grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* ListTransitions(
      grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
      grpc::ByteBuffer* response) override;

  grpc::ServerUnaryReactor* DeleteClassification(
      grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
      grpc::ByteBuffer* response) override;

  grpc::ServerUnaryReactor* WhatIf(grpc::CallbackServerContext* context,
                                   const grpc::ByteBuffer* request,
                                   grpc::ByteBuffer* response) override;

  grpc::ServerUnaryReactor* GetHistory(grpc::CallbackServerContext* context,
                                       const grpc::ByteBuffer* request,
                                       grpc::ByteBuffer* response) override;

  grpc::ServerUnaryReactor* GetAccount(grpc::CallbackServerContext* context,
                                       const grpc::ByteBuffer* request,
                                       grpc::ByteBuffer* response) override;

  grpc::ServerUnaryReactor* Explain(grpc::CallbackServerContext* context,
                                    const grpc::ByteBuffer* request,
                                    grpc::ByteBuffer* response) override;

  grpc::ServerUnaryReactor* PinOpportunity(grpc::CallbackServerContext* context,
                                           const grpc::ByteBuffer* request,
                                           grpc::ByteBuffer* response) override;

  grpc::ServerUnaryReactor* UnpinOpportunity(
      grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
      grpc::ByteBuffer* response) override;

  ClassificationCore& core() { return core_; }

 private:
  class StreamReactor;

  ClassificationCore core_;
};

}  // namespace oppmatrix

#endif  // OPPMATRIX_SERVICES_CLASSIFIER_CLASSIFICATION_SERVICE_H_
