// Latencies of one load run, kept exactly (8 bytes a sample), and their
// percentiles by the nearest-rank method: the p-th percentile is the
// smallest recorded value such that at least p% of the values are less or
// equal to it. Not thread-safe; merge per-thread recorders with Merge().
//
//   LatencyRecorder r;
//   r.Record(absl::Microseconds(180));
//   LatencySummary s = r.Summarize();  // s.p50, s.p99, ...
#ifndef OPPMATRIX_CLIENTS_BENCH_LATENCY_RECORDER_H_
#define OPPMATRIX_CLIENTS_BENCH_LATENCY_RECORDER_H_

#include <cstdint>
#include <vector>

#include "absl/time/time.h"

namespace oppmatrix {

struct LatencySummary {
  int64_t count = 0;
  // All zero when count is 0.
  absl::Duration min, p50, p90, p99, p999, max, mean;
};

class LatencyRecorder {
 public:
  // Negative latencies (a clock step) are recorded as zero.
  void Record(absl::Duration latency);
  void Merge(const LatencyRecorder& other);
  void Clear() { nanos_.clear(); }
  int64_t count() const { return static_cast<int64_t>(nanos_.size()); }

  // The q-quantile (q in [0, 1]; clamped) by nearest rank: the value of
  // rank ceil(q * count) in ascending order (rank 1 for q = 0). Zero when
  // nothing was recorded. Sorts the samples; O(n log n) the first time.
  absl::Duration Percentile(double q);
  LatencySummary Summarize();

 private:
  void Sort();

  std::vector<int64_t> nanos_;
  bool sorted_ = true;
};

}  // namespace oppmatrix

#endif  // OPPMATRIX_CLIENTS_BENCH_LATENCY_RECORDER_H_
