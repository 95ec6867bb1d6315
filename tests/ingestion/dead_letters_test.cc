// Dead-letter summaries: reasons grouped with their varying values masked,
// the largest group first, each with its first and last time and an
// example to replay; read from a real redis-server in pages.
#include "services/ingestion/dead_letters.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/common/wait_for.h"
#include "services/store/redis_url.h"
#include "tests/testing/redis_server.h"

namespace oppmatrix {
namespace {

TEST(ReasonPatternTest, MasksNumbersAndQuotedValues) {
  EXPECT_EQ(ReasonPattern("invalid: version: must be positive, got 0"),
            "invalid: version: must be positive, got N");
  EXPECT_EQ(ReasonPattern("invalid: version: must be positive, got -3"),
            "invalid: version: must be positive, got N");
  EXPECT_EQ(ReasonPattern("unparseable: at offset 17: unexpected \"}\""),
            "unparseable: at offset N: unexpected \"…\"");
  EXPECT_EQ(
      ReasonPattern("invalid: opportunity.amount.units: must not be negative"),
      "invalid: opportunity.amount.units: must not be negative");
  // Digits inside a word are part of it.
  EXPECT_EQ(ReasonPattern("event: at most 65536 bytes, got 70000.5"),
            "event: at most N bytes, got N");
  EXPECT_EQ(ReasonPattern("v2 event for utf8 field in iso_3166"),
            "v2 event for utf8 field in iso_3166");
  EXPECT_EQ(ReasonPattern("unterminated \"quote"), "unterminated \"quote");
  EXPECT_EQ(ReasonPattern("not JSON: Unexpected end.\n\n^\n"),
            "not JSON: Unexpected end. ^");
}

DeadLetterEntry Entry(std::string id, std::string reason, int64_t millis,
                      std::string event = "") {
  DeadLetterEntry e;
  e.id = std::move(id);
  e.reason = std::move(reason);
  e.time = absl::FromUnixMillis(millis);
  e.event = std::move(event);
  return e;
}

TEST(SummarizeDeadLettersTest, GroupsLargestFirstWithTimesAndAnExample) {
  std::vector<DeadLetterGroup> groups = SummarizeDeadLetters({
      Entry("1-0", "invalid: version: must be positive, got 0", 3000,
            R"({"eventId":"e-1","version":0})"),
      Entry("2-0", "unparseable: not JSON", 1000, "garbage"),
      Entry("3-0", "invalid: version: must be positive, got -2", 1000),
      Entry("4-0", "invalid: version: must be positive, got 0", 5000),
  });
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(groups[0].reason, "invalid: version: must be positive, got N");
  EXPECT_EQ(groups[0].count, 3);
  EXPECT_EQ(groups[0].first, absl::FromUnixMillis(1000));
  EXPECT_EQ(groups[0].last, absl::FromUnixMillis(5000));
  EXPECT_EQ(groups[0].example_id, "1-0");
  EXPECT_EQ(groups[0].example_event_id, "e-1");
  EXPECT_EQ(groups[0].example_reason,
            "invalid: version: must be positive, got 0");
  EXPECT_EQ(groups[1].reason, "unparseable: not JSON");
  EXPECT_EQ(groups[1].count, 1);
  EXPECT_EQ(groups[1].example_event_id, "");  // not JSON
}

TEST(DeadLetterQueueTest, SummarizeReadsEveryPageOrStopsAtTheLimit) {
  testing::RedisServer redis;
  ASSERT_TRUE(redis.Start().ok());
  auto async = AsyncRedis::Create({.endpoint = *ParseRedisUrl(redis.url())});
  ASSERT_TRUE(async.ok()) << async.status();
  for (int i = 0; i < 1203; ++i) {
    ASSERT_TRUE(
        redis
            .Command({"XADD", "oppmatrix:crm-events:dead", "*", "event",
                      absl::StrCat("{\"eventId\":\"e-", i, "\"}"), "reason",
                      i % 3 == 0 ? absl::StrCat("invalid: version: got ", -i)
                                 : "unparseable: not JSON",
                      "time", absl::StrCat(1795435200000 + i)})
            .ok());
  }
  DeadLetterQueue dlq(async->get(), {});
  absl::StatusOr<DeadLetterQueue::Summary> all = dlq.Summarize(100000);
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->entries, 1203);
  EXPECT_FALSE(all->truncated);
  ASSERT_EQ(all->groups.size(), 2u);
  EXPECT_EQ(all->groups[0].count, 802);
  EXPECT_EQ(all->groups[1].count, 401);
  EXPECT_EQ(all->groups[1].reason, "invalid: version: got N");
  EXPECT_EQ(all->groups[1].example_event_id, "e-0");
  EXPECT_EQ(all->groups[1].first, absl::FromUnixMillis(1795435200000));
  EXPECT_EQ(all->groups[1].last, absl::FromUnixMillis(1795435200000 + 1200));

  absl::StatusOr<DeadLetterQueue::Summary> some = dlq.Summarize(600);
  ASSERT_TRUE(some.ok()) << some.status();
  EXPECT_EQ(some->entries, 600);
  EXPECT_TRUE(some->truncated);

  absl::StatusOr<DeadLetterQueue::Summary> exact = dlq.Summarize(1203);
  ASSERT_TRUE(exact.ok());
  EXPECT_FALSE(exact->truncated);
}

// A caller that goes away stops a long summary or replay between pages:
// the pages before are replayed, the rest stay dead letters.
TEST(DeadLetterQueueTest, ACancelledReplayOrSummaryStopsBetweenPages) {
  testing::RedisServer redis;
  ASSERT_TRUE(redis.Start().ok());
  auto async = AsyncRedis::Create({.endpoint = *ParseRedisUrl(redis.url())});
  ASSERT_TRUE(async.ok()) << async.status();
  for (int i = 0; i < 1200; ++i) {
    ASSERT_TRUE(redis
                    .Command({"XADD", "oppmatrix:crm-events:dead", "*", "event",
                              absl::StrCat("{\"eventId\":\"e-", i, "\"}"),
                              "reason", "unparseable: not JSON"})
                    .ok());
  }
  DeadLetterQueue dlq(async->get(), {});
  // Asked before each page: cancelled once the first page is done.
  int asked = 0;
  absl::StatusOr<DeadLetterQueue::Replayed> r =
      WaitFor<DeadLetterQueue::Replayed>(
          [&](DeadLetterQueue::ReplayCallback done) {
            dlq.ReplayAllAsync(std::move(done),
                               [&asked] { return ++asked > 1; });
          });
  EXPECT_EQ(r.status().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(r.status().message(),
            "the replay (500 events replayed before) stopped: the caller "
            "cancelled");
  EXPECT_EQ(redis.Command({"XLEN", "oppmatrix:crm-events"})->integer, 500);
  EXPECT_EQ(redis.Command({"XLEN", "oppmatrix:crm-events:dead"})->integer, 700);
  absl::StatusOr<DeadLetterQueue::Summary> summary =
      WaitFor<DeadLetterQueue::Summary>(
          [&](DeadLetterQueue::SummaryCallback done) {
            dlq.SummarizeAsync(100000, std::move(done), [] { return true; });
          });
  EXPECT_EQ(summary.status().code(), absl::StatusCode::kCancelled);
  // Not cancelled, the rest is replayed.
  absl::StatusOr<DeadLetterQueue::Replayed> rest = dlq.ReplayAll();
  ASSERT_TRUE(rest.ok()) << rest.status();
  EXPECT_EQ(rest->replayed, 700);
}

}  // namespace
}  // namespace oppmatrix
