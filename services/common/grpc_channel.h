// A gRPC channel to an oppmatrix server, as every client of one makes it
// (the tools, the ingestion service's classifier calls): the retry policy
// in the service config, TLS (mutual when a client certificate is given),
// the TLS server name and a bearer token per call.
//
//   oppmatrix::ClientOptions options;
//   options.target = "classifier:50051";
//   std::shared_ptr<grpc::Channel> channel = oppmatrix::NewChannel(options);
//   auto context = oppmatrix::NewCallContext(options, options.timeout);
#ifndef OPPMATRIX_SERVICES_COMMON_GRPC_CHANNEL_H_
#define OPPMATRIX_SERVICES_COMMON_GRPC_CHANNEL_H_

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>
#include <grpcpp/security/credentials.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace oppmatrix {

struct ClientOptions {
  // The server, as a gRPC target: "host:port", "dns:///name:port", ...
  std::string target = "127.0.0.1:50051";
  // Deadline of each call, retries included.
  absl::Duration timeout = absl::Seconds(5);
  // Attempts per call on UNAVAILABLE (1 disables retries; gRPC caps at 5).
  int max_attempts = 4;
  absl::Duration initial_backoff = absl::Milliseconds(100);
  absl::Duration max_backoff = absl::Seconds(2);
  // Channel credentials; null means insecure (plaintext). See
  // TlsCredentials().
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  // The name the server's TLS certificate must carry, when not the
  // target's host (e.g. connecting by IP address).
  std::string tls_server_name;
  // When set, every call carries "authorization: Bearer <token>".
  std::string token;
};

// The gRPC service config with the retry policy for `options`.
std::string ServiceConfigJson(const ClientOptions& options);

// PEM files of a TLS connection.
struct TlsFiles {
  // Root certificates to trust; empty: the system's roots.
  std::string ca_file;
  // This client's certificate chain and key, for servers asking for one
  // (mutual TLS); both or neither.
  std::string cert_file;
  std::string key_file;
};

// TLS channel credentials from PEM files; INVALID_ARGUMENT naming the file
// when one can't be read or only one of cert_file and key_file is given.
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> TlsCredentials(
    const TlsFiles& files);

// A channel to options.target with the retry policy, the credentials and
// the TLS server name of `options`; for any service of the server. A
// callback-API call's callback may drop the last reference to it (see
// services/common/grpc_callback_queue.h).
std::shared_ptr<grpc::Channel> NewChannel(const ClientOptions& options);

// A context for one call on such a channel: the deadline `timeout` from
// now and the options' token.
std::unique_ptr<grpc::ClientContext> NewCallContext(
    const ClientOptions& options, absl::Duration timeout);

}  // namespace oppmatrix

#endif  // OPPMATRIX_SERVICES_COMMON_GRPC_CHANNEL_H_
