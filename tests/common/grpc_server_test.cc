// GrpcServer::Limits: each kind of bad value refused with its exact error,
// and the message limits applied to a real server (its health service, on
// loopback). The HTTP/2 SETTINGS a server advertises are read off the wire
// by grpc_server_settings_test.py; MemoryTrimmer gives freed memory back.
#include "services/common/grpc_server.h"

#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "services/common/memory_trimmer.h"
#include "tests/testing/raw_call.h"

namespace oppmatrix {
namespace {

using grpc::health::v1::Health;
using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

TEST(CheckLimitsTest, DefaultsAreValid) {
  EXPECT_TRUE(GrpcServer::CheckLimits({}).ok());
}

TEST(CheckLimitsTest, NamesTheFirstLimitOutOfRange) {
  struct Case {
    GrpcServer::Limits limits;
    std::string error;
  };
  GrpcServer::Limits streams;
  streams.max_concurrent_streams = 0;
  GrpcServer::Limits quota;
  quota.memory_quota_bytes = -1;
  GrpcServer::Limits keepalive;
  keepalive.keepalive_time = absl::ZeroDuration();
  GrpcServer::Limits grace;
  grace.max_connection_age_grace = absl::Seconds(-1);
  GrpcServer::Limits small_quota;
  small_quota.memory_quota_bytes = 1 << 20;
  GrpcServer::Limits send;
  send.max_send_message_bytes = 0;
  GrpcServer::Limits pending;
  pending.max_pending_calls = 99;
  GrpcServer::Limits ban;
  ban.abuse_ban = absl::Seconds(-1);
  GrpcServer::Limits lifetime;
  lifetime.rapid_reset_lifetime = absl::ZeroDuration();
  for (const Case& c : std::vector<Case>{
           {streams, "max_concurrent_streams: 0 is below 1"},
           {quota, "memory_quota_bytes: -1 is below 0 (0 means no limit)"},
           {keepalive, "keepalive_time: 0 is not positive"},
           {grace, "max_connection_age_grace: -1s is negative"},
           {small_quota,
            "memory_quota_bytes: 1048576 is below the largest message "
            "(16777216 bytes): such a message could never be held"},
           {send, "max_send_message_bytes: 0 is below 1"},
           {pending,
            "max_pending_calls: 99 is below max_concurrent_streams (100): a "
            "client within the stream limit would be disconnected"},
           {ban, "abuse_ban: -1s is negative"},
           {lifetime, "rapid_reset_lifetime: 0 is not positive"},
       }) {
    absl::Status s = GrpcServer::CheckLimits(c.limits);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.error;
    EXPECT_EQ(s.message(), c.error);
  }
}

TEST(CheckLimitsTest, ZeroAndInfiniteMeanNoLimit) {
  GrpcServer::Limits limits;
  limits.memory_quota_bytes = 0;
  limits.max_threads = 0;
  limits.max_ping_strikes = 0;
  limits.max_connection_age_grace = absl::ZeroDuration();
  limits.memory_trim_interval = absl::ZeroDuration();
  limits.max_connection_age = absl::InfiniteDuration();
  limits.max_connection_idle = absl::InfiniteDuration();
  limits.keepalive_time = absl::InfiniteDuration();
  limits.rapid_reset_calls = 0;
  limits.max_pending_calls = 0;
  limits.abuse_ban = absl::ZeroDuration();
  EXPECT_TRUE(GrpcServer::CheckLimits(limits).ok());
}

TEST(GrpcServerTest, StartRefusesALimitOutOfRange) {
  GrpcServer::Options options;
  options.listen = "127.0.0.1:0";
  options.limits.max_concurrent_streams = -3;
  auto server = GrpcServer::Start(options, {}, {});
  EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(server.status().message(), "max_concurrent_streams: -3 is below 1");
}

class MessageLimitsTest : public ::testing::Test {
 protected:
  std::unique_ptr<Health::Stub> Start(const GrpcServer::Limits& limits) {
    GrpcServer::Options options;
    options.listen = "127.0.0.1:0";
    options.limits = limits;
    auto server = GrpcServer::Start(options, {}, {"test.Service"});
    EXPECT_TRUE(server.ok()) << server.status();
    if (!server.ok()) return nullptr;
    server_ = *std::move(server);
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(-1);
    args.SetMaxSendMessageSize(-1);
    return Health::NewStub(
        grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", server_->port()),
                                  grpc::InsecureChannelCredentials(), args));
  }

  static grpc::Status Check(Health::Stub* stub, const std::string& service,
                            HealthCheckResponse* response) {
    grpc::ClientContext context;
    HealthCheckRequest request;
    request.set_service(service);
    return stub->Check(&context, request, response);
  }

  std::unique_ptr<GrpcServer> server_;
};

TEST_F(MessageLimitsTest, ARequestPastTheLimitIsRefused) {
  GrpcServer::Limits limits;
  limits.max_message_bytes = 64;
  std::unique_ptr<Health::Stub> stub = Start(limits);
  ASSERT_NE(stub, nullptr);
  HealthCheckResponse response;
  // "test.Service" is a 14-byte request: within the limit.
  EXPECT_TRUE(Check(stub.get(), "test.Service", &response).ok());
  EXPECT_EQ(response.status(), HealthCheckResponse::SERVING);
  grpc::Status big = Check(stub.get(), std::string(100, 'x'), &response);
  EXPECT_EQ(big.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << big.error_message();
}

TEST_F(MessageLimitsTest, AResponsePastTheLimitIsNotSent) {
  GrpcServer::Limits limits;
  // SERVING is a 2-byte response.
  limits.max_send_message_bytes = 1;
  std::unique_ptr<Health::Stub> stub = Start(limits);
  ASSERT_NE(stub, nullptr);
  HealthCheckResponse response;
  grpc::Status s = Check(stub.get(), "", &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << s.error_message();
}

// ConnectionGuard never closes a client whose calls end normally, even
// with tight rules: a block of 10 calls and the pending limit at the
// stream limit.
TEST_F(MessageLimitsTest, AClientThatFinishesItsCallsStaysConnected) {
  GrpcServer::Limits limits;
  limits.rapid_reset_calls = 10;
  limits.max_concurrent_streams = 20;
  limits.max_pending_calls = 20;
  std::unique_ptr<Health::Stub> stub = Start(limits);
  ASSERT_NE(stub, nullptr);
  HealthCheckResponse response;
  for (int i = 0; i < 300; ++i) {
    ASSERT_TRUE(Check(stub.get(), "", &response).ok());
  }
  // 20 at once, the stream limit, many times over.
  for (int round = 0; round < 10; ++round) {
    struct Call {
      grpc::ClientContext context;
      HealthCheckResponse response;
      grpc::Status status;
    };
    std::vector<Call> calls(20);
    absl::Mutex mu;
    int done = 0;
    HealthCheckRequest request;
    for (Call& c : calls) {
      stub->async()->Check(&c.context, &request, &c.response,
                           [&mu, &done, &c](grpc::Status s) {
                             absl::MutexLock lock(&mu);
                             c.status = std::move(s);
                             ++done;
                           });
    }
    absl::MutexLock lock(&mu);
    mu.Await(absl::Condition(
        +[](int* n) { return *n == 20; }, &done));
    for (const Call& c : calls) ASSERT_TRUE(c.status.ok());
  }
  EXPECT_EQ(server_->closed_for_resets(), 0);
}

// Server reflection is a synchronous service: its calls end through a
// completion queue of their own, which the guard's interceptor must not
// poll (that recursed until the stack overflowed).
TEST(GrpcServerTest, SynchronousCallsPassTheGuard) {
  GrpcServer::Options options;
  options.listen = "127.0.0.1:0";
  auto server = GrpcServer::Start(options, {}, {});
  ASSERT_TRUE(server.ok()) << server.status();
  auto channel =
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", (*server)->port()),
                          grpc::InsecureChannelCredentials());
  // ServerReflectionRequest{list_services: ""}: field 7, an empty string.
  const std::string list_services("\x3a\x00", 2);
  for (int i = 0; i < 60; ++i) {
    std::vector<std::string> replies;
    grpc::Status s = testing::RawCall(
        channel,
        "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
        {list_services}, &replies);
    ASSERT_TRUE(s.ok()) << i << ": " << s.error_message();
    ASSERT_EQ(replies.size(), 1u);
    EXPECT_NE(replies[0].find("grpc.health.v1.Health"), std::string::npos);
  }
  EXPECT_EQ((*server)->closed_for_resets(), 0);
}

// Whether this machine can bind the IPv6 loopback at all.
bool HasIpv6Loopback() {
  int fd = socket(AF_INET6, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in6 addr{};
  addr.sin6_family = AF_INET6;
  addr.sin6_addr = in6addr_loopback;
  const bool ok =
      bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return ok;
}

bool Serves(const std::string& target) {
  auto stub = Health::NewStub(
      grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(10));
  HealthCheckRequest request;
  HealthCheckResponse response;
  return stub->Check(&context, request, &response).ok();
}

TEST(GrpcServerTest, ListensOnIpv6Loopback) {
  if (!HasIpv6Loopback()) GTEST_SKIP() << "no IPv6 loopback here";
  GrpcServer::Options options;
  options.listen = "[::1]:0";
  auto server = GrpcServer::Start(options, {}, {});
  ASSERT_TRUE(server.ok()) << server.status();
  EXPECT_TRUE(Serves(absl::StrCat("[::1]:", (*server)->port())));
}

// 0.0.0.0 is any address of either family, as gRPC's own listener takes
// it: IPv6 clients reach the default --listen too.
TEST(GrpcServerTest, TheIpv4WildcardTakesBothFamilies) {
  GrpcServer::Options options;
  options.listen = "0.0.0.0:0";
  auto server = GrpcServer::Start(options, {}, {});
  ASSERT_TRUE(server.ok()) << server.status();
  EXPECT_TRUE(Serves(absl::StrCat("127.0.0.1:", (*server)->port())));
  if (HasIpv6Loopback()) {
    EXPECT_TRUE(Serves(absl::StrCat("[::1]:", (*server)->port())));
  }
}

TEST(GrpcServerTest, WithoutTheGuardGrpcListensItself) {
  GrpcServer::Options options;
  options.listen = "127.0.0.1:0";
  options.limits.rapid_reset_calls = 0;
  options.limits.max_pending_calls = 0;
  auto server = GrpcServer::Start(options, {}, {});
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_GT((*server)->port(), 0);
  EXPECT_TRUE(Serves(absl::StrCat("127.0.0.1:", (*server)->port())));
}

TEST(GrpcServerTest, AUnixSocketThatCannotBeBoundIsUnavailable) {
  GrpcServer::Options options;
  options.listen = "unix:/nonexistent-dir/oppmatrix.sock";
  auto server = GrpcServer::Start(options, {}, {});
  EXPECT_EQ(server.status().code(), absl::StatusCode::kUnavailable);
}

TEST(GrpcServerTest, APortInUseIsUnavailable) {
  GrpcServer::Options options;
  options.listen = "127.0.0.1:0";
  auto first = GrpcServer::Start(options, {}, {});
  ASSERT_TRUE(first.ok()) << first.status();
  options.listen = absl::StrCat("127.0.0.1:", (*first)->port());
  auto second = GrpcServer::Start(options, {}, {});
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(second.status().message(),
            absl::StrCat("cannot listen on ", options.listen,
                         ": Address already in use"));
}

TEST(MemoryTrimmerTest, GivesBackWhatWasFreed) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "the sanitizer's allocator keeps freed memory itself; "
                  "malloc_trim gives back glibc's";
#endif
  // 64 MiB in 1 KiB blocks, then every block but one in 64 freed: holes
  // of 63 KiB that malloc keeps until trimmed.
  constexpr int kBlocks = 64 << 10;
  std::vector<std::unique_ptr<char[]>> blocks(kBlocks);
  for (auto& b : blocks) {
    b.reset(new char[1024]);
    for (int i = 0; i < 1024; i += 256) b[i] = 1;  // resident
  }
  for (int i = 0; i < kBlocks; ++i) {
    if (i % 64 != 0) blocks[i].reset();
  }
  EXPECT_GE(MemoryTrimmer::TrimNow(), int64_t{16} << 20);
}

TEST(MemoryTrimmerTest, StopsWhenDestroyed) {
  { MemoryTrimmer trimmer(absl::Milliseconds(1)); }
  { MemoryTrimmer never(absl::ZeroDuration()); }
  SUCCEED();
}

}  // namespace
}  // namespace oppmatrix
