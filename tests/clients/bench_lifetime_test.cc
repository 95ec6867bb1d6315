// Lifetimes of the bench's calls against servers that come and go: every
// RPC target (the unary ones and the stream) run against a classifier that
// is started, loaded, and stopped, round after round, with one thread
// spinning so the calls' threads get preempted where they are. Before the
// fix of issue 10 a callback could drop the last reference to a channel on
// one of gRPC's own callback threads, which frees the completion queue
// that thread is polling (grpc/grpc#32584) and aborts the process with
// "ref_counted.h:183] assertion failed: prior > 0". So the first thing
// these tests check is that the process is still here; then that every
// call was accounted for.
#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "absl/synchronization/notification.h"
#include "clients/bench/load_generator.h"
#include "clients/bench/rpc_targets.h"
#include "clients/cpp/classification_client.h"
#include "gtest/gtest.h"
#include "services/store/redis_result_store.h"
#include "services/store/redis_url.h"
#include "tests/classifier/test_server.h"
#include "tests/testing/redis_server.h"

namespace oppmatrix {
namespace {

using testing::TestClassifier;

// Rounds of each test: with one core spinning, the unfixed code aborted
// within this many rounds in most runs (see the note of issue 10).
constexpr int kRounds = 40;

// A thread that spins until destroyed: the load that makes a callback
// thread lose its core between two statements.
class BusyCore {
 public:
  BusyCore()
      : thread_([this] {
          while (!stop_.load(std::memory_order_relaxed)) {
          }
        }) {}
  ~BusyCore() {
    stop_ = true;
    thread_.join();
  }

 private:
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

std::unique_ptr<ClassificationClient> ClientFor(const std::string& target) {
  ClientOptions options;
  options.target = target;
  options.max_attempts = 1;
  options.timeout = absl::Seconds(10);
  auto client = ClassificationClient::Create(options);
  EXPECT_TRUE(client.ok()) << client.status();
  return *std::move(client);
}

// Counts the calls that completed, so a test can act in the middle of a
// run (after `n` completions).
class CountingTarget : public RpcTarget {
 public:
  explicit CountingTarget(RpcTarget* inner) : inner_(inner) {}

  absl::Status Prepare() override { return inner_->Prepare(); }
  void Start(Done done) override {
    inner_->Start([this, done = std::move(done)](const Outcome& o) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        ++completed_;
        cv_.notify_all();
      }
      done(o);  // last: the run may end in it, and this target with it
    });
  }
  void Finish() override { inner_->Finish(); }

  void AwaitCompleted(int64_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return completed_ >= n; });
  }

 private:
  RpcTarget* inner_;
  std::mutex mu_;
  std::condition_variable cv_;
  int64_t completed_ = 0;
};

class BenchLifetimeTest : public ::testing::TestWithParam<Rpc> {
 protected:
  static void SetUpTestSuite() {
    redis_ = new testing::RedisServer();
    ASSERT_TRUE(redis_->Start().ok());
    redis_client_ = testing::TestRedisClient(redis_->url()).release();
    store_ = new RedisResultStore(redis_client_, RedisResultStore::Options{});
  }
  static void TearDownTestSuite() {
    delete store_;
    delete redis_client_;
    delete redis_;
  }

  static testing::RedisServer* redis_;
  static AsyncRedis* redis_client_;
  static RedisResultStore* store_;
};

testing::RedisServer* BenchLifetimeTest::redis_ = nullptr;
AsyncRedis* BenchLifetimeTest::redis_client_ = nullptr;
RedisResultStore* BenchLifetimeTest::store_ = nullptr;

TEST_P(BenchLifetimeTest, EachRoundStartsLoadsAndStopsItsServer) {
  BusyCore busy;
  OpportunitySource source(GeneratePool("lifetime", 1, 20),
                           VersionBaseFromClock());
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE(round);
    auto server = std::make_unique<TestClassifier>(1000, store_);
    std::unique_ptr<ClassificationClient> client = ClientFor(server->target());
    std::unique_ptr<RpcTarget> target = MakeRpcTarget(
        GetParam(), *client, &source,
        {.timeout = absl::Seconds(10), .batch_size = 5, .streams = 2});
    ASSERT_TRUE(target->Prepare().ok());
    PhaseResult r = RunLoad(*target, {.concurrency = 8,
                                      .duration = absl::InfiniteDuration(),
                                      .max_requests = 40});
    target->Finish();
    EXPECT_EQ(r.requests, 40);
    EXPECT_EQ(r.ok, 40);
    // The order the bench tears down in: the target (its stubs), the
    // client (the channel), then the server.
    target.reset();
    client.reset();
    server.reset();
  }
}

TEST_P(BenchLifetimeTest, ServerStoppedWhileCallsAreInFlight) {
  BusyCore busy;
  OpportunitySource source(GeneratePool("lifetime", 2, 20),
                           VersionBaseFromClock());
  constexpr int64_t kCalls = 200;
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE(round);
    auto server = std::make_unique<TestClassifier>(1000, store_);
    std::unique_ptr<ClassificationClient> client = ClientFor(server->target());
    std::unique_ptr<RpcTarget> inner = MakeRpcTarget(
        GetParam(), *client, &source,
        {.timeout = absl::Seconds(10), .batch_size = 5, .streams = 2});
    ASSERT_TRUE(inner->Prepare().ok());
    CountingTarget target(inner.get());
    PhaseResult r;
    std::thread load([&] {
      r = RunLoad(target, {.concurrency = 8,
                           .duration = absl::InfiniteDuration(),
                           .max_requests = kCalls});
    });
    // A few calls have been answered; the rest meet a server going away.
    target.AwaitCompleted(10);
    server.reset();
    load.join();
    target.Finish();
    EXPECT_EQ(r.requests, kCalls);
    EXPECT_GE(r.ok, 10);
    for (const auto& [code, n] : r.errors) {
      // A call the server dropped (its shutdown cancels what is still
      // running), one refused by a server that is gone, one pending on a
      // stream the shutdown ended, or one whose stream was reset.
      EXPECT_TRUE(code == grpc::StatusCode::UNAVAILABLE ||
                  code == grpc::StatusCode::CANCELLED ||
                  code == grpc::StatusCode::UNKNOWN ||
                  code == grpc::StatusCode::INTERNAL)
          << code << " x" << n;
    }
    inner.reset();
    client.reset();
  }
}

INSTANTIATE_TEST_SUITE_P(EveryRpc, BenchLifetimeTest,
                         ::testing::Values(Rpc::kHealth, Rpc::kClassify,
                                           Rpc::kBatch, Rpc::kStream,
                                           Rpc::kGet),
                         [](const ::testing::TestParamInfo<Rpc>& info) {
                           return std::string(RpcName(info.param));
                         });

}  // namespace
}  // namespace oppmatrix
