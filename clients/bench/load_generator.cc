#include "clients/bench/load_generator.h"

#include <atomic>
#include <condition_variable>
#include <mutex>

#include "absl/time/clock.h"
#include "clients/bench/open_loop_schedule.h"

namespace oppmatrix {
namespace {

// The outcomes of one run, from any thread.
class Collector {
 public:
  explicit Collector(absl::Time start) : start_(start) {}

  void Record(const Outcome& outcome, absl::Duration latency) {
    const absl::Time now = absl::Now();
    std::lock_guard<std::mutex> lock(mu_);
    ++result_.requests;
    // Failed calls are timed too: a deadline hit is the latency a caller
    // saw, and leaving it out would flatter the tail.
    latencies_.Record(latency);
    if (outcome.code == grpc::StatusCode::OK) {
      ++result_.ok;
      result_.items += outcome.items;
    } else {
      ++result_.errors[outcome.code];
    }
    if (now > last_) last_ = now;
  }

  PhaseResult Take() {
    std::lock_guard<std::mutex> lock(mu_);
    result_.latency = latencies_.Summarize();
    result_.elapsed = std::max(last_ - start_, absl::ZeroDuration());
    return result_;
  }

 private:
  const absl::Time start_;
  std::mutex mu_;
  PhaseResult result_;
  LatencyRecorder latencies_;
  absl::Time last_ = absl::InfinitePast();
};

// `concurrency` chains of calls: each completion starts the chain's next
// call until the run's end. A chain's next Start() runs inside the `done`
// of its previous call, and that new call may complete (and end the run)
// on another thread before Start() has returned; so the run ends only when
// every chain has ended and no Start() is still running: the target is
// destroyed after Run(), and must not be in use then.
class ClosedLoop {
 public:
  ClosedLoop(RpcTarget& target, const LoadShape& shape, absl::Time start)
      : target_(target),
        shape_(shape),
        end_(start + shape.duration),
        collector_(start) {}

  PhaseResult Run() {
    active_ = shape_.concurrency;
    for (int i = 0; i < shape_.concurrency; ++i) Issue();
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return active_ == 0 && starting_ == 0; });
    return collector_.Take();
  }

 private:
  // Starts the next call of a chain, or ends the chain.
  void Issue() {
    const int64_t n = issued_.fetch_add(1);
    const absl::Time now = absl::Now();
    if ((shape_.max_requests > 0 && n >= shape_.max_requests) || now >= end_) {
      std::lock_guard<std::mutex> lock(mu_);
      if (--active_ == 0 && starting_ == 0) cv_.notify_all();
      return;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++starting_;
    }
    target_.Start([this, now](const Outcome& outcome) {
      collector_.Record(outcome, absl::Now() - now);
      Issue();
    });
    std::lock_guard<std::mutex> lock(mu_);
    if (--starting_ == 0 && active_ == 0) cv_.notify_all();
  }

  RpcTarget& target_;
  const LoadShape shape_;
  const absl::Time end_;
  Collector collector_;
  std::atomic<int64_t> issued_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  // Chains still running, and Start() calls not yet returned.
  int active_ = 0;
  int starting_ = 0;
};

// Calls started on OpenLoopSchedule's times by this thread.
class OpenLoop {
 public:
  OpenLoop(RpcTarget& target, const LoadShape& shape, absl::Time start)
      : target_(target),
        schedule_({.rate = shape.rate,
                   .duration = shape.duration,
                   .max_requests = shape.max_requests,
                   .late_after = shape.late_after,
                   .max_outstanding = shape.max_outstanding},
                  start),
        collector_(start) {}

  PhaseResult Run() {
    while (!schedule_.done()) {
      for (const OpenLoopSchedule::Send& send :
           schedule_.TakeDue(absl::Now(), outstanding_.load())) {
        outstanding_.fetch_add(1);
        target_.Start([this, scheduled = send.scheduled](const Outcome& o) {
          collector_.Record(o, absl::Now() - scheduled);
          std::lock_guard<std::mutex> lock(mu_);
          if (outstanding_.fetch_sub(1) == 1) cv_.notify_all();
        });
      }
      if (schedule_.done()) break;
      const absl::Duration wait = schedule_.next_due() - absl::Now();
      if (wait > absl::ZeroDuration()) absl::SleepFor(wait);
    }
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return outstanding_.load() == 0; });
    }
    PhaseResult result = collector_.Take();
    result.late = schedule_.late();
    result.dropped = schedule_.dropped();
    return result;
  }

 private:
  RpcTarget& target_;
  OpenLoopSchedule schedule_;
  Collector collector_;
  std::atomic<int64_t> outstanding_{0};
  std::mutex mu_;
  std::condition_variable cv_;
};

}  // namespace

double PhaseResult::qps() const {
  const double s = absl::ToDoubleSeconds(elapsed);
  return s > 0 ? ok / s : 0;
}

double PhaseResult::items_per_second() const {
  const double s = absl::ToDoubleSeconds(elapsed);
  return s > 0 ? items / s : 0;
}

PhaseResult RunLoad(RpcTarget& target, const LoadShape& shape) {
  const absl::Time start = absl::Now();
  if (shape.rate > 0) return OpenLoop(target, shape, start).Run();
  return ClosedLoop(target, shape, start).Run();
}

}  // namespace oppmatrix
