// Wires the classifier's gRPC server: the classification and ruleset
// services, the standard health service and server reflection, on one listening
// address. Tests start it in-process on "127.0.0.1:0" and read the chosen port.
//
//   OPPMATRIX_ASSIGN_OR_RETURN(auto server, ClassifierServer::Start(
//       {.listen = "0.0.0.0:50051"}, watcher.get()));
//   ...
//   server->Shutdown(absl::Seconds(10));  // drain, then cancel
#ifndef OPPMATRIX_SERVICES_CLASSIFIER_CLASSIFIER_SERVER_H_
#define OPPMATRIX_SERVICES_CLASSIFIER_CLASSIFIER_SERVER_H_

#include <grpcpp/server.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "services/classifier/classification_service.h"
#include "services/classifier/ruleset_service.h"
#include "services/classifier/ruleset_watcher.h"
#include "services/classifier/tenant_rulesets.h"
#include "services/common/grpc_server.h"

namespace oppmatrix {

// The name under which the health service reports the classifier.
inline constexpr char kClassificationServiceName[] =
    "oppmatrix.v1.ClassificationService";
inline constexpr char kRulesetServiceName[] = "oppmatrix.v1.RulesetService";

class ClassifierServer {
 public:
  struct Options {
    // host:port to listen on; port 0 picks a free one.
    std::string listen = "0.0.0.0:50051";
    // Message sizes, streams per connection, memory quota, ping policy and
    // connection age (see GrpcServer::Limits).
    GrpcServer::Limits limits;
    // TLS and bearer-token settings (see GrpcServer::Options).
    std::string tls_cert_file;
    std::string tls_key_file;
    std::string tls_client_ca_file;
    std::string auth_token;
    ClassificationServiceImpl::Options service;
    RulesetServiceImpl::Options ruleset_service;
  };

  // Builds and starts the server. UNAVAILABLE when the address can't be
  // bound. The pointers must outlive the server; all but `rules` may be
  // null. Without `store` results are answered, not stored. With
  // `tenants` (whose default is `rules`) and `ruleset_store`, tenants'
  // own rulesets are served and classified by; without them every tenant
  // is classified by `rules` and RulesetService answers UNAVAILABLE.
  static absl::StatusOr<std::unique_ptr<ClassifierServer>> Start(
      Options options, const RulesetSource* rules, ResultStore* store = nullptr,
      TenantRulesets* tenants = nullptr, RulesetStore* ruleset_store = nullptr);

  ClassificationServiceImpl& service() { return *service_; }
  RulesetServiceImpl& ruleset_service() { return *ruleset_service_; }

  // The bound port.
  int port() const { return server_->port(); }

  // Marks the health status NOT_SERVING, stops accepting calls, lets
  // in-flight calls finish for up to `grace`, then cancels the rest.
  void Shutdown(absl::Duration grace);

  // Blocks until the server has shut down.
  void Wait();

 private:
  ClassifierServer() = default;

  std::unique_ptr<ClassificationServiceImpl> service_;
  std::unique_ptr<RulesetServiceImpl> ruleset_service_;
  std::unique_ptr<GrpcServer> server_;  // destroyed (shut down) first
};

}  // namespace oppmatrix

#endif  // OPPMATRIX_SERVICES_CLASSIFIER_CLASSIFIER_SERVER_H_
