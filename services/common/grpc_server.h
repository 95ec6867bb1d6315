// A started gRPC server with what every oppmatrix server has: the given
// services, the standard health service (SERVING for "" and each named
// service until shutdown) and server reflection.
//
//   auto server = GrpcServer::Start({.listen = "0.0.0.0:50052"}, {&service},
//                                   {"oppmatrix.v1.IngestionService"});
//   ...
//   (*server)->Shutdown(absl::Seconds(10));
#ifndef OPPMATRIX_SERVICES_COMMON_GRPC_SERVER_H_
#define OPPMATRIX_SERVICES_COMMON_GRPC_SERVER_H_

#include <grpcpp/server.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace oppmatrix {

class GrpcServer {
 public:
  struct Options {
    // host:port; port 0 picks a free one.
    std::string listen = "0.0.0.0:0";
    // Largest request message accepted, in bytes.
    int max_message_bytes = 16 << 20;
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
  // unreadable file, a key without its certificate, a token without TLS);
  // UNAVAILABLE when the address can't be bound. The services must outlive
  // the server.
  static absl::StatusOr<std::unique_ptr<GrpcServer>> Start(
      const Options& options, const std::vector<grpc::Service*>& services,
      const std::vector<std::string>& health_names);

  ~GrpcServer();

  int port() const { return port_; }
  bool tls() const { return tls_; }

  // Health NOT_SERVING, stop accepting calls, let in-flight calls finish
  // for up to `grace`, then cancel the rest.
  void Shutdown(absl::Duration grace);
  void Wait();

 private:
  GrpcServer() = default;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  bool tls_ = false;
  bool shut_down_ = false;
};

}  // namespace oppmatrix

#endif  // OPPMATRIX_SERVICES_COMMON_GRPC_SERVER_H_
