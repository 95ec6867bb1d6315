// gRPC glue for oppmatrix.v1.RulesetService (callback API, raw methods as
// ClassificationServiceImpl's: an undecodable body is INVALID_ARGUMENT).
// Every method hands its request to RulesetCore and finishes when it
// answers; no logic lives here.
//
//   RulesetServiceImpl service(&tenant_rulesets, &ruleset_store,
//                              result_store.get(), {});
#ifndef OPPMATRIX_SERVICES_CLASSIFIER_RULESET_SERVICE_H_
#define OPPMATRIX_SERVICES_CLASSIFIER_RULESET_SERVICE_H_

#include "oppmatrix/v1/ruleset_service.grpc.pb.h"
#include "services/classifier/ruleset_core.h"

namespace oppmatrix {

using RawRulesetService =
    v1::RulesetService::WithRawCallbackMethod_UploadRuleset<
        v1::RulesetService::WithRawCallbackMethod_PreviewRuleset<
            v1::RulesetService::WithRawCallbackMethod_PublishRuleset<
                v1::RulesetService::WithRawCallbackMethod_RollbackRuleset<
                    v1::RulesetService::WithRawCallbackMethod_ListRulesets<
                        v1::RulesetService::WithRawCallbackMethod_GetRuleset<
                            v1::RulesetService::
                                WithRawCallbackMethod_GetRescoreStatus<
                                    v1::RulesetService::Service>>>>>>>;

class RulesetServiceImpl final : public RawRulesetService {
 public:
  using Options = RulesetCore::Options;

  // As RulesetCore's constructor.
  RulesetServiceImpl(TenantRulesets* rulesets, RulesetStore* store,
                     ResultStore* results, Options options)
      : core_(rulesets, store, results, std::move(options)) {}

  grpc::ServerUnaryReactor* UploadRuleset(grpc::CallbackServerContext* context,
                                          const grpc::ByteBuffer* request,
                                          grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* PreviewRuleset(grpc::CallbackServerContext* context,
                                           const grpc::ByteBuffer* request,
                                           grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* PublishRuleset(grpc::CallbackServerContext* context,
                                           const grpc::ByteBuffer* request,
                                           grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* RollbackRuleset(
      grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
      grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* ListRulesets(grpc::CallbackServerContext* context,
                                         const grpc::ByteBuffer* request,
                                         grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* GetRuleset(grpc::CallbackServerContext* context,
                                       const grpc::ByteBuffer* request,
                                       grpc::ByteBuffer* response) override;

  grpc::ServerUnaryReactor* GetRescoreStatus(
      grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
      grpc::ByteBuffer* response) override;
  RulesetCore& core() { return core_; }

 private:
  RulesetCore core_;
};

}  // namespace oppmatrix

#endif  // OPPMATRIX_SERVICES_CLASSIFIER_RULESET_SERVICE_H_
