#include "services/common/grpc_server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "services/common/file_util.h"
#include "services/common/grpc_callback_queue.h"
#include "services/common/status_macros.h"

namespace oppmatrix {
namespace {

// Lets a call through only with "authorization: Bearer <token>"; health
// checks pass without one.
// Equality in time that depends on the length only, not on where the
// first difference is.
bool SameBytes(absl::string_view a, absl::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= a[i] ^ b[i];
  return diff == 0;
}

class BearerTokenProcessor : public grpc::AuthMetadataProcessor {
 public:
  explicit BearerTokenProcessor(std::string token)
      : expected_(absl::StrCat("Bearer ", token)) {}

  bool IsBlocking() const override { return false; }

  grpc::Status Process(const InputMetadata& auth_metadata,
                       grpc::AuthContext* /*context*/,
                       OutputMetadata* consumed_auth_metadata,
                       OutputMetadata* /*response_metadata*/) override {
    auto path = auth_metadata.find(":path");
    if (path != auth_metadata.end() &&
        absl::StartsWith(
            absl::string_view(path->second.data(), path->second.size()),
            "/grpc.health.v1.Health/")) {
      return grpc::Status::OK;
    }
    auto it = auth_metadata.find("authorization");
    if (it == auth_metadata.end()) {
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                          "authorization: a bearer token is required");
    }
    const grpc::string_ref& got = it->second;
    if (!SameBytes(absl::string_view(got.data(), got.size()), expected_)) {
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                          "authorization: the bearer token is not valid");
    }
    // Consumed: the handlers never see the token.
    consumed_auth_metadata->insert(std::make_pair(
        std::string("authorization"), std::string(got.data(), got.size())));
    return grpc::Status::OK;
  }

 private:
  const std::string expected_;
};

absl::StatusOr<std::string> ReadPem(const std::string& option,
                                    const std::string& path) {
  absl::StatusOr<std::string> text = ReadFileToString(path);
  if (!text.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(option, ": ", text.status().message()));
  }
  return text;
}

// The listening port's credentials for `options`.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentialsFor(
    const GrpcServer::Options& options) {
  const bool tls =
      !options.tls_cert_file.empty() || !options.tls_key_file.empty();
  if (!tls) {
    if (!options.tls_client_ca_file.empty()) {
      return absl::InvalidArgumentError(
          "tls_client_ca_file: needs tls_cert_file and tls_key_file");
    }
    if (!options.auth_token.empty()) {
      return absl::InvalidArgumentError(
          "auth_token: needs TLS (tls_cert_file and tls_key_file); a bearer "
          "token is not sent over plaintext");
    }
    return grpc::InsecureServerCredentials();
  }
  if (options.tls_cert_file.empty() || options.tls_key_file.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        options.tls_cert_file.empty() ? "tls_cert_file" : "tls_key_file",
        ": TLS needs both the certificate and the key"));
  }
  grpc::SslServerCredentialsOptions ssl;
  grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
  OPPMATRIX_ASSIGN_OR_RETURN(pair.cert_chain,
                             ReadPem("tls_cert_file", options.tls_cert_file));
  OPPMATRIX_ASSIGN_OR_RETURN(pair.private_key,
                             ReadPem("tls_key_file", options.tls_key_file));
  ssl.pem_key_cert_pairs.push_back(std::move(pair));
  if (!options.tls_client_ca_file.empty()) {
    OPPMATRIX_ASSIGN_OR_RETURN(
        ssl.pem_root_certs,
        ReadPem("tls_client_ca_file", options.tls_client_ca_file));
    ssl.client_certificate_request =
        GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  std::shared_ptr<grpc::ServerCredentials> creds =
      grpc::SslServerCredentials(ssl);
  if (!options.auth_token.empty()) {
    creds->SetAuthMetadataProcessor(
        std::make_shared<BearerTokenProcessor>(options.auth_token));
  }
  return creds;
}

}  // namespace

absl::StatusOr<std::unique_ptr<GrpcServer>> GrpcServer::Start(
    const Options& options, const std::vector<grpc::Service*>& services,
    const std::vector<std::string>& health_names) {
  // Before the server's reference: its reactors may outlive the last
  // channel of the process.
  KeepCallbackQueueAlive();
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> creds =
      ServerCredentialsFor(options);
  if (!creds.ok()) return creds.status();
  std::unique_ptr<GrpcServer> out(new GrpcServer());
  out->tls_ = !options.tls_cert_file.empty();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen, *creds, &out->port_);
  builder.SetMaxReceiveMessageSize(options.max_message_bytes);
  for (grpc::Service* s : services) builder.RegisterService(s);
  out->server_ = builder.BuildAndStart();
  if (out->server_ == nullptr || out->port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", options.listen));
  }
  grpc::HealthCheckServiceInterface* health =
      out->server_->GetHealthCheckService();
  for (const std::string& name : health_names) {
    health->SetServingStatus(name, true);
  }
  health->SetServingStatus("", true);
  return out;
}

GrpcServer::~GrpcServer() {
  if (!shut_down_) Shutdown(absl::ZeroDuration());
}

void GrpcServer::Shutdown(absl::Duration grace) {
  if (shut_down_) return;
  shut_down_ = true;
  server_->GetHealthCheckService()->Shutdown();
  server_->Shutdown(absl::ToChronoTime(absl::Now() + grace));
  server_->Wait();
}

void GrpcServer::Wait() { server_->Wait(); }

}  // namespace oppmatrix
