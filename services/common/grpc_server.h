// A started gRPC server with what every oppmatrix server has: the given
// services, the standard health service (SERVING for "" and each named
// service until shutdown), server reflection, and bounds on what one client
// can make it hold (GrpcServer::Limits: streams per connection, a memory
// quota, message and header sizes, ping policy, connection age and idle
// time).
//
//   auto server = GrpcServer::Start({.listen = "0.0.0.0:50052"}, {&service},
//                                   {"oppmatrix.v1.IngestionService"});
//   ...
//   (*server)->Shutdown(absl::Seconds(10));
#ifndef OPPMATRIX_SERVICES_COMMON_GRPC_SERVER_H_
#define OPPMATRIX_SERVICES_COMMON_GRPC_SERVER_H_

#include <grpcpp/server.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "services/common/connection_guard.h"
#include "services/common/memory_trimmer.h"

namespace oppmatrix {

class GrpcServer {
 public:
  // What a client (or many) can make the server hold, and how long a
  // connection lives. The defaults keep a server under its container's
  // 512 MiB (deploy/k8s) against the abuse the README's "Limits" section
  // lists. A duration of absl::InfiniteDuration() means no limit.
  struct Limits {
    // Largest request message accepted, and largest response sent, in
    // bytes; a larger one fails the call with RESOURCE_EXHAUSTED.
    int max_message_bytes = 16 << 20;
    int max_send_message_bytes = 16 << 20;
    // SETTINGS_MAX_CONCURRENT_STREAMS: calls open at once on one
    // connection. A gRPC client queues the calls past it until one ends;
    // streams past it are refused, not served. Binds only once the client
    // has acknowledged the server's SETTINGS.
    int max_concurrent_streams = 100;
    // Largest header list of a call (gRPC's GRPC_ARG_MAX_METADATA_SIZE),
    // in bytes.
    int max_metadata_bytes = 8 << 10;
    // The grpc::ResourceQuota of the server: memory gRPC may use for its
    // connections' buffers and its calls. Near it gRPC reads in smaller
    // chunks and closes idle connections; past it, it cancels calls
    // (RESOURCE_EXHAUSTED). gRPC 1.51 never refuses a new stream for it,
    // so it does not bound a rapid-reset flood (README, "Limits"). 0: no
    // quota.
    int64_t memory_quota_bytes = int64_t{256} << 20;
    // Most threads the quota lets gRPC's synchronous services (server
    // reflection) use at once; 0: gRPC's default (no limit).
    int max_threads = 0;
    // The server pings a connection quiet for keepalive_time, and closes it
    // when the ping is not answered within keepalive_timeout.
    absl::Duration keepalive_time = absl::Minutes(1);
    absl::Duration keepalive_timeout = absl::Seconds(20);
    // A client may ping at most every min_ping_interval while it sends
    // nothing else, with or without calls open; a client that pings more
    // often max_ping_strikes times gets GOAWAY (ENHANCE_YOUR_CALM) and is
    // disconnected.
    absl::Duration min_ping_interval = absl::Seconds(10);
    int max_ping_strikes = 2;
    // A connection gets GOAWAY at this age (gRPC adds +-10% jitter), so
    // clients reconnect and spread over replicas; its calls then have
    // max_connection_age_grace to finish before it is closed.
    absl::Duration max_connection_age = absl::Minutes(30);
    absl::Duration max_connection_age_grace = absl::Minutes(5);
    // A connection without calls for this long gets GOAWAY.
    absl::Duration max_connection_idle = absl::Minutes(10);
    // A new connection must finish its TLS and HTTP/2 handshakes (the
    // client's preface and SETTINGS) within this long.
    absl::Duration handshake_timeout = absl::Seconds(10);
    // HTTP/2 rapid reset (ConnectionGuard): a connection is closed when,
    // of a block of this many calls that ended on it, more than half were
    // cancelled by the client within rapid_reset_lifetime of starting.
    // 0: never.
    int rapid_reset_calls = 500;
    absl::Duration rapid_reset_lifetime = absl::Seconds(1);
    // A connection with more calls than this started and not yet ended
    // (open streams, and reset ones the server still processes) is closed.
    // At least max_concurrent_streams; 0: no limit.
    int max_pending_calls = 5000;
    // New connections from the host of one closed by either rule above are
    // refused for this long. Behind a proxy every client shares its host:
    // there the proxy's own limits apply, and 0 refuses none.
    absl::Duration abuse_ban = absl::Seconds(10);
    // How often the process gives freed heap memory back to the system
    // (MemoryTrimmer), so RSS falls again after a burst; zero or infinite:
    // never.
    absl::Duration memory_trim_interval = absl::Seconds(10);
  };

  struct Options {
    // host:port; port 0 picks a free one. The server accepts TCP
    // connections itself (Listener), for its ConnectionGuard; "unix:PATH"
    // is gRPC's own listener, without the guard.
    std::string listen = "0.0.0.0:0";
    Limits limits;
    // TLS: this server's certificate chain and private key (PEM files),
    // both or neither; neither means plaintext.
    std::string tls_cert_file;
    std::string tls_key_file;
    // With TLS: ask for client certificates and require ones signed by
    // these roots (mutual TLS).
    std::string tls_client_ca_file;
    // With TLS: every call must carry "authorization: Bearer <token>",
    // else UNAUTHENTICATED. Health checks are exempt (probes carry none).
    std::string auth_token;
  };

  // INVALID_ARGUMENT naming the option for a bad TLS or token setting (an
  // unreadable file, a key without its certificate, a token without TLS),
  // a limit out of range (see CheckLimits) or a listen address that is not
  // host:port; UNAVAILABLE, with the reason, when the address can't be
  // bound. The services must outlive
  // the server.
  static absl::StatusOr<std::unique_ptr<GrpcServer>> Start(
      const Options& options, const std::vector<grpc::Service*>& services,
      const std::vector<std::string>& health_names);

  // INVALID_ARGUMENT naming the first limit out of range: a size or count
  // below 1 (below 0 for memory_quota_bytes, max_threads and
  // max_ping_strikes, where 0 means no limit), a duration not positive
  // (negative for max_connection_age_grace and memory_trim_interval), a
  // message limit above the memory quota.
  static absl::Status CheckLimits(const Limits& limits);

  ~GrpcServer();

  int port() const { return port_; }
  bool tls() const { return tls_; }
  // Connections closed for rapid reset so far.
  int64_t closed_for_resets() const { return guard_->closed_connections(); }

  // Health NOT_SERVING, stop accepting calls, let in-flight calls finish
  // for up to `grace`, then cancel the rest.
  void Shutdown(absl::Duration grace);
  void Wait();

 private:
  GrpcServer() = default;
  std::unique_ptr<ConnectionGuard> guard_;
  std::unique_ptr<grpc::experimental::ExternalConnectionAcceptor> acceptor_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<Listener> listener_;
  std::unique_ptr<MemoryTrimmer> trimmer_;
  int port_ = 0;
  bool tls_ = false;
  bool shut_down_ = false;
};

}  // namespace oppmatrix

#endif  // OPPMATRIX_SERVICES_COMMON_GRPC_SERVER_H_
