#include "services/classifier/classifier_server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>

#include "absl/strings/str_cat.h"
#include "services/common/log.h"

namespace oppmatrix {

absl::StatusOr<std::unique_ptr<ClassifierServer>> ClassifierServer::Start(
    Options options, const RulesetSource* rules, ResultStore* store) {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();

  std::unique_ptr<ClassifierServer> out(new ClassifierServer());
  out->service_ = std::make_unique<ClassificationServiceImpl>(
      rules, store, std::move(options.service));
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen, grpc::InsecureServerCredentials(),
                           &out->port_);
  builder.SetMaxReceiveMessageSize(options.max_message_bytes);
  builder.RegisterService(out->service_.get());
  out->server_ = builder.BuildAndStart();
  if (out->server_ == nullptr || out->port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", options.listen));
  }
  grpc::HealthCheckServiceInterface* health =
      out->server_->GetHealthCheckService();
  health->SetServingStatus(kClassificationServiceName, true);
  health->SetServingStatus("", true);
  return out;
}

ClassifierServer::~ClassifierServer() {
  if (!shut_down_) Shutdown(absl::ZeroDuration());
}

void ClassifierServer::Shutdown(absl::Duration grace) {
  if (shut_down_) return;
  shut_down_ = true;
  server_->GetHealthCheckService()->Shutdown();
  server_->Shutdown(absl::ToChronoTime(absl::Now() + grace));
  server_->Wait();
}

void ClassifierServer::Wait() { server_->Wait(); }

}  // namespace oppmatrix
