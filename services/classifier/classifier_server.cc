#include "services/classifier/classifier_server.h"

#include <utility>

namespace oppmatrix {

absl::StatusOr<std::unique_ptr<ClassifierServer>> ClassifierServer::Start(
    Options options, const RulesetSource* rules, ResultStore* store,
    TenantRulesets* tenants, RulesetStore* ruleset_store) {
  std::unique_ptr<ClassifierServer> out(new ClassifierServer());
  const bool own_rulesets = tenants != nullptr && ruleset_store != nullptr;
  out->service_ = std::make_unique<ClassificationServiceImpl>(
      own_rulesets ? tenants : rules, store, std::move(options.service));
  out->ruleset_service_ = std::make_unique<RulesetServiceImpl>(
      own_rulesets ? tenants : nullptr, own_rulesets ? ruleset_store : nullptr,
      store, std::move(options.ruleset_service));
  absl::StatusOr<std::unique_ptr<GrpcServer>> server =
      GrpcServer::Start({.listen = options.listen,
                         .limits = options.limits,
                         .tls_cert_file = options.tls_cert_file,
                         .tls_key_file = options.tls_key_file,
                         .tls_client_ca_file = options.tls_client_ca_file,
                         .auth_token = options.auth_token},
                        {out->service_.get(), out->ruleset_service_.get()},
                        {kClassificationServiceName, kRulesetServiceName});
  if (!server.ok()) return server.status();
  out->server_ = *std::move(server);
  return out;
}

void ClassifierServer::Shutdown(absl::Duration grace) {
  server_->Shutdown(grace);
}

void ClassifierServer::Wait() { server_->Wait(); }

}  // namespace oppmatrix
