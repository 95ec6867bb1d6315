#include "services/common/server_flags.h"

#include "absl/flags/flag.h"
#include "services/common/file_util.h"

ABSL_FLAG(std::string, tls_cert_file, "",
          "Serve TLS with this certificate chain (PEM); with --tls_key_file");
ABSL_FLAG(std::string, tls_key_file, "",
          "The private key (PEM) of --tls_cert_file");
ABSL_FLAG(std::string, tls_client_ca_file, "",
          "With TLS: require client certificates signed by these roots "
          "(PEM), i.e. mutual TLS");
ABSL_FLAG(std::string, auth_token_file, "",
          "With TLS: a file holding the bearer token every call must carry "
          "(\"authorization: Bearer <token>\"); health checks are exempt");

namespace oppmatrix {

std::vector<std::string> ServerSecurityFlagNames() {
  return {"tls_cert_file", "tls_key_file", "tls_client_ca_file",
          "auth_token_file"};
}

absl::Status ApplyServerSecurityFlags(GrpcServer::Options* options) {
  options->tls_cert_file = absl::GetFlag(FLAGS_tls_cert_file);
  options->tls_key_file = absl::GetFlag(FLAGS_tls_key_file);
  options->tls_client_ca_file = absl::GetFlag(FLAGS_tls_client_ca_file);
  const std::string token_file = absl::GetFlag(FLAGS_auth_token_file);
  if (!token_file.empty()) {
    absl::StatusOr<std::string> token =
        ReadSecretFile("auth_token_file", token_file);
    if (!token.ok()) return token.status();
    options->auth_token = *std::move(token);
  }
  return absl::OkStatus();
}

}  // namespace oppmatrix
