// The closed- and open-loop drivers against a fake RPC that completes on
// its own thread: how many calls start, how many are outstanding at once,
// and how outcomes are counted. Nothing here depends on speed.
#include "clients/bench/load_generator.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <future>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace oppmatrix {
namespace {

// Completes calls in order on a worker thread; every `fail_every`-th call
// fails with UNAVAILABLE.
class FakeTarget : public RpcTarget {
 public:
  explicit FakeTarget(int fail_every = 0, int64_t items = 1)
      : fail_every_(fail_every), items_(items), worker_([this] { Work(); }) {}

  ~FakeTarget() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    worker_.join();
  }

  void Start(Done done) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++started_;
    ++in_flight_;
    max_in_flight_ = std::max(max_in_flight_, in_flight_);
    const bool fail = fail_every_ > 0 && started_ % fail_every_ == 0;
    queue_.push_back({std::move(done), fail});
    cv_.notify_all();
  }

  int64_t started() {
    std::lock_guard<std::mutex> lock(mu_);
    return started_;
  }
  int64_t max_in_flight() {
    std::lock_guard<std::mutex> lock(mu_);
    return max_in_flight_;
  }

 private:
  struct Pending {
    Done done;
    bool fail;
  };

  void Work() {
    std::unique_lock<std::mutex> lock(mu_);
    while (true) {
      cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) return;
      Pending p = std::move(queue_.front());
      queue_.pop_front();
      --in_flight_;
      lock.unlock();
      p.done(p.fail ? Outcome{grpc::StatusCode::UNAVAILABLE, 0}
                    : Outcome{grpc::StatusCode::OK, items_});
      lock.lock();
    }
  }

  const int fail_every_;
  const int64_t items_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Pending> queue_;
  int64_t started_ = 0;
  int64_t in_flight_ = 0;
  int64_t max_in_flight_ = 0;
  bool stop_ = false;
  std::thread worker_;
};

TEST(LoadGeneratorTest, ClosedLoopStartsExactlyMaxRequests) {
  FakeTarget target;
  PhaseResult r = RunLoad(target, {.concurrency = 4,
                                   .duration = absl::InfiniteDuration(),
                                   .max_requests = 250});
  EXPECT_EQ(target.started(), 250);
  EXPECT_EQ(r.requests, 250);
  EXPECT_EQ(r.ok, 250);
  EXPECT_EQ(r.items, 250);
  EXPECT_TRUE(r.errors.empty());
  EXPECT_EQ(r.latency.count, 250);
  EXPECT_LE(target.max_in_flight(), 4);
  EXPECT_EQ(r.late, 0);
  EXPECT_EQ(r.dropped, 0);
}

TEST(LoadGeneratorTest, ClosedLoopKeepsAtMostConcurrencyOutstanding) {
  FakeTarget target;
  RunLoad(target, {.concurrency = 1,
                   .duration = absl::InfiniteDuration(),
                   .max_requests = 50});
  EXPECT_EQ(target.max_in_flight(), 1);
  // Fewer calls than chains: each chain's first call is the only one.
  FakeTarget few;
  PhaseResult r = RunLoad(few, {.concurrency = 8,
                                .duration = absl::InfiniteDuration(),
                                .max_requests = 3});
  EXPECT_EQ(few.started(), 3);
  EXPECT_EQ(r.requests, 3);
}

TEST(LoadGeneratorTest, ErrorsAreCountedByCodeAndTimed) {
  FakeTarget target(/*fail_every=*/10, /*items=*/5);
  PhaseResult r = RunLoad(target, {.concurrency = 3,
                                   .duration = absl::InfiniteDuration(),
                                   .max_requests = 100});
  EXPECT_EQ(r.requests, 100);
  EXPECT_EQ(r.ok, 90);
  EXPECT_EQ(r.error_count(), 10);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors.at(grpc::StatusCode::UNAVAILABLE), 10);
  EXPECT_EQ(r.latency.count, 100);  // failed calls are timed too
  EXPECT_EQ(r.items, 450);
}

TEST(LoadGeneratorTest, OpenLoopSendsEveryScheduledRequest) {
  FakeTarget target;
  // A rate far above what the fake can take makes every send due at once;
  // max_outstanding above the total means none is dropped.
  PhaseResult r = RunLoad(target, {.rate = 1e9,
                                   .duration = absl::InfiniteDuration(),
                                   .max_requests = 200,
                                   .max_outstanding = 1000});
  EXPECT_EQ(target.started(), 200);
  EXPECT_EQ(r.requests, 200);
  EXPECT_EQ(r.ok, 200);
  EXPECT_EQ(r.dropped, 0);
  EXPECT_EQ(r.latency.count, 200);
}

TEST(LoadGeneratorTest, OpenLoopNeverExceedsMaxOutstanding) {
  FakeTarget target;
  PhaseResult r = RunLoad(target, {.rate = 1e9,
                                   .duration = absl::InfiniteDuration(),
                                   .max_requests = 300,
                                   .max_outstanding = 2});
  EXPECT_LE(target.max_in_flight(), 2);
  // Every scheduled send is either finished or dropped.
  EXPECT_EQ(r.requests + r.dropped, 300);
  EXPECT_EQ(target.started(), r.requests);
}

// Its second call completes on another thread while Start() is still
// running: the run's last completion comes before its last Start()
// returns. Start() then gives RunLoad a moment to return, which it must not
// do while a Start() of its target is still running (the target is
// destroyed after RunLoad).
class SlowToReturnTarget : public RpcTarget {
 public:
  explicit SlowToReturnTarget(const std::atomic<bool>* run_returned)
      : run_returned_(run_returned) {}
  ~SlowToReturnTarget() override {
    for (std::thread& t : threads_) t.join();
  }

  void Start(Done done) override {
    std::unique_lock<std::mutex> lock(mu_);
    const int call = ++calls_;
    auto completed = std::make_shared<std::promise<void>>();
    std::future<void> f = completed->get_future();
    threads_.emplace_back([done = std::move(done), completed] {
      done(Outcome{});
      completed->set_value();
    });
    lock.unlock();
    if (call == 1) return;  // completes whenever
    // The last call: wait for its completion, then see whether the run
    // ends under this Start() (a bounded wait; with the run counting
    // Start() calls it never does).
    f.wait();
    for (int i = 0; i < 50 && !run_returned_->load(); ++i) {
      absl::SleepFor(absl::Milliseconds(2));
    }
    returned_early_ = run_returned_->load();
  }

  bool returned_early() const { return returned_early_; }

 private:
  const std::atomic<bool>* run_returned_;
  std::mutex mu_;
  int calls_ = 0;
  std::vector<std::thread> threads_;
  std::atomic<bool> returned_early_{false};
};

TEST(LoadGeneratorTest, ClosedLoopReturnsOnlyAfterEveryStartReturned) {
  std::atomic<bool> run_returned{false};
  SlowToReturnTarget target(&run_returned);
  PhaseResult r = RunLoad(target, {.concurrency = 1,
                                   .duration = absl::InfiniteDuration(),
                                   .max_requests = 2});
  run_returned = true;
  EXPECT_EQ(r.requests, 2);
  EXPECT_FALSE(target.returned_early());
}

}  // namespace
}  // namespace oppmatrix
