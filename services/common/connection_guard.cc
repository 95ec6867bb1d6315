#include "services/common/connection_guard.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "services/common/log.h"

namespace oppmatrix {
namespace {

using grpc::experimental::InterceptionHookPoints;

// Reports the end of one call to the guard.
class GuardInterceptor : public grpc::experimental::Interceptor {
 public:
  GuardInterceptor(ConnectionGuard* guard,
                   grpc::experimental::ServerRpcInfo* info)
      : guard_(guard),
        info_(info),
        started_(guard->Now()),
        key_(guard->CallStarted(info->server_context()->peer())) {}

  void Intercept(
      grpc::experimental::InterceptorBatchMethods* methods) override {
    if (!key_.empty() && methods->QueryInterceptionHookPoint(
                             InterceptionHookPoints::POST_RECV_CLOSE)) {
      // Only a callback call may be asked here whether it was cancelled: a
      // synchronous one (server reflection) answers by plucking its own
      // completion queue, which runs this hook again, without end. Its
      // ends count as finished.
      auto* ctx =
          dynamic_cast<grpc::CallbackServerContext*>(info_->server_context());
      // A call that reached its deadline is cancelled too, but not by a
      // reset of the client's.
      const bool client_cancelled =
          ctx != nullptr && ctx->IsCancelled() &&
          std::chrono::system_clock::now() < ctx->deadline();
      guard_->CallEnded(key_, started_, client_cancelled);
    }
    methods->Proceed();
  }

 private:
  ConnectionGuard* const guard_;
  grpc::experimental::ServerRpcInfo* const info_;
  const absl::Time started_;
  const std::string key_;
};

class GuardInterceptorFactory
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit GuardInterceptorFactory(ConnectionGuard* guard) : guard_(guard) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new GuardInterceptor(guard_, info);
  }

 private:
  ConnectionGuard* const guard_;
};

// "%5B" -> "[": gRPC writes IPv6 peers URI-escaped in some versions.
std::string PercentDecoded(absl::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    int hi, lo;
    auto hex = [](char c) {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      return -1;
    };
    if (s[i] == '%' && i + 2 < s.size() && (hi = hex(s[i + 1])) >= 0 &&
        (lo = hex(s[i + 2])) >= 0) {
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::string KeyOf4(const in_addr& a, int port) {
  char text[INET_ADDRSTRLEN];
  if (inet_ntop(AF_INET, &a, text, sizeof(text)) == nullptr) return "";
  return absl::StrCat(text, ":", port);
}

std::string KeyOf6(const in6_addr& a, int port) {
  if (IN6_IS_ADDR_V4MAPPED(&a)) {
    in_addr v4;
    std::memcpy(&v4, a.s6_addr + 12, sizeof(v4));
    return KeyOf4(v4, port);
  }
  char text[INET6_ADDRSTRLEN];
  if (inet_ntop(AF_INET6, &a, text, sizeof(text)) == nullptr) return "";
  return absl::StrCat("[", text, "]:", port);
}

std::string SocketKey(int fd, bool peer) {
  sockaddr_storage addr;
  socklen_t len = sizeof(addr);
  sockaddr* sa = reinterpret_cast<sockaddr*>(&addr);
  if ((peer ? getpeername(fd, sa, &len) : getsockname(fd, sa, &len)) != 0) {
    return "";
  }
  return ConnectionGuard::PeerKey(sa, len);
}

// "127.0.0.1" of "127.0.0.1:5000", "[::1]" of "[::1]:5000".
std::string HostOf(const std::string& key) {
  return key.substr(0, key.rfind(':'));
}

void CloseFd(int fd) {
  if (fd >= 0) close(fd);
}

}  // namespace

ConnectionGuard::ConnectionGuard(Policy policy) : policy_(std::move(policy)) {}

std::string ConnectionGuard::PeerKey(absl::string_view grpc_peer) {
  bool v6;
  if (absl::ConsumePrefix(&grpc_peer, "ipv4:")) {
    v6 = false;
  } else if (absl::ConsumePrefix(&grpc_peer, "ipv6:")) {
    v6 = true;
  } else {
    return "";
  }
  const std::string text = PercentDecoded(grpc_peer);
  const size_t colon = text.rfind(':');
  if (colon == std::string::npos) return "";
  int port;
  if (!absl::SimpleAtoi(absl::string_view(text).substr(colon + 1), &port) ||
      port < 0 || port > 65535) {
    return "";
  }
  std::string host = text.substr(0, colon);
  if (v6) {
    absl::string_view h = host;
    if (!absl::ConsumePrefix(&h, "[") || !absl::ConsumeSuffix(&h, "]")) {
      return "";
    }
    // A zone ("fe80::1%eth0") does not take part in the key.
    std::string bare(h.substr(0, h.find('%')));
    in6_addr a;
    if (inet_pton(AF_INET6, bare.c_str(), &a) != 1) return "";
    return KeyOf6(a, port);
  }
  in_addr a;
  if (inet_pton(AF_INET, host.c_str(), &a) != 1) return "";
  return KeyOf4(a, port);
}

std::string ConnectionGuard::PeerKey(const sockaddr* addr, socklen_t len) {
  if (addr->sa_family == AF_INET && len >= sizeof(sockaddr_in)) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(addr);
    return KeyOf4(in->sin_addr, ntohs(in->sin_port));
  }
  if (addr->sa_family == AF_INET6 && len >= sizeof(sockaddr_in6)) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(addr);
    return KeyOf6(in6->sin6_addr, ntohs(in6->sin6_port));
  }
  return "";
}

bool ConnectionGuard::SameSocket(int fd, const std::string& local,
                                 const std::string& peer) {
  return SocketKey(fd, /*peer=*/false) == local &&
         SocketKey(fd, /*peer=*/true) == peer;
}

bool ConnectionGuard::Admit(int fd) {
  if (!enabled()) return true;
  std::string peer = SocketKey(fd, /*peer=*/true);
  std::string local = SocketKey(fd, /*peer=*/false);
  if (peer.empty() || local.empty()) return true;
  absl::MutexLock lock(&mu_);
  if (!banned_.empty()) {
    auto it = banned_.find(HostOf(peer));
    if (it != banned_.end()) {
      if (Now() < it->second) {
        refused_.fetch_add(1);
        return false;
      }
      banned_.erase(it);
    }
  }
  connections_[peer] = Connection{
      .fd = fd, .local = std::move(local), .calls = {}, .pending = 0};
  if (connections_.size() >= prune_at_) PruneLocked();
  return true;
}

void ConnectionGuard::PruneLocked() {
  for (auto it = connections_.begin(); it != connections_.end();) {
    if (SameSocket(it->second.fd, it->second.local, it->first)) {
      ++it;
    } else {
      connections_.erase(it++);
    }
  }
  prune_at_ = std::max<size_t>(64, 2 * connections_.size());
  // Hosts without a connection left start afresh.
  absl::flat_hash_map<std::string, Block> hosts;
  for (const auto& [key, c] : connections_) {
    const std::string host = HostOf(key);
    auto h = hosts_.find(host);
    if (h != hosts_.end()) hosts[host] = h->second;
  }
  hosts_ = std::move(hosts);
}

std::string ConnectionGuard::CallStarted(absl::string_view peer) {
  if (!enabled()) return "";
  std::string key = PeerKey(peer);
  if (key.empty()) return key;
  absl::MutexLock lock(&mu_);
  auto it = connections_.find(key);
  if (it == connections_.end()) return key;
  if (++it->second.pending > policy_.max_pending_calls &&
      policy_.max_pending_calls > 0) {
    CloseLocked(key, absl::StrCat("it has ", it->second.pending,
                                  " calls started and not ended, above ",
                                  policy_.max_pending_calls,
                                  " (streams past the stream limit, or reset "
                                  "ones not yet processed)"));
  }
  return key;
}

void ConnectionGuard::CallEnded(const std::string& key, absl::Time started,
                                bool client_cancelled) {
  if (!enabled() || key.empty()) return;
  const bool premature =
      client_cancelled && Now() - started < policy_.premature_lifetime;
  absl::MutexLock lock(&mu_);
  auto it = connections_.find(key);
  if (it == connections_.end()) return;
  Connection& c = it->second;
  --c.pending;
  if (policy_.block_calls == 0) return;
  // A block is judged when it is full: more than half premature is abuse.
  auto judge = [this](Block& b, bool premature) {
    b.premature += premature ? 1 : 0;
    if (++b.ended < policy_.block_calls) return -1;
    const int count = b.premature;
    b = Block{};
    return 2 * count > policy_.block_calls ? count : -1;
  };
  const std::string lifetime = absl::FormatDuration(policy_.premature_lifetime);
  if (const int count = judge(c.calls, premature); count >= 0) {
    CloseLocked(key,
                absl::StrCat(count, " of its last ", policy_.block_calls,
                             " calls were cancelled by the client within ",
                             lifetime, " of starting (HTTP/2 rapid reset)"));
    return;
  }
  // The same over all the host's connections: a client that opens a new
  // connection before each block fills is judged too.
  const std::string host = HostOf(key);
  const int count = judge(hosts_[host], premature);
  if (count < 0) return;
  // Close the host's connections whose own calls are mostly reset, not
  // whichever one's call ended the block (a health check's, say); the ban
  // holds even when the flooding connections are gone already.
  const std::string why = absl::StrCat(
      count, " of the last ", policy_.block_calls, " calls from ", host,
      ", over its connections, were cancelled by the client "
      "within ",
      lifetime, " of starting (HTTP/2 rapid reset)");
  std::vector<std::string> abusive;
  for (const auto& [k, conn] : connections_) {
    if (HostOf(k) == host && conn.calls.premature > 0 &&
        2 * conn.calls.premature > conn.calls.ended) {
      abusive.push_back(k);
    }
  }
  for (const std::string& k : abusive) CloseLocked(k, why);
  if (abusive.empty()) {
    Log(LogLevel::kWarning, "grpc", absl::StrCat(why, BanLocked(host)));
  }
}

void ConnectionGuard::CloseLocked(const std::string& key,
                                  const std::string& why) {
  auto it = connections_.find(key);
  if (it == connections_.end()) return;
  const int fd = it->second.fd;
  const std::string local = std::move(it->second.local);
  connections_.erase(it);
  // gRPC owns the socket: shut down, never closed here, and only while it
  // is still this connection's (its 4-tuple checked just before; gRPC
  // would have to close it and the process open another socket with the
  // same number and addresses in between, which a live 4-tuple rules
  // out).
  if (!SameSocket(fd, local, key) || shutdown(fd, SHUT_RDWR) != 0) return;
  closed_.fetch_add(1);
  Log(LogLevel::kWarning, "grpc",
      absl::StrCat("closed the connection from ", key, ": ", why,
                   BanLocked(HostOf(key))));
}

std::string ConnectionGuard::BanLocked(const std::string& host) {
  if (policy_.ban <= absl::ZeroDuration()) return "";
  // Expired bans go when one is set; a flood of addresses keeps at most
  // one entry per connection closed within a ban.
  const absl::Time now = Now();
  for (auto b = banned_.begin(); b != banned_.end();) {
    if (b->second <= now) {
      banned_.erase(b++);
    } else {
      ++b;
    }
  }
  banned_[host] = now + policy_.ban;
  return absl::StrCat("; new connections from ", host, " are refused for ",
                      absl::FormatDuration(policy_.ban));
}

size_t ConnectionGuard::tracked_connections() const {
  absl::MutexLock lock(&mu_);
  return connections_.size();
}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
ConnectionGuard::InterceptorFactory() {
  return std::make_unique<GuardInterceptorFactory>(this);
}

absl::StatusOr<std::unique_ptr<Listener>> Listener::Start(
    const std::string& listen, ConnectionGuard* guard,
    grpc::experimental::ExternalConnectionAcceptor* acceptor) {
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("listen: \"", listen, "\" is not host:port"));
  }
  absl::string_view host = absl::string_view(listen).substr(0, colon);
  const std::string port_text = listen.substr(colon + 1);
  int port;
  if (!absl::SimpleAtoi(port_text, &port) || port < 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("listen: \"", listen, "\" has no port 0-65535"));
  }
  if (absl::ConsumePrefix(&host, "[")) absl::ConsumeSuffix(&host, "]");
  const std::string host_text(host);
  // What to bind, in order.
  struct Address {
    sockaddr_storage addr;
    socklen_t len;
    bool v6only;
    // Tried only when the one before could not be bound for want of its
    // address family (a host without IPv6).
    bool fallback;
  };
  std::vector<Address> addresses;
  if (host_text.empty() || host_text == "0.0.0.0" || host_text == "::") {
    // Any address, as gRPC's own listener takes a wildcard whatever its
    // family: one dual-stack IPv6 socket, else IPv4.
    Address any6{};
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&any6.addr);
    in6->sin6_family = AF_INET6;
    in6->sin6_addr = in6addr_any;
    in6->sin6_port = htons(static_cast<uint16_t>(port));
    any6.len = sizeof(sockaddr_in6);
    Address any4{};
    auto* in4 = reinterpret_cast<sockaddr_in*>(&any4.addr);
    in4->sin_family = AF_INET;
    in4->sin_addr.s_addr = htonl(INADDR_ANY);
    in4->sin_port = htons(static_cast<uint16_t>(port));
    any4.len = sizeof(sockaddr_in);
    any4.fallback = true;
    addresses = {any6, any4};
  } else {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV | AI_ADDRCONFIG;
    addrinfo* found = nullptr;
    if (int rc =
            getaddrinfo(host_text.c_str(), port_text.c_str(), &hints, &found);
        rc != 0) {
      return absl::UnavailableError(
          absl::StrCat("cannot listen on ", listen, ": ", gai_strerror(rc)));
    }
    for (addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
      Address a{};
      std::memcpy(&a.addr, ai->ai_addr, ai->ai_addrlen);
      a.len = ai->ai_addrlen;
      addresses.push_back(a);
    }
    freeaddrinfo(found);
    // Beside an IPv4 address of its own (localhost), IPv6 only.
    for (Address& a : addresses) a.v6only = addresses.size() > 1;
  }
  std::unique_ptr<Listener> out(new Listener());
  out->guard_ = guard;
  out->acceptor_ = acceptor;
  std::string error;
  std::vector<std::string> failed;
  bool family_missing = false;
  for (Address& a : addresses) {
    if (a.fallback && !family_missing) continue;
    family_missing = false;
    if (out->port_ != 0) {
      // Port 0: the first address picked it; the others take the same.
      const uint16_t p = htons(static_cast<uint16_t>(out->port_));
      if (a.addr.ss_family == AF_INET) {
        reinterpret_cast<sockaddr_in*>(&a.addr)->sin_port = p;
      } else {
        reinterpret_cast<sockaddr_in6*>(&a.addr)->sin6_port = p;
      }
    }
    const std::string name = ConnectionGuard::PeerKey(
        reinterpret_cast<const sockaddr*>(&a.addr), a.len);
    int fd =
        socket(a.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      family_missing = errno == EAFNOSUPPORT;
      error = std::strerror(errno);
      failed.push_back(absl::StrCat(name, ": ", error));
      continue;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (a.addr.ss_family == AF_INET6) {
      int v6only = a.v6only ? 1 : 0;
      setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only));
    }
    if (bind(fd, reinterpret_cast<sockaddr*>(&a.addr), a.len) != 0 ||
        ::listen(fd, SOMAXCONN) != 0) {
      family_missing = errno == EADDRNOTAVAIL || errno == EAFNOSUPPORT;
      error = std::strerror(errno);
      failed.push_back(absl::StrCat(name, ": ", error));
      close(fd);
      continue;
    }
    if (out->port_ == 0) {
      sockaddr_storage bound;
      socklen_t len = sizeof(bound);
      getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
      out->port_ =
          ntohs(bound.ss_family == AF_INET
                    ? reinterpret_cast<sockaddr_in*>(&bound)->sin_port
                    : reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port);
    }
    out->fds_.push_back(fd);
  }
  if (out->fds_.empty()) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", listen, ": ", error));
  }
  if (!failed.empty()) {
    Log(LogLevel::kWarning, "grpc",
        absl::StrCat("listening on ", listen, " without ",
                     absl::StrJoin(failed, "; ")));
  }
  out->wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (out->wake_fd_ < 0) {
    return absl::UnavailableError(absl::StrCat(
        "cannot listen on ", listen, ": eventfd: ", std::strerror(errno)));
  }
  Listener* self = out.get();
  out->thread_ = std::thread([self] { self->Run(); });
  return out;
}

void Listener::Run() {
  std::vector<pollfd> polls;
  for (int fd : fds_)
    polls.push_back({.fd = fd, .events = POLLIN, .revents = 0});
  polls.push_back({.fd = wake_fd_, .events = POLLIN, .revents = 0});
  while (true) {
    if (poll(polls.data(), polls.size(), -1) < 0) {
      if (errno == EINTR) continue;
      // Out of memory, say: try again shortly rather than stop accepting
      // while health says SERVING.
      Log(LogLevel::kError, "grpc",
          absl::StrCat("listener: poll: ", std::strerror(errno)));
      usleep(100 * 1000);
      continue;
    }
    if (polls.back().revents != 0) return;
    for (size_t i = 0; i + 1 < polls.size(); ++i) {
      if (polls[i].revents == 0) continue;
      // Everything queued, then back to poll.
      while (true) {
        int fd = accept4(polls[i].fd, nullptr, nullptr,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
          if (errno == EINTR || errno == ECONNABORTED) continue;
          if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
              errno == ENOMEM) {
            // Out of descriptors or memory: wait a little, as gRPC's own
            // listener does, instead of spinning.
            Log(LogLevel::kWarning, "grpc",
                absl::StrCat("listener: accept: ", std::strerror(errno)));
            usleep(100 * 1000);
          }
          break;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (!guard_->Admit(fd)) {
          close(fd);
          continue;
        }
        grpc::experimental::ExternalConnectionAcceptor::NewConnectionParameters
            p;
        p.listener_fd = polls[i].fd;
        p.fd = fd;
        acceptor_->HandleNewConnection(&p);
      }
    }
  }
}

Listener::~Listener() {
  if (thread_.joinable()) {
    const uint64_t one = 1;
    if (write(wake_fd_, &one, sizeof(one)) < 0) {
      Log(LogLevel::kError, "grpc",
          absl::StrCat("listener: cannot wake: ", std::strerror(errno)));
    }
    thread_.join();
  }
  for (int fd : fds_) CloseFd(fd);
  CloseFd(wake_fd_);
}

}  // namespace oppmatrix
