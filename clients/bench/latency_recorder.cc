#include "clients/bench/latency_recorder.h"

#include <algorithm>
#include <cmath>

namespace oppmatrix {

void LatencyRecorder::Record(absl::Duration latency) {
  int64_t ns = absl::ToInt64Nanoseconds(latency);
  if (!nanos_.empty() && ns < nanos_.back()) sorted_ = false;
  nanos_.push_back(std::max<int64_t>(ns, 0));
}

void LatencyRecorder::Merge(const LatencyRecorder& other) {
  if (other.nanos_.empty()) return;
  if (!nanos_.empty() && other.nanos_.front() < nanos_.back()) sorted_ = false;
  sorted_ = sorted_ && other.sorted_;
  nanos_.insert(nanos_.end(), other.nanos_.begin(), other.nanos_.end());
}

void LatencyRecorder::Sort() {
  if (sorted_) return;
  std::sort(nanos_.begin(), nanos_.end());
  sorted_ = true;
}

absl::Duration LatencyRecorder::Percentile(double q) {
  if (nanos_.empty()) return absl::ZeroDuration();
  Sort();
  const int64_t n = count();
  q = std::clamp(q, 0.0, 1.0);
  // ceil(q * n), forgiving the rounding error of q * n: 0.999 * 1000 is
  // 998.9999999999999 in binary and must give rank 999, not 1000.
  const double exact = q * static_cast<double>(n);
  int64_t rank = static_cast<int64_t>(std::ceil(exact - exact * 1e-12));
  rank = std::clamp<int64_t>(rank, 1, n);
  return absl::Nanoseconds(nanos_[rank - 1]);
}

LatencySummary LatencyRecorder::Summarize() {
  LatencySummary s;
  s.count = count();
  if (s.count == 0) return s;
  Sort();
  s.min = absl::Nanoseconds(nanos_.front());
  s.max = absl::Nanoseconds(nanos_.back());
  s.p50 = Percentile(0.5);
  s.p90 = Percentile(0.9);
  s.p99 = Percentile(0.99);
  s.p999 = Percentile(0.999);
  long double sum = 0;
  for (int64_t ns : nanos_) sum += ns;
  s.mean = absl::Nanoseconds(static_cast<int64_t>(sum / s.count));
  return s;
}

}  // namespace oppmatrix
