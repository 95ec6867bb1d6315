// Percentiles by nearest rank, exact for every sample count.
#include "clients/bench/latency_recorder.h"

#include <algorithm>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace oppmatrix {
namespace {

absl::Duration Us(int64_t n) { return absl::Microseconds(n); }

// 1, 2, ..., n microseconds, recorded in a shuffled order.
LatencyRecorder OneTo(int n) {
  std::vector<int> values(n);
  for (int i = 0; i < n; ++i) values[i] = i + 1;
  std::shuffle(values.begin(), values.end(), std::mt19937(7));
  LatencyRecorder r;
  for (int v : values) r.Record(Us(v));
  return r;
}

TEST(LatencyRecorderTest, NothingRecordedIsAllZero) {
  LatencyRecorder r;
  EXPECT_EQ(r.Percentile(0.5), absl::ZeroDuration());
  LatencySummary s = r.Summarize();
  EXPECT_EQ(s.count, 0);
  EXPECT_EQ(s.p99, absl::ZeroDuration());
  EXPECT_EQ(s.mean, absl::ZeroDuration());
}

TEST(LatencyRecorderTest, OneSampleIsEveryPercentile) {
  LatencyRecorder r;
  r.Record(Us(42));
  LatencySummary s = r.Summarize();
  EXPECT_EQ(s.count, 1);
  EXPECT_EQ(s.min, Us(42));
  EXPECT_EQ(s.p50, Us(42));
  EXPECT_EQ(s.p999, Us(42));
  EXPECT_EQ(s.max, Us(42));
  EXPECT_EQ(s.mean, Us(42));
}

TEST(LatencyRecorderTest, HundredSamples) {
  LatencyRecorder r = OneTo(100);
  LatencySummary s = r.Summarize();
  EXPECT_EQ(s.count, 100);
  EXPECT_EQ(s.min, Us(1));
  EXPECT_EQ(s.p50, Us(50));
  EXPECT_EQ(s.p90, Us(90));
  EXPECT_EQ(s.p99, Us(99));
  // Rank ceil(0.999 * 100) = 100: the maximum.
  EXPECT_EQ(s.p999, Us(100));
  EXPECT_EQ(s.max, Us(100));
  EXPECT_EQ(s.mean, absl::Nanoseconds(50500));
}

TEST(LatencyRecorderTest, WholeRanksAreNotRoundedUp) {
  // 0.999 * 1000 and 0.9 * 10 are not whole numbers in binary floating
  // point; their ranks are still 999 and 9.
  LatencyRecorder thousand = OneTo(1000);
  EXPECT_EQ(thousand.Percentile(0.999), Us(999));
  EXPECT_EQ(thousand.Percentile(0.99), Us(990));
  EXPECT_EQ(thousand.Percentile(0.5), Us(500));
  LatencyRecorder ten = OneTo(10);
  EXPECT_EQ(ten.Percentile(0.9), Us(9));
  EXPECT_EQ(ten.Percentile(0.7), Us(7));
}

TEST(LatencyRecorderTest, FractionalRanksRoundUp) {
  LatencyRecorder r = OneTo(3);
  EXPECT_EQ(r.Percentile(0.5), Us(2));   // rank ceil(1.5) = 2
  EXPECT_EQ(r.Percentile(0.34), Us(2));  // rank ceil(1.02) = 2
  EXPECT_EQ(r.Percentile(0.33), Us(1));  // rank ceil(0.99) = 1
  LatencyRecorder big = OneTo(1001);
  EXPECT_EQ(big.Percentile(0.999), Us(1000));  // rank ceil(999.999)
  EXPECT_EQ(big.Percentile(0.5), Us(501));     // rank ceil(500.5)
}

TEST(LatencyRecorderTest, QuantilesOutsideZeroToOneAreClamped) {
  LatencyRecorder r = OneTo(10);
  EXPECT_EQ(r.Percentile(0), Us(1));
  EXPECT_EQ(r.Percentile(-1), Us(1));
  EXPECT_EQ(r.Percentile(1), Us(10));
  EXPECT_EQ(r.Percentile(2), Us(10));
}

TEST(LatencyRecorderTest, TailIsTheSlowFewNotTheAverage) {
  // 990 fast calls and 10 slow ones: p99 is still fast, p99.9 is slow.
  LatencyRecorder r;
  for (int i = 0; i < 10; ++i) r.Record(absl::Milliseconds(50));
  for (int i = 0; i < 990; ++i) r.Record(Us(100));
  LatencySummary s = r.Summarize();
  EXPECT_EQ(s.p50, Us(100));
  EXPECT_EQ(s.p99, Us(100));
  EXPECT_EQ(s.p999, absl::Milliseconds(50));
}

TEST(LatencyRecorderTest, MergeIsTheUnionOfSamples) {
  LatencyRecorder a, b;
  for (int i = 1; i <= 50; ++i) a.Record(Us(2 * i));      // even
  for (int i = 1; i <= 50; ++i) b.Record(Us(2 * i - 1));  // odd
  a.Merge(b);
  EXPECT_EQ(a.count(), 100);
  EXPECT_EQ(a.Percentile(0.5), Us(50));
  EXPECT_EQ(a.Percentile(0.9), Us(90));
  EXPECT_EQ(a.Summarize().min, Us(1));
}

TEST(LatencyRecorderTest, RecordingAfterAPercentileStillCounts) {
  LatencyRecorder r = OneTo(10);
  EXPECT_EQ(r.Percentile(1), Us(10));
  r.Record(Us(5));
  r.Record(Us(1000));
  EXPECT_EQ(r.count(), 12);
  EXPECT_EQ(r.Percentile(1), Us(1000));
  EXPECT_EQ(r.Percentile(0.5), Us(5));  // 1 2 3 4 5 5 | ...: rank 6
}

TEST(LatencyRecorderTest, NegativeLatencyIsZero) {
  LatencyRecorder r;
  r.Record(Us(-3));
  EXPECT_EQ(r.Percentile(0.5), absl::ZeroDuration());
}

}  // namespace
}  // namespace oppmatrix
