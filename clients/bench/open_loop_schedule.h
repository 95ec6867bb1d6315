// The send times of an open-loop run: request i is due at
// start + i / rate, whatever happened to the requests before it, so a slow
// server can't slow the load down (no coordinated omission). The schedule
// is a pure function of the times it is given; the caller owns the clock.
//
//   OpenLoopSchedule schedule({.rate = 1000, .duration = absl::Seconds(5)},
//                             absl::Now());
//   while (!schedule.done()) {
//     for (const auto& send : schedule.TakeDue(absl::Now(), outstanding))
//       Start(send.index, send.scheduled);  // latency from send.scheduled
//     SleepUntil(schedule.next_due());
//   }
#ifndef OPPMATRIX_CLIENTS_BENCH_OPEN_LOOP_SCHEDULE_H_
#define OPPMATRIX_CLIENTS_BENCH_OPEN_LOOP_SCHEDULE_H_

#include <cstdint>
#include <vector>

#include "absl/time/time.h"

namespace oppmatrix {

class OpenLoopSchedule {
 public:
  struct Options {
    // Requests per second; more than 0.
    double rate = 100;
    // Sends are scheduled in [start, start + duration).
    absl::Duration duration = absl::InfiniteDuration();
    // At most this many sends in all (sent or dropped); 0 is no limit.
    int64_t max_requests = 0;
    // A send taken more than this after its scheduled time is late.
    absl::Duration late_after = absl::Milliseconds(1);
    // A due send is dropped (not sent) while this many calls are
    // outstanding.
    int64_t max_outstanding = 10000;
  };

  struct Send {
    int64_t index;
    absl::Time scheduled;
  };

  OpenLoopSchedule(const Options& options, absl::Time start);

  // When request `index` is due.
  absl::Time SendTime(int64_t index) const;

  // The sends due at `now` not taken yet, in order, to start now with
  // `outstanding` calls already in flight. Those beyond max_outstanding are
  // dropped instead (counted, not returned).
  std::vector<Send> TakeDue(absl::Time now, int64_t outstanding);

  // When the next send is due; InfiniteFuture() once done().
  absl::Time next_due() const;
  // No sends are left.
  bool done() const;

  // Sends returned by TakeDue, of which `late` were late; sends dropped.
  int64_t sent() const { return sent_; }
  int64_t late() const { return late_; }
  int64_t dropped() const { return dropped_; }

 private:
  Options options_;
  absl::Time start_;
  absl::Time end_;
  int64_t next_ = 0;
  int64_t sent_ = 0;
  int64_t late_ = 0;
  int64_t dropped_ = 0;
};

}  // namespace oppmatrix

#endif  // OPPMATRIX_CLIENTS_BENCH_OPEN_LOOP_SCHEDULE_H_
