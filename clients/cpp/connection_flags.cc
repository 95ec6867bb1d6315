#include "clients/cpp/connection_flags.h"

#include "absl/flags/flag.h"
#include "services/common/env_flags.h"
#include "services/common/file_util.h"

ABSL_FLAG(bool, tls, false,
          "Connect over TLS, trusting the system's roots (implied by "
          "--tls_ca_file)");
ABSL_FLAG(std::string, tls_ca_file, "",
          "TLS: roots (PEM) the server's certificate must chain to");
ABSL_FLAG(std::string, tls_cert_file, "",
          "TLS: this client's certificate (PEM), for mutual TLS");
ABSL_FLAG(std::string, tls_key_file, "",
          "TLS: the private key (PEM) of --tls_cert_file");
ABSL_FLAG(std::string, tls_server_name, "",
          "TLS: the name the server's certificate must carry, when not the "
          "target's host");
ABSL_FLAG(std::string, token, "",
          "Bearer token sent with every call (prefer OPPMATRIX_TOKEN or "
          "--token_file: a flag shows in the process list)");
ABSL_FLAG(std::string, token_file, "", "A file holding the bearer token");

namespace oppmatrix {

std::vector<std::string> ConnectionFlagNames() {
  return FlagsDefinedWith("tls");  // this file's, from the flag registry
}

absl::StatusOr<ClientOptions> ConnectionOptionsFromFlags(
    const std::string& target, absl::Duration timeout) {
  ClientOptions options;
  options.target = target;
  options.timeout = timeout;
  options.tls_server_name = absl::GetFlag(FLAGS_tls_server_name);
  if (absl::GetFlag(FLAGS_tls) || !absl::GetFlag(FLAGS_tls_ca_file).empty() ||
      !absl::GetFlag(FLAGS_tls_cert_file).empty()) {
    absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> creds =
        TlsCredentials({.ca_file = absl::GetFlag(FLAGS_tls_ca_file),
                        .cert_file = absl::GetFlag(FLAGS_tls_cert_file),
                        .key_file = absl::GetFlag(FLAGS_tls_key_file)});
    if (!creds.ok()) return creds.status();
    options.credentials = *creds;
  }
  options.token = absl::GetFlag(FLAGS_token);
  if (const std::string path = absl::GetFlag(FLAGS_token_file); !path.empty()) {
    absl::StatusOr<std::string> token = ReadSecretFile("token_file", path);
    if (!token.ok()) return token.status();
    options.token = *std::move(token);
  }
  return options;
}

}  // namespace oppmatrix
