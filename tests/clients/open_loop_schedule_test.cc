// The open-loop schedule with a clock the test moves: send times, late and
// dropped sends, and the end of the run.
#include "clients/bench/open_loop_schedule.h"

#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace oppmatrix {
namespace {

using ::testing::ElementsAre;

const absl::Time kStart = absl::FromUnixSeconds(1'800'000'000);

absl::Time At(double ms) { return kStart + absl::Milliseconds(ms); }

std::vector<int64_t> Indexes(const std::vector<OpenLoopSchedule::Send>& s) {
  std::vector<int64_t> out;
  for (const auto& send : s) out.push_back(send.index);
  return out;
}

TEST(OpenLoopScheduleTest, SendTimesAreFixedByTheRate) {
  OpenLoopSchedule s({.rate = 1000}, kStart);
  EXPECT_EQ(s.SendTime(0), kStart);
  EXPECT_EQ(s.SendTime(1), At(1));
  EXPECT_EQ(s.SendTime(2500), At(2500));
  OpenLoopSchedule third({.rate = 3}, kStart);
  // No drift: request 3000 is due exactly 1000 s in.
  EXPECT_EQ(third.SendTime(3000), kStart + absl::Seconds(1000));
}

TEST(OpenLoopScheduleTest, TakesWhatIsDueInOrder) {
  OpenLoopSchedule s({.rate = 1000}, kStart);
  EXPECT_EQ(s.next_due(), kStart);
  std::vector<OpenLoopSchedule::Send> first = s.TakeDue(kStart, 0);
  EXPECT_THAT(Indexes(first), ElementsAre(0));
  EXPECT_EQ(first[0].scheduled, kStart);
  EXPECT_EQ(s.next_due(), At(1));
  EXPECT_TRUE(s.TakeDue(At(0.5), 0).empty());
  std::vector<OpenLoopSchedule::Send> more = s.TakeDue(At(3.2), 0);
  EXPECT_THAT(Indexes(more), ElementsAre(1, 2, 3));
  EXPECT_EQ(more[2].scheduled, At(3));
  EXPECT_EQ(s.next_due(), At(4));
  EXPECT_EQ(s.sent(), 4);
}

TEST(OpenLoopScheduleTest, SendsTakenBehindTheirTimeAreLate) {
  OpenLoopSchedule s({.rate = 1000, .late_after = absl::Milliseconds(1)},
                     kStart);
  // At 2.5 ms: send 0 is 2.5 ms behind, 1 is 1.5 ms behind (both late), 2
  // is 0.5 ms behind (in time).
  EXPECT_THAT(Indexes(s.TakeDue(At(2.5), 0)), ElementsAre(0, 1, 2));
  EXPECT_EQ(s.late(), 2);
  // Send 3 taken exactly late_after behind, send 4 on time: neither late.
  EXPECT_THAT(Indexes(s.TakeDue(At(4), 0)), ElementsAre(3, 4));
  EXPECT_EQ(s.late(), 2);
  EXPECT_EQ(s.dropped(), 0);
}

TEST(OpenLoopScheduleTest, DropsWhatWouldExceedMaxOutstanding) {
  OpenLoopSchedule s({.rate = 1000, .max_outstanding = 5}, kStart);
  // 2 in flight already: 3 more may start; the other 2 due are dropped.
  EXPECT_THAT(Indexes(s.TakeDue(At(4), 2)), ElementsAre(0, 1, 2));
  EXPECT_EQ(s.sent(), 3);
  EXPECT_EQ(s.dropped(), 2);
  // Dropped sends are gone, not delayed: the schedule moves on.
  EXPECT_EQ(s.next_due(), At(5));
  EXPECT_TRUE(s.TakeDue(At(5), 5).empty());
  EXPECT_EQ(s.dropped(), 3);
  EXPECT_THAT(Indexes(s.TakeDue(At(6), 0)), ElementsAre(6));
}

TEST(OpenLoopScheduleTest, EndsAfterTheDuration) {
  OpenLoopSchedule s({.rate = 1000, .duration = absl::Milliseconds(3)}, kStart);
  // Due at 0, 1 and 2 ms; 3 ms is the end, not a send.
  EXPECT_THAT(Indexes(s.TakeDue(At(100), 0)), ElementsAre(0, 1, 2));
  EXPECT_TRUE(s.done());
  EXPECT_EQ(s.next_due(), absl::InfiniteFuture());
  EXPECT_TRUE(s.TakeDue(At(200), 0).empty());
}

TEST(OpenLoopScheduleTest, EndsAfterMaxRequestsSentOrDropped) {
  OpenLoopSchedule s({.rate = 1000, .max_requests = 4, .max_outstanding = 2},
                     kStart);
  EXPECT_THAT(Indexes(s.TakeDue(At(1), 0)), ElementsAre(0, 1));
  EXPECT_FALSE(s.done());
  EXPECT_THAT(Indexes(s.TakeDue(At(10), 0)), ElementsAre(2, 3));
  EXPECT_TRUE(s.done());
  EXPECT_EQ(s.sent(), 4);
  EXPECT_EQ(s.dropped(), 0);
}

}  // namespace
}  // namespace oppmatrix
