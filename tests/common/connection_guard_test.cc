// ConnectionGuard's rules on real loopback TCP connections (the server
// side of each is what the guard would shut down), with an injected clock,
// and Listener handing accepted sockets on. Its work inside a real server
// is tested by grpc_server_settings_test.py (rapid reset from python3-h2).
#include "services/common/connection_guard.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"

namespace oppmatrix {
namespace {

// A loopback TCP connection: the client's socket and the server's.
class Connection {
 public:
  explicit Connection(int listen_fd) {
    sockaddr_in addr{};
    socklen_t len = sizeof(addr);
    getsockname(listen_fd, reinterpret_cast<sockaddr*>(&addr), &len);
    client_ = socket(AF_INET, SOCK_STREAM, 0);
    EXPECT_EQ(connect(client_, reinterpret_cast<sockaddr*>(&addr), len), 0);
    server_ = accept(listen_fd, nullptr, nullptr);
    EXPECT_GE(server_, 0);
    sockaddr_in mine{};
    len = sizeof(mine);
    getsockname(client_, reinterpret_cast<sockaddr*>(&mine), &len);
    peer_ = absl::StrCat("ipv4:127.0.0.1:", ntohs(mine.sin_port));
  }
  ~Connection() {
    close(client_);
    if (server_ >= 0) close(server_);
  }

  int server_fd() const { return server_; }
  // gRPC's name for the client, as ServerContext::peer() gives it.
  const std::string& peer() const { return peer_; }
  // The server side is no longer this object's to close.
  void ReleaseServerSide() { server_ = -1; }
  // Whether the server side was shut down: the client reads end of file.
  // (A live connection has nothing to read: MSG_DONTWAIT says so at once.)
  bool ShutDown() const {
    char c;
    return recv(client_, &c, 1, MSG_DONTWAIT) == 0;
  }

 private:
  int client_ = -1;
  int server_ = -1;
  std::string peer_;
};

class ConnectionGuardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(
        bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    ASSERT_EQ(listen(listen_fd_, 16), 0);
  }
  void TearDown() override { close(listen_fd_); }

  ConnectionGuard::Policy Policy() {
    return {.block_calls = 10,
            .premature_lifetime = absl::Seconds(1),
            .max_pending_calls = 5,
            .ban = absl::Seconds(10),
            .now = [this] { return now_; }};
  }

  // `calls` calls that start and end on `c`, the first `premature` of them
  // cancelled by the client at once, the rest finished.
  void EndCalls(ConnectionGuard& guard, const Connection& c, int calls,
                int premature) {
    for (int i = 0; i < calls; ++i) {
      const absl::Time started = now_;
      const std::string key = guard.CallStarted(c.peer());
      guard.CallEnded(key, started, /*client_cancelled=*/i < premature);
    }
  }

  int listen_fd_ = -1;
  absl::Time now_ = absl::FromUnixSeconds(1'700'000'000);
};

TEST(PeerKeyTest, NormalisesGrpcPeers) {
  EXPECT_EQ(ConnectionGuard::PeerKey("ipv4:127.0.0.1:5000"), "127.0.0.1:5000");
  EXPECT_EQ(ConnectionGuard::PeerKey("ipv6:[::1]:5000"), "[::1]:5000");
  EXPECT_EQ(ConnectionGuard::PeerKey("ipv6:%5B::1%5D:5000"), "[::1]:5000");
  EXPECT_EQ(ConnectionGuard::PeerKey("ipv6:[0:0:0:0:0:0:0:1]:5000"),
            "[::1]:5000");
  EXPECT_EQ(ConnectionGuard::PeerKey("ipv6:[::ffff:10.1.2.3]:80"),
            "10.1.2.3:80");
  EXPECT_EQ(ConnectionGuard::PeerKey("ipv6:[fe80::1%25eth0]:80"),
            "[fe80::1]:80");
  for (const char* junk :
       {"", "unix:/tmp/sock", "ipv4:", "ipv4:127.0.0.1", "ipv4:1.2.3:80",
        "ipv4:127.0.0.1:70000", "ipv4:127.0.0.1:-1", "ipv6:::1:80",
        "ipv6:[::1]", "ipv6:[nonsense]:80", "ipv4:127.0.0.1:80x"}) {
    EXPECT_EQ(ConnectionGuard::PeerKey(junk), "") << junk;
  }
}

TEST_F(ConnectionGuardTest, ClosesAConnectionWhoseCallsAreMostlyReset) {
  ConnectionGuard guard(Policy());
  Connection c(listen_fd_);
  ASSERT_TRUE(guard.Admit(c.server_fd()));
  EndCalls(guard, c, 9, 9);
  EXPECT_FALSE(c.ShutDown()) << "closed before its block of 10 ended";
  EndCalls(guard, c, 1, 1);
  EXPECT_TRUE(c.ShutDown());
  EXPECT_EQ(guard.closed_connections(), 1);
  EXPECT_EQ(guard.tracked_connections(), 0u);
}

TEST_F(ConnectionGuardTest, AClientThatReconnectsBeforeABlockFillsIsJudged) {
  ConnectionGuard guard(Policy());
  // 4 premature resets a connection, a new connection each time: no
  // connection's block of 10 fills, the host's does on the third.
  std::vector<std::unique_ptr<Connection>> connections;
  for (int i = 0; i < 3; ++i) {
    connections.push_back(std::make_unique<Connection>(listen_fd_));
    ASSERT_TRUE(guard.Admit(connections.back()->server_fd()));
    EndCalls(guard, *connections.back(), 4, 4);
  }
  // Each of the three has only reset its calls: all are closed.
  EXPECT_TRUE(connections[0]->ShutDown());
  EXPECT_TRUE(connections[1]->ShutDown());
  EXPECT_TRUE(connections[2]->ShutDown());
  EXPECT_EQ(guard.closed_connections(), 3);
  Connection next(listen_fd_);
  EXPECT_FALSE(guard.Admit(next.server_fd())) << "the host is banned";
}

TEST_F(ConnectionGuardTest, TheHostRuleSparesItsWellBehavedConnections) {
  ConnectionGuard guard(Policy());
  Connection flood(listen_fd_);
  Connection health(listen_fd_);
  ASSERT_TRUE(guard.Admit(flood.server_fd()));
  ASSERT_TRUE(guard.Admit(health.server_fd()));
  // The host's block fills on a health check's end: the flooding
  // connection is closed, the health checks' stays.
  EndCalls(guard, flood, 6, 6);
  EndCalls(guard, health, 4, 0);
  EXPECT_TRUE(flood.ShutDown());
  EXPECT_FALSE(health.ShutDown());
  EXPECT_EQ(guard.closed_connections(), 1);
}

TEST_F(ConnectionGuardTest, HalfResetIsNotAbuse) {
  ConnectionGuard guard(Policy());
  Connection c(listen_fd_);
  ASSERT_TRUE(guard.Admit(c.server_fd()));
  // Block after block, exactly half cancelled: never closed, neither for
  // the connection's blocks nor for the host's.
  for (int block = 0; block < 5; ++block) EndCalls(guard, c, 10, 5);
  Connection other(listen_fd_);
  ASSERT_TRUE(guard.Admit(other.server_fd()));
  for (int block = 0; block < 5; ++block) {
    EndCalls(guard, c, 10, 5);
    EndCalls(guard, other, 10, 5);
  }
  EXPECT_FALSE(c.ShutDown());
  EXPECT_FALSE(other.ShutDown());
  EXPECT_EQ(guard.closed_connections(), 0);
}

TEST_F(ConnectionGuardTest, EachBlockIsJudgedOnItsOwn) {
  ConnectionGuard guard(Policy());
  Connection c(listen_fd_);
  ASSERT_TRUE(guard.Admit(c.server_fd()));
  // 4 + 4 of 20 cancelled over two blocks, then a block of 6 in 10: the
  // earlier blocks do not dilute it.
  EndCalls(guard, c, 10, 4);
  EndCalls(guard, c, 10, 4);
  EXPECT_FALSE(c.ShutDown());
  EndCalls(guard, c, 10, 6);
  EXPECT_TRUE(c.ShutDown());
}

TEST_F(ConnectionGuardTest, LateCancelsDoNotCount) {
  ConnectionGuard guard(Policy());
  Connection c(listen_fd_);
  ASSERT_TRUE(guard.Admit(c.server_fd()));
  // Watches the client ends after a while: cancelled, but not premature.
  for (int i = 0; i < 30; ++i) {
    const absl::Time started = now_;
    const std::string key = guard.CallStarted(c.peer());
    now_ += absl::Seconds(1);
    guard.CallEnded(key, started, /*client_cancelled=*/true);
  }
  EXPECT_FALSE(c.ShutDown());
  // Just under the lifetime still counts.
  for (int i = 0; i < 10; ++i) {
    const absl::Time started = now_;
    const std::string key = guard.CallStarted(c.peer());
    now_ += absl::Milliseconds(999);
    guard.CallEnded(key, started, /*client_cancelled=*/true);
  }
  EXPECT_TRUE(c.ShutDown());
}

TEST_F(ConnectionGuardTest, ClosesAConnectionWithTooManyPendingCalls) {
  ConnectionGuard guard(Policy());
  Connection c(listen_fd_);
  ASSERT_TRUE(guard.Admit(c.server_fd()));
  std::vector<std::string> keys;
  for (int i = 0; i < 5; ++i) keys.push_back(guard.CallStarted(c.peer()));
  EXPECT_FALSE(c.ShutDown()) << "5 pending is the limit, not past it";
  // One ends, one more starts: still 5.
  guard.CallEnded(keys.back(), now_, false);
  keys.pop_back();
  keys.push_back(guard.CallStarted(c.peer()));
  EXPECT_FALSE(c.ShutDown());
  keys.push_back(guard.CallStarted(c.peer()));
  EXPECT_TRUE(c.ShutDown());
  EXPECT_EQ(guard.closed_connections(), 1);
  // The calls still ending on it change nothing.
  for (const std::string& key : keys) guard.CallEnded(key, now_, true);
  EXPECT_EQ(guard.closed_connections(), 1);
}

TEST_F(ConnectionGuardTest, RefusesTheHostForTheBanThenAdmitsIt) {
  ConnectionGuard guard(Policy());
  Connection abusive(listen_fd_);
  Connection bystander(listen_fd_);
  ASSERT_TRUE(guard.Admit(abusive.server_fd()));
  ASSERT_TRUE(guard.Admit(bystander.server_fd()));
  EndCalls(guard, abusive, 10, 10);
  ASSERT_TRUE(abusive.ShutDown());
  // Connections open before the ban stay; new ones from the host are
  // refused until it ends.
  EXPECT_FALSE(bystander.ShutDown());
  Connection next(listen_fd_);
  EXPECT_FALSE(guard.Admit(next.server_fd()));
  EXPECT_EQ(guard.refused_connections(), 1);
  now_ += absl::Seconds(10);
  Connection after(listen_fd_);
  EXPECT_TRUE(guard.Admit(after.server_fd()));
  EXPECT_EQ(guard.refused_connections(), 1);
}

TEST_F(ConnectionGuardTest, WithoutABanTheHostMayReconnect) {
  ConnectionGuard::Policy policy = Policy();
  policy.ban = absl::ZeroDuration();
  ConnectionGuard guard(policy);
  Connection abusive(listen_fd_);
  ASSERT_TRUE(guard.Admit(abusive.server_fd()));
  EndCalls(guard, abusive, 10, 10);
  ASSERT_TRUE(abusive.ShutDown());
  Connection next(listen_fd_);
  EXPECT_TRUE(guard.Admit(next.server_fd()));
}

TEST_F(ConnectionGuardTest, NeverShutsASocketThatIsNoLongerTheConnections) {
  ConnectionGuard guard(Policy());
  auto first = std::make_unique<Connection>(listen_fd_);
  const std::string first_peer = first->peer();
  const int fd = first->server_fd();
  ASSERT_TRUE(guard.Admit(fd));
  // gRPC closed the socket and the number went to another connection,
  // which the guard has not been told about (dup2 does both at once).
  first->ReleaseServerSide();
  Connection other(listen_fd_);
  ASSERT_EQ(dup2(other.server_fd(), fd), fd);
  for (int i = 0; i < 10; ++i) {
    guard.CallEnded(guard.CallStarted(first_peer), now_, true);
  }
  EXPECT_FALSE(other.ShutDown());
  EXPECT_EQ(guard.closed_connections(), 0);
  close(fd);
}

TEST_F(ConnectionGuardTest, CallsOfUnknownPeersAreIgnored) {
  ConnectionGuard guard(Policy());
  for (const char* peer : {"unix:/tmp/s", "ipv4:10.0.0.1:1", "garbage"}) {
    for (int i = 0; i < 20; ++i) {
      guard.CallEnded(guard.CallStarted(peer), now_, true);
    }
  }
  EXPECT_EQ(guard.closed_connections(), 0);
  EXPECT_EQ(guard.tracked_connections(), 0u);
}

TEST_F(ConnectionGuardTest, DisabledItTracksNothing) {
  ConnectionGuard guard({.block_calls = 0, .max_pending_calls = 0});
  EXPECT_FALSE(guard.enabled());
  Connection c(listen_fd_);
  EXPECT_TRUE(guard.Admit(c.server_fd()));
  EXPECT_EQ(guard.tracked_connections(), 0u);
}

TEST_F(ConnectionGuardTest, ForgetsConnectionsGrpcHasClosed) {
  ConnectionGuard guard(Policy());
  // Far more connections than the first prune threshold, each closed
  // before the next: the guard keeps only live ones, not all it saw.
  for (int i = 0; i < 200; ++i) {
    Connection c(listen_fd_);
    ASSERT_TRUE(guard.Admit(c.server_fd()));
  }
  EXPECT_LT(guard.tracked_connections(), 70u);
}

// Records what the listener hands on.
class RecordingAcceptor
    : public grpc::experimental::ExternalConnectionAcceptor {
 public:
  void HandleNewConnection(NewConnectionParameters* p) override {
    absl::MutexLock lock(&mu_);
    fds_.push_back(p->fd);
  }
  // Waits until `n` connections have been handed on.
  std::vector<int> WaitFor(size_t n) {
    absl::MutexLock lock(&mu_);
    auto enough = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return fds_.size() >= n;
    };
    mu_.Await(absl::Condition(&enough));
    return fds_;
  }
  ~RecordingAcceptor() override {
    for (int fd : fds_) close(fd);
  }

 private:
  absl::Mutex mu_;
  std::vector<int> fds_ ABSL_GUARDED_BY(mu_);
};

int ConnectTo(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  return fd;
}

TEST(ListenerTest, HandsEachConnectionOn) {
  ConnectionGuard guard({});
  RecordingAcceptor acceptor;
  auto listener = Listener::Start("127.0.0.1:0", &guard, &acceptor);
  ASSERT_TRUE(listener.ok()) << listener.status();
  ASSERT_GT((*listener)->port(), 0);
  const int a = ConnectTo((*listener)->port());
  const int b = ConnectTo((*listener)->port());
  std::vector<int> fds = acceptor.WaitFor(2);
  ASSERT_EQ(fds.size(), 2u);
  EXPECT_EQ(guard.tracked_connections(), 2u);
  listener->reset();
  close(a);
  close(b);
}

TEST(ListenerTest, RefusesWhatItCannotBind) {
  ConnectionGuard guard({});
  RecordingAcceptor acceptor;
  auto busy = Listener::Start("127.0.0.1:0", &guard, &acceptor);
  ASSERT_TRUE(busy.ok());
  const std::string taken = absl::StrCat("127.0.0.1:", (*busy)->port());
  struct Case {
    std::string listen;
    absl::StatusCode code;
    std::string message;
  };
  for (const Case& c : std::vector<Case>{
           {"nohost", absl::StatusCode::kInvalidArgument,
            "listen: \"nohost\" is not host:port"},
           {"127.0.0.1:99999", absl::StatusCode::kInvalidArgument,
            "listen: \"127.0.0.1:99999\" has no port 0-65535"},
           {"127.0.0.1:http", absl::StatusCode::kInvalidArgument,
            "listen: \"127.0.0.1:http\" has no port 0-65535"},
           {taken, absl::StatusCode::kUnavailable,
            absl::StrCat("cannot listen on ", taken,
                         ": Address already in use")},
       }) {
    auto listener = Listener::Start(c.listen, &guard, &acceptor);
    ASSERT_FALSE(listener.ok()) << c.listen;
    EXPECT_EQ(listener.status().code(), c.code) << c.listen;
    EXPECT_EQ(listener.status().message(), c.message);
  }
}

}  // namespace
}  // namespace oppmatrix
