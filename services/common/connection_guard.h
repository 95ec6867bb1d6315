// Closes a connection whose client cancels most of the calls it starts:
// HTTP/2 "rapid reset" (CVE-2023-44487), where a HEADERS+RST_STREAM pair
// costs the client two frames and the server a whole call. gRPC 1.51
// predates the upstream fix, and its public API cannot close one
// connection, so the server accepts its connections itself (Listener, which
// hands each socket to gRPC) and keeps their sockets by peer address; an
// interceptor reports each call's end (ConnectionGuard::InterceptorFactory),
// and a connection found abusive has its socket shut down, which makes gRPC
// close it and cancel its calls.
//
// The rules:
//   - after Envoy's "premature reset" check: of each block of `block_calls`
//     calls that end on a connection, if more than half were cancelled by
//     the client (RST_STREAM) within `premature_lifetime` of starting, the
//     connection is closed. The same holds for the blocks of a host's calls
//     over all its connections (a client that reconnects before a block
//     fills). Calls that run longer before a cancel (a watch
//     the client ends) do not count, nor calls that reached their
//     deadline, and a client whose calls mostly finish is never closed;
//   - a connection with more than `max_pending_calls` calls started and not
//     ended is closed: the streams a client reset stay calls until the
//     server has processed them, so a flood of resets shows as calls past
//     the stream limit, and so does a client that opens streams without
//     ever acknowledging the limit;
//   - new connections from the host of a closed one are refused for `ban`.
//
//   ConnectionGuard guard({.block_calls = 500});
//   builder.experimental().SetInterceptorCreators(
//       {guard.InterceptorFactory()});
//   auto listener = Listener::Bind("0.0.0.0:50051", &guard, acceptor);
#ifndef OPPMATRIX_SERVICES_COMMON_CONNECTION_GUARD_H_
#define OPPMATRIX_SERVICES_COMMON_CONNECTION_GUARD_H_

#include <grpcpp/server_builder.h>
#include <grpcpp/support/server_interceptor.h>
#include <sys/socket.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace oppmatrix {

class ConnectionGuard {
 public:
  struct Policy {
    // Calls per block; 0 turns the guard off.
    int block_calls = 500;
    // A cancel sooner than this after the call started is premature.
    absl::Duration premature_lifetime = absl::Seconds(1);
    // A connection with more calls than this that started and have not
    // ended (the client's open streams, and those it reset that the
    // server still processes) is closed; 0: no limit.
    int max_pending_calls = 5000;
    // After a connection is closed, new connections from its address
    // (the host, any port) are refused for this long: else a client
    // reconnects at once and the server still processes the calls of the
    // last connection. Zero: none refused.
    absl::Duration ban = absl::Seconds(10);
    // Injected for tests.
    std::function<absl::Time()> now = absl::Now;
  };

  explicit ConnectionGuard(Policy policy);
  ConnectionGuard(const ConnectionGuard&) = delete;
  ConnectionGuard& operator=(const ConnectionGuard&) = delete;

  bool enabled() const {
    return policy_.block_calls > 0 || policy_.max_pending_calls > 0;
  }
  absl::Time Now() const { return policy_.now(); }

  // A connection accepted on socket `fd`: false when its address is
  // banned (the Listener closes it), else true (and the Listener hands it to
  // gRPC).
  bool Admit(int fd);

  // A call from `peer` (gRPC's form, "ipv4:127.0.0.1:5000") started; may
  // shut the connection down. Returns the peer's key for CallEnded.
  std::string CallStarted(absl::string_view peer);
  // A call from the peer of `key` that started at `started` ended now,
  // cancelled by the client before its deadline or not. May shut the
  // connection down. Peers of connections not accepted here (a Unix
  // socket) are ignored.
  void CallEnded(const std::string& key, absl::Time started,
                 bool client_cancelled);

  // Connections closed so far, connections refused for a ban, and
  // connections tracked now.
  int64_t closed_connections() const { return closed_.load(); }
  int64_t refused_connections() const { return refused_.load(); }
  size_t tracked_connections() const;

  // Creates one interceptor per call that reports its end to `this` (which
  // must outlive the server).
  std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
  InterceptorFactory();

  // "127.0.0.1:5000" or "[::1]:5000" for gRPC's peer string (an IPv4-mapped
  // IPv6 address as IPv4), or for a socket address; empty for anything else.
  static std::string PeerKey(absl::string_view grpc_peer);
  static std::string PeerKey(const sockaddr* addr, socklen_t len);

 private:
  // Calls ended in the current block, and how many of them prematurely.
  struct Block {
    int ended = 0;
    int premature = 0;
  };
  struct Connection {
    int fd = -1;
    // The socket's own address, which with the peer's names it: fd numbers
    // are reused once gRPC closes a socket, a live 4-tuple is not.
    std::string local;
    Block calls;
    int pending = 0;
  };

  // Whether `fd` is still the socket between `local` and `peer`.
  static bool SameSocket(int fd, const std::string& local,
                         const std::string& peer);
  // Shuts the connection of `key` down (mu_ held; it is forgotten) and
  // logs why.
  void CloseLocked(const std::string& key, const std::string& why)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Refuses new connections from `host` for the ban; the log's words
  // for it ("" without a ban).
  std::string BanLocked(const std::string& host)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Drops connections whose socket gRPC has closed since.
  void PruneLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Policy policy_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Connection> connections_
      ABSL_GUARDED_BY(mu_);
  size_t prune_at_ ABSL_GUARDED_BY(mu_) = 64;
  // The block of each host with a connection here, over its connections.
  absl::flat_hash_map<std::string, Block> hosts_ ABSL_GUARDED_BY(mu_);
  // Banned hosts ("127.0.0.1", "[::1]") until when.
  absl::flat_hash_map<std::string, absl::Time> banned_ ABSL_GUARDED_BY(mu_);
  std::atomic<int64_t> closed_{0};
  std::atomic<int64_t> refused_{0};
};

// The server's listening sockets, accepted on a thread of their own and
// handed to gRPC through an external connection acceptor, so the guard knows
// each connection's socket. TCP only (host:port, as gRPC's own listener
// takes it: "0.0.0.0:0", "[::]:50051", "localhost:50051").
class Listener {
 public:
  // Binds every address of `listen` (one port for all; port 0 picks a free
  // one) and starts accepting. UNAVAILABLE naming the address when none can
  // be bound. `guard` and `acceptor` must outlive the listener.
  static absl::StatusOr<std::unique_ptr<Listener>> Start(
      const std::string& listen, ConnectionGuard* guard,
      grpc::experimental::ExternalConnectionAcceptor* acceptor);

  ~Listener();  // Stops accepting and closes the listening sockets.

  int port() const { return port_; }

 private:
  Listener() = default;
  void Run();

  ConnectionGuard* guard_ = nullptr;
  grpc::experimental::ExternalConnectionAcceptor* acceptor_ = nullptr;
  std::vector<int> fds_;
  int wake_fd_ = -1;
  int port_ = 0;
  std::thread thread_;
};

}  // namespace oppmatrix

#endif  // OPPMATRIX_SERVICES_COMMON_CONNECTION_GUARD_H_
