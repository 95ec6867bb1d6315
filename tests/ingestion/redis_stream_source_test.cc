// RedisStreamSource against a real redis-server: consumer-group reads,
// acknowledgement, a restarted consumer getting its own pending events
// back, taking over a dead consumer's events, shared work, dead letters
// and the backlog figures.
#include "services/ingestion/redis_stream_source.h"

#include <algorithm>
#include <atomic>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/store/redis_url.h"
#include "tests/testing/redis_server.h"

namespace oppmatrix {
namespace {

using ::testing::ElementsAre;
using ::testing::SizeIs;

class RedisStreamSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(redis_.Start().ok());
    redis_client_ = testing::TestRedisClient(redis_.url());
  }

  std::unique_ptr<RedisStreamSource> Source(
      const std::string& consumer,
      absl::Duration claim_idle = absl::Seconds(30)) {
    RedisStreamSource::Options o;
    o.consumer = consumer;
    o.claim_idle = claim_idle;
    o.claim_interval = absl::ZeroDuration();
    o.trim_interval = absl::ZeroDuration();  // trimmed explicitly
    return std::make_unique<RedisStreamSource>(redis_client_.get(),
                                               ReadsClient(), o);
  }

  void Push(int n, int from = 0) {
    for (int i = from; i < from + n; ++i) {
      ASSERT_TRUE(redis_
                      .Command({"XADD", "oppmatrix:crm-events", "*", "event",
                                absl::StrCat("{\"n\":", i, "}")})
                      .ok());
    }
  }

  static std::vector<std::string> Payloads(const std::vector<BusEvent>& e) {
    std::vector<std::string> out;
    for (const BusEvent& b : e) out.push_back(b.payload);
    return out;
  }

  // A connection for one source's blocking reads, as main gives it.
  AsyncRedis* ReadsClient() {
    reads_clients_.push_back(testing::TestRedisClient(redis_.url()));
    return reads_clients_.back().get();
  }

  testing::RedisServer redis_;
  std::unique_ptr<AsyncRedis> redis_client_;
  std::vector<std::unique_ptr<AsyncRedis>> reads_clients_;
};

TEST_F(RedisStreamSourceTest, ReadsWhatWasPushedBeforeTheGroupExisted) {
  Push(3);
  auto source = Source("a");
  auto events = source->Read(10, absl::Milliseconds(10));
  ASSERT_TRUE(events.ok()) << events.status();
  EXPECT_THAT(Payloads(*events),
              ElementsAre("{\"n\":0}", "{\"n\":1}", "{\"n\":2}"));
  EXPECT_EQ((*events)[0].deliveries, 1);
}

// A blocking read waits on a connection of its own: the source's other
// calls (an acknowledgement, the counts) are not queued behind it.
TEST_F(RedisStreamSourceTest, CallsDoNotWaitBehindABlockingRead) {
  auto source = Source("a");
  Push(1);
  auto first = source->Read(10, absl::Milliseconds(10));
  ASSERT_THAT(*first, SizeIs(1));
  std::atomic<bool> read_returned{false};
  std::thread reader([&] {
    // The stream is empty: this read blocks until the event below.
    auto next = source->Read(10, absl::Seconds(20));
    read_returned = true;
    EXPECT_TRUE(next.ok()) << next.status();
  });
  // Give the read time to reach Redis (it is not needed for correctness:
  // an Ack sent first is simply not behind it).
  absl::SleepFor(absl::Milliseconds(100));
  ASSERT_TRUE(source->Ack({(*first)[0].id}).ok());
  auto stats = source->Stats();
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->pending, 0);
  // Both answered while the read still waits for an event.
  EXPECT_FALSE(read_returned.load());
  Push(1, 1);
  reader.join();
  EXPECT_TRUE(read_returned.load());
}

// A wait longer than the reads connection's command timeout is several
// BLOCKs, none long enough to be taken for a hung Redis.
TEST_F(RedisStreamSourceTest, AWaitLongerThanTheCommandTimeoutIsNoError) {
  std::unique_ptr<AsyncRedis> reads =
      testing::TestRedisClient(redis_.url(), absl::Milliseconds(400));
  RedisStreamSource source(redis_client_.get(), reads.get(), {.consumer = "a"});
  const absl::Time start = absl::Now();
  auto none = source.Read(10, absl::Milliseconds(700));
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_TRUE(none->empty());
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(690));
  EXPECT_EQ(reads->stats().failures, 0);
  Push(1);
  auto one = source.Read(10, absl::Milliseconds(700));
  ASSERT_TRUE(one.ok()) << one.status();
  EXPECT_THAT(*one, SizeIs(1));
}

TEST_F(RedisStreamSourceTest, AckedEventsDoNotComeBack) {
  auto source = Source("a");
  Push(2);
  auto events = source->Read(10, absl::Milliseconds(10));
  ASSERT_THAT(*events, SizeIs(2));
  ASSERT_TRUE(source->Ack({(*events)[0].id, (*events)[1].id}).ok());
  auto stats = source->Stats();
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->pending, 0);
  EXPECT_EQ(stats->lag, 0);
  // Nothing new: the read waits, then returns empty.
  absl::Time start = absl::Now();
  auto none = source->Read(10, absl::Milliseconds(100));
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(90));
}

TEST_F(RedisStreamSourceTest, RestartedConsumerGetsItsPendingEventsFirst) {
  Push(3);
  {
    auto before = Source("a");
    auto events = before->Read(2, absl::Milliseconds(10));
    ASSERT_THAT(*events, SizeIs(2));
    // Killed here: nothing acknowledged.
  }
  Push(1, 3);
  auto after = Source("a");
  auto again = after->Read(10, absl::Milliseconds(10));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_THAT(Payloads(*again), ElementsAre("{\"n\":0}", "{\"n\":1}"));
  EXPECT_EQ((*again)[0].deliveries, 2);
  ASSERT_TRUE(after->Ack({(*again)[0].id, (*again)[1].id}).ok());
  auto rest = after->Read(10, absl::Milliseconds(10));
  EXPECT_THAT(Payloads(*rest), ElementsAre("{\"n\":2}", "{\"n\":3}"));
}

TEST_F(RedisStreamSourceTest, TakesOverADeadConsumersEventsAfterTheIdleTime) {
  Push(2);
  auto dead = Source("dead");
  ASSERT_THAT(*dead->Read(10, absl::Milliseconds(10)), SizeIs(2));
  // An idle time with a wide margin: a loaded machine must not make the
  // first read "late".
  auto alive = Source("alive", absl::Seconds(2));
  // Too early: nothing to claim, nothing new.
  EXPECT_THAT(*alive->Read(10, absl::Milliseconds(10)), SizeIs(0));
  absl::SleepFor(absl::Milliseconds(2100));
  auto claimed = alive->Read(10, absl::Milliseconds(10));
  ASSERT_TRUE(claimed.ok()) << claimed.status();
  EXPECT_THAT(Payloads(*claimed), ElementsAre("{\"n\":0}", "{\"n\":1}"));
  EXPECT_EQ((*claimed)[0].deliveries, 2);
}

// Natural batching: a read takes what the bus holds, up to its max, and
// returns; only an empty bus is waited on, until the first event.
TEST_F(RedisStreamSourceTest, ReadTakesWhatTheBusHoldsAndWaitsOnlyWhenEmpty) {
  Push(3);
  auto source = Source("a");
  // Three are there: the read does not wait (an hour) for ten. (A read
  // that lingered would hold the test until ctest's timeout, which
  // fails it; the bound below only says so sooner.)
  const absl::Time before = absl::Now();
  auto few = source->Read(10, absl::Hours(1));
  ASSERT_TRUE(few.ok()) << few.status();
  EXPECT_THAT(*few, SizeIs(3));
  EXPECT_LT(absl::Now() - before, absl::Minutes(1));
  // A backlog: full batches.
  Push(25, 3);
  auto full = source->Read(10, absl::Hours(1));
  ASSERT_TRUE(full.ok());
  EXPECT_THAT(*full, SizeIs(10));
  ASSERT_TRUE(source->Read(100, absl::Seconds(30)).ok());  // the other 15
  // Nothing there: the read waits for the first event, then returns it.
  std::thread later([&] {
    absl::SleepFor(absl::Milliseconds(100));
    Push(2, 28);
  });
  auto waited = source->Read(10, absl::Seconds(30));
  later.join();
  ASSERT_TRUE(waited.ok()) << waited.status();
  EXPECT_THAT(*waited, ::testing::Not(::testing::IsEmpty()));
  EXPECT_EQ(Payloads(*waited)[0], "{\"n\":28}");
}

// The consumer names in the group: a clean shutdown takes its own away
// unless events are pending for it; names idle past the limit with nothing
// pending go, those with events pending stay.
TEST_F(RedisStreamSourceTest, ConsumersLeaveTheGroupOnlyWithNothingPending) {
  auto consumers = [this] {
    std::vector<std::string> names;
    auto r = redis_.Command(
        {"XINFO", "CONSUMERS", "oppmatrix:crm-events", "oppmatrix-ingestion"});
    for (const RedisReply& c : r->elements) {
      for (size_t i = 0; i + 1 < c.elements.size(); i += 2) {
        if (c.elements[i].str == "name") names.push_back(c.elements[i + 1].str);
      }
    }
    std::sort(names.begin(), names.end());
    return names;
  };
  Push(4);
  auto busy = Source("busy");
  auto done = Source("done");
  auto idle = Source("idle");
  auto events = busy->Read(2, absl::Seconds(1));  // left pending
  ASSERT_TRUE(events.ok());
  auto acked = done->Read(2, absl::Seconds(1));
  ASSERT_TRUE(acked.ok());
  std::vector<std::string> ids;
  for (const BusEvent& e : *acked) ids.push_back(e.id);
  ASSERT_TRUE(done->Ack(ids).ok());
  ASSERT_TRUE(idle->Read(2, absl::Milliseconds(1)).ok());  // nothing left
  EXPECT_THAT(consumers(), ElementsAre("busy", "done", "idle"));

  EXPECT_FALSE(*busy->RemoveSelf());  // its two events stay its own
  EXPECT_TRUE(*done->RemoveSelf());
  EXPECT_FALSE(*done->RemoveSelf());             // gone already
  EXPECT_FALSE(*Source("never")->RemoveSelf());  // never there
  EXPECT_THAT(consumers(), ElementsAre("busy", "idle"));

  RedisStreamSource::Options o;
  o.consumer = "sweeper";
  o.consumer_idle_limit = absl::Milliseconds(1);
  RedisStreamSource sweeper(redis_client_.get(), ReadsClient(), o);
  absl::SleepFor(absl::Milliseconds(50));  // past the 1 ms limit
  auto removed = sweeper.RemoveIdleConsumers();
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_EQ(*removed, 1);
  EXPECT_THAT(consumers(), ElementsAre("busy"));
  // Its pending events still come back to it.
  auto again = Source("busy")->Read(10, absl::Milliseconds(1));
  ASSERT_TRUE(again.ok());
  EXPECT_THAT(*again, SizeIs(2));
}

TEST_F(RedisStreamSourceTest, KeptClaimedEventsAreNotTakenOver) {
  Push(2);
  auto busy = Source("busy");
  auto events = busy->Read(10, absl::Milliseconds(10));
  ASSERT_THAT(*events, SizeIs(2));
  auto other = Source("other", absl::Seconds(1));
  absl::SleepFor(absl::Milliseconds(1100));
  // Idle past claim_idle, but the busy consumer says it is still working.
  ASSERT_TRUE(busy->KeepClaimed({(*events)[0].id, (*events)[1].id}).ok());
  EXPECT_THAT(*other->Read(10, absl::Milliseconds(10)), SizeIs(0));
  // Keeping does not count as a delivery: still 1 when read again.
  auto restarted = Source("busy");
  auto again = restarted->Read(10, absl::Milliseconds(10));
  ASSERT_THAT(*again, SizeIs(2));
  EXPECT_EQ((*again)[0].deliveries, 2);  // the first read and this one
}

TEST_F(RedisStreamSourceTest, TrimsOnlyWhatEveryGroupAcknowledged) {
  Push(10);
  auto source = Source("a");
  auto events = source->Read(10, absl::Milliseconds(10));
  ASSERT_THAT(*events, SizeIs(10));
  std::vector<std::string> ids;
  for (const BusEvent& e : *events) ids.push_back(e.id);
  // Events 0-5 acknowledged; 6-9 pending and so kept.
  ASSERT_TRUE(source->Ack(absl::MakeConstSpan(ids).subspan(0, 6)).ok());
  auto trimmed = source->TrimAcknowledged();
  ASSERT_TRUE(trimmed.ok()) << trimmed.status();
  EXPECT_EQ(*trimmed, 6);
  EXPECT_EQ(redis_.Command({"XLEN", "oppmatrix:crm-events"})->integer, 4);
  // A second group that has read nothing holds everything back.
  ASSERT_TRUE(
      redis_.Command({"XGROUP", "CREATE", "oppmatrix:crm-events", "audit", "0"})
          .ok());
  ASSERT_TRUE(source->Ack(absl::MakeConstSpan(ids).subspan(6)).ok());
  EXPECT_EQ(*source->TrimAcknowledged(), 0);
  EXPECT_EQ(redis_.Command({"XLEN", "oppmatrix:crm-events"})->integer, 4);
}

TEST_F(RedisStreamSourceTest, TwoConsumersShareTheWork) {
  Push(100);
  auto a = Source("a");
  auto b = Source("b");
  std::set<std::string> seen;
  int from_a = 0, from_b = 0;
  for (int round = 0; round < 20; ++round) {
    for (auto* s : {a.get(), b.get()}) {
      auto events = s->Read(7, absl::Milliseconds(5));
      ASSERT_TRUE(events.ok());
      for (const BusEvent& e : *events) {
        EXPECT_TRUE(seen.insert(e.id).second) << "delivered twice: " << e.id;
        ASSERT_TRUE(s->Ack({e.id}).ok());
      }
      (s == a.get() ? from_a : from_b) += static_cast<int>(events->size());
    }
  }
  EXPECT_EQ(seen.size(), 100u);
  EXPECT_GT(from_a, 0);
  EXPECT_GT(from_b, 0);
  EXPECT_EQ(a->Stats()->consumers, 2);
}

TEST_F(RedisStreamSourceTest, DeadLetterKeepsReasonPayloadAndDeliveries) {
  auto source = Source("a");
  Push(1);
  auto events = source->Read(10, absl::Milliseconds(10));
  ASSERT_THAT(*events, SizeIs(1));
  BusEvent e = (*events)[0];
  e.deliveries = 5;
  ASSERT_TRUE(source->DeadLetter(e, "invalid: version: must be positive").ok());
  EXPECT_EQ(source->Stats()->pending, 0);
  auto dead = redis_.Command({"XRANGE", "oppmatrix:crm-events:dead", "-", "+"});
  ASSERT_EQ(dead->elements.size(), 1u);
  std::vector<std::string> fields;
  for (const RedisReply& f : dead->elements[0].elements[1].elements) {
    fields.push_back(f.str);
  }
  std::vector<std::string> expected = {
      "event",      "{\"n\":0}",
      "reason",     "invalid: version: must be positive",
      "deliveries", "5",
      "source_id",  e.id};
  EXPECT_THAT(fields, ::testing::IsSupersetOf(expected));
}

// Several dead letters go in one round trip, each with its own reason,
// each acknowledged.
TEST_F(RedisStreamSourceTest, DeadLettersOfABatchGoTogether) {
  auto source = Source("a");
  Push(4);
  auto events = source->Read(10, absl::Milliseconds(10));
  ASSERT_THAT(*events, SizeIs(4));
  // The first alone: Redis learns the script (NOSCRIPT, then a reload).
  ASSERT_TRUE(source->DeadLetter((*events)[0], "reason 0").ok());
  std::vector<EventSource::DeadLetterItem> items;
  for (size_t i = 1; i < events->size(); ++i) {
    items.push_back({&(*events)[i], absl::StrCat("reason ", i)});
  }
  const int64_t before = redis_client_->stats().flushes;
  std::vector<absl::Status> written = source->DeadLetterAll(items);
  EXPECT_EQ(redis_client_->stats().flushes - before, 1);  // one round trip
  ASSERT_EQ(written.size(), 3u);
  for (const absl::Status& s : written) EXPECT_TRUE(s.ok()) << s;
  EXPECT_EQ(source->Stats()->pending, 0);
  auto dead = redis_.Command({"XRANGE", "oppmatrix:crm-events:dead", "-", "+"});
  ASSERT_EQ(dead->elements.size(), 4u);
  std::vector<std::string> reasons;
  for (const RedisReply& entry : dead->elements) {
    const auto& f = entry.elements[1].elements;
    for (size_t i = 0; i + 1 < f.size(); i += 2) {
      if (f[i].str == "reason") reasons.push_back(f[i + 1].str);
    }
  }
  EXPECT_THAT(reasons,
              ElementsAre("reason 0", "reason 1", "reason 2", "reason 3"));
}

TEST_F(RedisStreamSourceTest, EntryWithoutAnEventFieldHasAnEmptyPayload) {
  ASSERT_TRUE(
      redis_.Command({"XADD", "oppmatrix:crm-events", "*", "other", "x"}).ok());
  auto events = Source("a")->Read(10, absl::Milliseconds(10));
  ASSERT_THAT(*events, SizeIs(1));
  EXPECT_EQ((*events)[0].payload, "");
}

TEST_F(RedisStreamSourceTest, LagCountsUndeliveredEvents) {
  auto source = Source("a");
  ASSERT_TRUE(source->Stats().ok());  // creates the group
  Push(5);
  EXPECT_EQ(source->Stats()->lag, 5);
  ASSERT_THAT(*source->Read(2, absl::Milliseconds(10)), SizeIs(2));
  auto stats = source->Stats();
  EXPECT_EQ(stats->lag, 3);
  EXPECT_EQ(stats->pending, 2);
}

}  // namespace
}  // namespace oppmatrix
