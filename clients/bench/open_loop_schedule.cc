#include "clients/bench/open_loop_schedule.h"

namespace oppmatrix {

OpenLoopSchedule::OpenLoopSchedule(const Options& options, absl::Time start)
    : options_(options), start_(start), end_(start + options.duration) {}

absl::Time OpenLoopSchedule::SendTime(int64_t index) const {
  // Seconds as a double keep sub-nanosecond precision for any realistic
  // index and rate; rounding each time from the start accumulates no drift.
  return start_ + absl::Seconds(static_cast<double>(index) / options_.rate);
}

bool OpenLoopSchedule::done() const {
  if (options_.max_requests > 0 && next_ >= options_.max_requests) return true;
  return SendTime(next_) >= end_;
}

absl::Time OpenLoopSchedule::next_due() const {
  return done() ? absl::InfiniteFuture() : SendTime(next_);
}

std::vector<OpenLoopSchedule::Send> OpenLoopSchedule::TakeDue(
    absl::Time now, int64_t outstanding) {
  std::vector<Send> sends;
  while (!done()) {
    const absl::Time scheduled = SendTime(next_);
    if (scheduled > now) break;
    if (outstanding + static_cast<int64_t>(sends.size()) >=
        options_.max_outstanding) {
      ++dropped_;
    } else {
      if (now - scheduled > options_.late_after) ++late_;
      ++sent_;
      sends.push_back({next_, scheduled});
    }
    ++next_;
  }
  return sends;
}

}  // namespace oppmatrix
