#include "services/common/grpc_channel.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "services/common/file_util.h"
#include "services/common/grpc_callback_queue.h"
#include "services/common/status_macros.h"

namespace oppmatrix {
namespace {

std::string Seconds(absl::Duration d) {
  return absl::StrFormat("%.3fs", absl::ToDoubleSeconds(d));
}

}  // namespace

std::string ServiceConfigJson(const ClientOptions& options) {
  int attempts = std::clamp(options.max_attempts, 1, 5);
  if (attempts < 2) {
    return R"({"methodConfig":[{"name":[{"service":"oppmatrix.v1.ClassificationService"}],"waitForReady":false}]})";
  }
  return absl::StrCat(
      R"({"methodConfig":[{"name":[{"service":"oppmatrix.v1.ClassificationService"}],)",
      R"("retryPolicy":{"maxAttempts":)", attempts, R"(,"initialBackoff":")",
      Seconds(options.initial_backoff), R"(","maxBackoff":")",
      Seconds(options.max_backoff),
      R"(","backoffMultiplier":2,"retryableStatusCodes":["UNAVAILABLE"]}}]})");
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> TlsCredentials(
    const TlsFiles& files) {
  grpc::SslCredentialsOptions ssl;
  if (files.cert_file.empty() != files.key_file.empty()) {
    return absl::InvalidArgumentError(
        "a client certificate needs both its certificate and its key file");
  }
  auto read = [](const std::string& path, std::string* out) -> absl::Status {
    if (path.empty()) return absl::OkStatus();
    absl::StatusOr<std::string> text = ReadFileToString(path);
    if (!text.ok()) {
      return absl::InvalidArgumentError(text.status().message());
    }
    *out = *std::move(text);
    return absl::OkStatus();
  };
  OPPMATRIX_RETURN_IF_ERROR(read(files.ca_file, &ssl.pem_root_certs));
  OPPMATRIX_RETURN_IF_ERROR(read(files.cert_file, &ssl.pem_cert_chain));
  OPPMATRIX_RETURN_IF_ERROR(read(files.key_file, &ssl.pem_private_key));
  return grpc::SslCredentials(ssl);
}

std::shared_ptr<grpc::Channel> NewChannel(const ClientOptions& options) {
  // Callbacks on this channel (the bench's, a caller's) may drop its last
  // reference; see grpc_callback_queue.h.
  KeepCallbackQueueAlive();
  grpc::ChannelArguments args;
  args.SetServiceConfigJSON(ServiceConfigJson(options));
  args.SetMaxReceiveMessageSize(64 << 20);
  if (!options.tls_server_name.empty()) {
    args.SetSslTargetNameOverride(options.tls_server_name);
  }
  std::shared_ptr<grpc::ChannelCredentials> creds =
      options.credentials ? options.credentials
                          : grpc::InsecureChannelCredentials();
  return grpc::CreateCustomChannel(options.target, creds, args);
}

std::unique_ptr<grpc::ClientContext> NewCallContext(
    const ClientOptions& options, absl::Duration timeout) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  if (!options.token.empty()) {
    context->AddMetadata("authorization",
                         absl::StrCat("Bearer ", options.token));
  }
  return context;
}

}  // namespace oppmatrix
