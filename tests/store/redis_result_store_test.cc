// RedisResultStore against a real redis-server: results stored and read
// back, current results left unwritten, index and totals consistency across
// cell moves, exactly one transition per move, the TTL and expiry, one round
// trip per batch of 1,000 and one script call per tenant, paging, filters,
// deletion and NOSCRIPT recovery.
#include "services/store/redis_result_store.h"

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "services/common/wait_for.h"
#include "services/store/async_redis.h"
#include "services/store/redis_url.h"
#include "tests/testing/redis_server.h"

namespace oppmatrix {
namespace {

using ::google::protobuf::util::TimeUtil;
using ::oppmatrix::testing::RedisServer;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kRules[] = "default@0123456789ab";

absl::Time Now() {
  return absl::FromUnixSeconds(1795435200);  // 2026-11-23T12:00:00Z
}
absl::Time Soon() { return absl::Now() + absl::Seconds(10); }

v1::Classification Result(const std::string& id, const std::string& cell,
                          double priority, int64_t amount_units = 0,
                          const std::string& tenant = "acme") {
  v1::Classification c;
  c.set_tenant_id(tenant);
  c.set_opportunity_id(id);
  c.set_cell(cell);
  c.set_priority_score(priority);
  c.set_potential_score(priority);
  c.set_relationship_score(50);
  c.set_ruleset_version(kRules);
  c.set_customer_type(v1::CUSTOMER_TYPE_LARGE_ENTERPRISE);
  c.set_industry(v1::INDUSTRY_MANUFACTURING);
  c.set_buying_stage(v1::BUYING_STAGE_DECISION);
  if (amount_units > 0) {
    c.mutable_amount()->set_currency_code("USD");
    c.mutable_amount()->set_units(amount_units);
  }
  *c.mutable_classified_time() =
      TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(Now()));
  c.add_reasons()->set_factor("amount");
  return c;
}

class ResultStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(redis_.Start().ok());
    redis_client_ = testing::TestRedisClient(redis_.url());
    RedisResultStore::Options so;
    so.result_ttl = absl::Hours(24);
    so.transitions_max_len = 1000;
    store_ = std::make_unique<RedisResultStore>(redis_client_.get(), so);
  }

  std::vector<PutOutcome> Put(
      const std::vector<v1::Classification>& results, absl::Time now = Now(),
      absl::Time keep_current_since = absl::InfiniteFuture()) {
    std::vector<PutItem> items;
    for (const v1::Classification& c : results) {
      items.push_back({&c, "fp-" + c.opportunity_id(), c.reasons_size() > 0});
    }
    absl::StatusOr<std::vector<PutOutcome>> out = store_->Put(
        items, {.now = now, .keep_current_since = keep_current_since}, Soon());
    EXPECT_TRUE(out.ok()) << out.status();
    return out.value_or(std::vector<PutOutcome>());
  }

  std::vector<std::string> CellIds(const std::string& cell) {
    std::vector<std::string> ids;
    auto r = redis_.Command(
        {"ZREVRANGE", absl::StrCat("oppmatrix:{acme}:cell:", cell), "0", "-1"});
    for (const RedisReply& e : r->elements) ids.push_back(e.str);
    return ids;
  }

  std::vector<v1::Transition> AllTransitions() {
    auto page = store_->Transitions("acme", 500, "", Soon());
    EXPECT_TRUE(page.ok()) << page.status();
    return page.ok() ? page->transitions : std::vector<v1::Transition>();
  }

  RedisServer redis_;
  std::unique_ptr<AsyncRedis> redis_client_;
  std::unique_ptr<RedisResultStore> store_;
};

TEST_F(ResultStoreTest, StoredResultIsReadBack) {
  v1::Classification c = Result("opp-1", "KEY", 80, 120000);
  Put({c});
  absl::StatusOr<v1::Classification> got = store_->Get("acme", "opp-1", Soon());
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->SerializeAsString(), c.SerializeAsString());
  EXPECT_EQ(store_->Get("acme", "nope", Soon()).status().code(),
            absl::StatusCode::kNotFound);
  // Tenants are apart.
  EXPECT_EQ(store_->Get("other", "opp-1", Soon()).status().code(),
            absl::StatusCode::kNotFound);
  // The binary result is what is stored.
  auto raw = redis_.Command({"HGET", "oppmatrix:{acme}:opp:opp-1", "c"});
  v1::Classification parsed;
  ASSERT_TRUE(parsed.ParseFromString(raw->str));
  EXPECT_EQ(parsed.cell(), "KEY");
}

TEST_F(ResultStoreTest, TtlIsSetOnTheResult) {
  Put({Result("opp-1", "KEY", 80)});
  auto ttl = redis_.Command({"PTTL", "oppmatrix:{acme}:opp:opp-1"});
  EXPECT_GT(ttl->integer, absl::ToInt64Milliseconds(absl::Hours(23)));
  EXPECT_LE(ttl->integer, absl::ToInt64Milliseconds(absl::Hours(24)));
}

// The expiry moves only once 1 % of the TTL (here 24 h: 14.4 min) has
// passed since it last moved, which saves two commands per write.
TEST_F(ResultStoreTest, ExpiryIsPushedBackOncePastOnePercentOfTheTtl) {
  auto expiry = [this] {
    auto r = redis_.Command({"ZSCORE", "oppmatrix:{acme}:expiry", "opp-1"});
    return r.ok() ? r->str : "";
  };
  const int64_t day_ms = absl::ToInt64Milliseconds(absl::Hours(24));
  Put({Result("opp-1", "KEY", 80)});
  const std::string first = absl::StrCat(absl::ToUnixMillis(Now()) + day_ms);
  EXPECT_EQ(expiry(), first);
  Put({Result("opp-1", "KEY", 81)}, Now() + absl::Minutes(14));
  EXPECT_EQ(expiry(), first);
  const absl::Time later = Now() + absl::Minutes(15);
  Put({Result("opp-1", "KEY", 82)}, later);
  EXPECT_EQ(expiry(), absl::StrCat(absl::ToUnixMillis(later) + day_ms));
  // A shorter TTL takes effect at the next write.
  RedisResultStore hourly(redis_client_.get(), {.result_ttl = absl::Hours(1)});
  v1::Classification c = Result("opp-1", "KEY", 83);
  PutItem item{&c, "fp", true};
  ASSERT_TRUE(hourly.Put({item}, {.now = later}, Soon()).ok());
  EXPECT_EQ(expiry(), absl::StrCat(absl::ToUnixMillis(later + absl::Hours(1))));
}

TEST_F(ResultStoreTest, ZeroTtlKeepsTheResult) {
  RedisResultStore forever(redis_client_.get(),
                           {.result_ttl = absl::ZeroDuration()});
  v1::Classification c = Result("opp-1", "KEY", 80);
  PutItem item{&c, "fp", true};
  ASSERT_TRUE(forever.Put({item}, {.now = Now()}, Soon()).ok());
  EXPECT_EQ(redis_.Command({"PTTL", "oppmatrix:{acme}:opp:opp-1"})->integer,
            -1);
}

TEST_F(ResultStoreTest, ReclassifiedIntoAnotherCellMovesItsIndexEntry) {
  Put({Result("opp-1", "DEVELOP", 40, 1000), Result("opp-2", "DEVELOP", 30)});
  EXPECT_THAT(CellIds("DEVELOP"), ElementsAre("opp-1", "opp-2"));

  std::vector<PutOutcome> out = Put({Result("opp-1", "KEY", 90, 1000)});
  EXPECT_EQ(out[0].previous_cell, "DEVELOP");
  EXPECT_TRUE(out[0].moved);
  EXPECT_THAT(CellIds("DEVELOP"), ElementsAre("opp-2"));  // old entry gone
  EXPECT_THAT(CellIds("KEY"), ElementsAre("opp-1"));
  auto members = redis_.Command({"HGET", "oppmatrix:{acme}:members", "opp-1"});
  EXPECT_THAT(members->str, ::testing::StartsWith("KEY|100000|90|"));
  EXPECT_THAT(members->str, ::testing::EndsWith("|0|DEVELOP"));

  absl::StatusOr<std::vector<StoredCell>> m =
      store_->Matrix("acme", {}, 5, Now(), Soon());
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_EQ(m->size(), 2u);
  EXPECT_EQ((*m)[0].cell, "DEVELOP");
  EXPECT_EQ((*m)[0].count, 1);
  EXPECT_EQ((*m)[0].amount_cents, 0);
  EXPECT_EQ((*m)[1].cell, "KEY");
  EXPECT_EQ((*m)[1].count, 1);
  EXPECT_EQ((*m)[1].amount_cents, 100000);
  ASSERT_EQ((*m)[1].top.size(), 1u);
  EXPECT_EQ((*m)[1].top[0].previous_cell(), "DEVELOP");

  // Same cell, new priority: the entry is re-scored, not duplicated.
  out = Put({Result("opp-1", "KEY", 70, 1000)});
  EXPECT_FALSE(out[0].moved);
  EXPECT_EQ(out[0].previous_cell, "DEVELOP");  // still its last move
  auto score = redis_.Command({"ZSCORE", "oppmatrix:{acme}:cell:KEY", "opp-1"});
  EXPECT_EQ(score->str, "70");
  EXPECT_EQ(redis_.Command({"ZCARD", "oppmatrix:{acme}:cell:KEY"})->integer, 1);

  // Same cell, new amount: the total follows, the count does not.
  Put({Result("opp-1", "KEY", 70, 3000)});
  m = store_->Matrix("acme", {}, 0, Now(), Soon());
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ((*m)[1].count, 1);
  EXPECT_EQ((*m)[1].amount_cents, 300000);
}

TEST_F(ResultStoreTest, ExactlyOneTransitionPerMove) {
  Put({Result("opp-1", "DEVELOP", 40)});  // first: no move
  EXPECT_TRUE(AllTransitions().empty());
  Put({Result("opp-1", "KEY", 90)});       // move 1
  Put({Result("opp-1", "KEY", 91)});       // same cell
  Put({Result("opp-1", "KEY", 91)});       // the same result again
  Put({Result("opp-1", "MAINTAIN", 20)});  // move 2
  std::vector<v1::Transition> t = AllTransitions();
  ASSERT_EQ(t.size(), 2u);
  // Newest first.
  EXPECT_EQ(t[0].from_cell(), "KEY");
  EXPECT_EQ(t[0].to_cell(), "MAINTAIN");
  EXPECT_EQ(t[1].from_cell(), "DEVELOP");
  EXPECT_EQ(t[1].to_cell(), "KEY");
  EXPECT_EQ(t[1].tenant_id(), "acme");
  EXPECT_EQ(t[1].opportunity_id(), "opp-1");
  EXPECT_EQ(t[1].priority_score(), 90);
  EXPECT_EQ(t[1].potential_score(), 90);
  EXPECT_EQ(t[1].relationship_score(), 50);
  EXPECT_EQ(t[1].ruleset_version(), kRules);
  EXPECT_EQ(TimeUtil::TimestampToSeconds(t[1].time()),
            absl::ToUnixSeconds(Now()));
}

TEST_F(ResultStoreTest, OlderOpportunityVersionDoesNotOverwrite) {
  v1::Classification v5 = Result("opp-1", "KEY", 80);
  v5.set_opportunity_version(5);
  Put({v5});
  v1::Classification v4 = Result("opp-1", "EXIT", 10);
  v4.set_opportunity_version(4);
  std::vector<PutOutcome> out = Put({v4});
  EXPECT_TRUE(out[0].superseded);
  EXPECT_FALSE(out[0].moved);
  EXPECT_EQ(store_->Get("acme", "opp-1", Soon())->opportunity_version(), 5);
  EXPECT_THAT(CellIds("KEY"), ElementsAre("opp-1"));
  EXPECT_TRUE(AllTransitions().empty());
  v1::Classification again = v5;  // the same version may be restored
  again.set_cell("DEVELOP");
  out = Put({again});
  EXPECT_FALSE(out[0].superseded);
  EXPECT_TRUE(out[0].moved);
}

TEST_F(ResultStoreTest, TransitionsStreamIsTrimmedAndPaged) {
  RedisResultStore small(redis_client_.get(), {.transitions_max_len = 10});
  for (int i = 0; i < 300; ++i) {
    v1::Classification c = Result("opp-1", i % 2 ? "KEY" : "DEVELOP", 50);
    PutItem item{&c, "fp", true};
    ASSERT_TRUE(small.Put({item}, {.now = Now()}, Soon()).ok());
  }
  // MAXLEN ~ trims whole stream nodes: around 10, never all 299.
  int64_t len =
      redis_.Command({"XLEN", "oppmatrix:{acme}:transitions"})->integer;
  EXPECT_GE(len, 10);
  EXPECT_LT(len, 299);

  std::set<std::string> seen;
  std::string token;
  int pages = 0;
  do {
    auto page = small.Transitions("acme", 7, token, Soon());
    ASSERT_TRUE(page.ok()) << page.status();
    for (const v1::Transition& t : page->transitions) {
      EXPECT_TRUE(seen.insert(t.id()).second) << "repeated " << t.id();
    }
    token = page->next_page_token;
    ++pages;
  } while (!token.empty() && pages < 100);
  EXPECT_EQ(static_cast<int64_t>(seen.size()), len);
  EXPECT_EQ(small.Transitions("acme", 5, "!!", Soon()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(ResultStoreTest, BatchOfOneThousandIsOneRoundTrip) {
  std::vector<v1::Classification> results;
  for (int i = 0; i < 1000; ++i) {
    results.push_back(
        Result(absl::StrCat("opp-", i), i % 3 ? "KEY" : "EXIT", i % 100, 100));
  }
  // Load the script first so the count is of the steady state.
  Put({Result("warm", "KEY", 1)});
  int64_t trips = redis_client_->stats().flushes;
  int64_t evalsha = *redis_.InfoValue("commandstats", "cmdstat_evalsha:calls");
  int64_t reads = *redis_.InfoValue("stats", "total_reads_processed");
  int64_t writes = *redis_.InfoValue("stats", "total_writes_processed");
  Put(results);
  // Client side: one write of the whole pipeline, one read of the replies.
  EXPECT_EQ(redis_client_->stats().flushes - trips, 1);
  // Server side: Redis read the five script calls in a handful of socket
  // reads (the pipeline arrives in 16 KiB chunks) and answered in a handful
  // of writes; one result per round trip would be 1000 of each. The INFO
  // calls that read the counters add one read and one write each.
  int64_t read_events =
      *redis_.InfoValue("stats", "total_reads_processed") - reads;
  int64_t write_events =
      *redis_.InfoValue("stats", "total_writes_processed") - writes;
  EXPECT_LT(read_events, 1000 / 5) << read_events;
  EXPECT_LT(write_events, 1000 / 5) << write_events;
  RecordProperty("server_read_events", static_cast<int>(read_events));
  RecordProperty("server_write_events", static_cast<int>(write_events));
  // Server side: one script call per 200 results of a tenant.
  EXPECT_EQ(
      *redis_.InfoValue("commandstats", "cmdstat_evalsha:calls") - evalsha, 5);

  auto m = store_->Matrix("acme", {}, 0, Now(), Soon());
  ASSERT_TRUE(m.ok()) << m.status();
  int64_t count = 0;
  for (const StoredCell& c : *m) count += c.count;
  EXPECT_EQ(count, 1001);
}

TEST_F(ResultStoreTest, CurrentResultIsNotWrittenAgain) {
  const absl::Time since = Now() - absl::Minutes(1);
  v1::Classification c = Result("opp-1", "KEY", 80);
  EXPECT_FALSE(Put({c}, Now(), since)[0].current);  // nothing stored yet
  // Mark the stored bytes: a write would replace them.
  ASSERT_TRUE(
      redis_.Command({"HSET", "oppmatrix:{acme}:opp:opp-1", "c", "marker"})
          .ok());
  auto stored_bytes = [&] {
    return redis_.Command({"HGET", "oppmatrix:{acme}:opp:opp-1", "c"})->str;
  };
  const int64_t hsets = *redis_.InfoValue("commandstats", "cmdstat_hset:calls");

  std::vector<PutOutcome> out = Put({c}, Now() + absl::Seconds(30), since);
  EXPECT_TRUE(out[0].current);
  EXPECT_FALSE(out[0].moved);
  EXPECT_EQ(stored_bytes(), "marker");
  // Without reasons, a result stored with them is current too.
  v1::Classification bare = c;
  bare.clear_reasons();
  EXPECT_TRUE(Put({bare}, Now(), since)[0].current);
  EXPECT_EQ(*redis_.InfoValue("commandstats", "cmdstat_hset:calls"), hsets);

  // Each of these is written.
  v1::Classification other_rules = c;
  other_rules.set_ruleset_version("default@ffffffffffff");
  v1::Classification other_priority = c;
  other_priority.set_priority_score(81);
  for (const v1::Classification& changed : {other_rules, other_priority}) {
    ASSERT_TRUE(
        redis_.Command({"HSET", "oppmatrix:{acme}:opp:opp-1", "c", "marker"})
            .ok());
    EXPECT_FALSE(Put({changed}, Now(), since)[0].current);
    EXPECT_NE(stored_bytes(), "marker");
    Put({c});  // back to the first result
  }
  // Stored longer ago than `since`, or from other content.
  EXPECT_FALSE(Put({c}, Now(), Now() + absl::Seconds(1))[0].current);
  PutItem other_content{&c, "other-content", true};
  EXPECT_FALSE((*store_->Put(
      {other_content}, {.now = Now(), .keep_current_since = since}, Soon()))[0]
                   .current);
  // Stored without reasons: not current for a result with them.
  Put({bare});
  EXPECT_FALSE(Put({c}, Now(), since)[0].current);
  // Never current without keep_current_since.
  EXPECT_FALSE(Put({c})[0].current);
}

TEST_F(ResultStoreTest, BatchOfManyTenantsIsOneScriptCallPerTenant) {
  Put({Result("warm", "KEY", 1)});
  const int64_t evalsha =
      *redis_.InfoValue("commandstats", "cmdstat_evalsha:calls");
  std::vector<v1::Classification> results;
  for (int i = 0; i < 30; ++i) {
    results.push_back(Result(absl::StrCat("opp-", i), i % 2 ? "KEY" : "EXIT", i,
                             100, absl::StrCat("t", i % 3)));
  }
  std::vector<PutOutcome> out = Put(results);
  EXPECT_EQ(*redis_.InfoValue("commandstats", "cmdstat_evalsha:calls"),
            evalsha + 3);
  ASSERT_EQ(out.size(), 30u);
  // Outcomes come back in the items' order: move every KEY result.
  for (v1::Classification& c : results) {
    if (c.cell() == "KEY") c.set_cell("DEVELOP");
  }
  out = Put(results);
  for (int i = 0; i < 30; ++i) {
    EXPECT_EQ(out[i].moved, i % 2 == 1) << i;
    EXPECT_EQ(out[i].previous_cell, i % 2 ? "KEY" : "") << i;
  }
  // The totals, summed in the script, agree with the cells' sets.
  for (int t = 0; t < 3; ++t) {
    auto m = store_->Matrix(absl::StrCat("t", t), {}, 0, Now(), Soon());
    ASSERT_TRUE(m.ok()) << m.status();
    ASSERT_EQ(m->size(), 2u);
    for (const StoredCell& cell : *m) {
      EXPECT_EQ(cell.count, 5) << cell.cell;
      EXPECT_EQ(cell.amount_cents, 5 * 10000) << cell.cell;
    }
    EXPECT_EQ(
        redis_
            .Command({"HEXISTS", absl::StrCat("oppmatrix:{t", t, "}:stats"),
                      "KEY:n"})
            ->integer,
        0);
  }
}

// The script reads where a result is indexed from its own key; without
// those fields (written by an older version) or without the key (expired,
// not yet purged) it reads the members entry, and the totals stay right.
TEST_F(ResultStoreTest, MovesAreRightWhateverTheResultKeyHolds) {
  Put({Result("opp-1", "KEY", 90, 100)});
  ASSERT_TRUE(
      redis_.Command({"HDEL", "oppmatrix:{acme}:opp:opp-1", "ct", "v"}).ok());
  EXPECT_TRUE(Put({Result("opp-1", "EXIT", 0, 200)})[0].moved);
  ASSERT_TRUE(redis_.Command({"DEL", "oppmatrix:{acme}:opp:opp-1"}).ok());
  std::vector<PutOutcome> out = Put({Result("opp-1", "DEVELOP", 40, 300)});
  EXPECT_TRUE(out[0].moved);
  EXPECT_EQ(out[0].previous_cell, "EXIT");
  EXPECT_EQ(AllTransitions().size(), 2u);
  auto m = store_->Matrix("acme", {}, 0, Now(), Soon());
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_EQ(m->size(), 1u);
  EXPECT_EQ((*m)[0].cell, "DEVELOP");
  EXPECT_EQ((*m)[0].count, 1);
  EXPECT_EQ((*m)[0].amount_cents, 30000);
  EXPECT_THAT(CellIds("KEY"), ::testing::IsEmpty());
  EXPECT_THAT(CellIds("EXIT"), ::testing::IsEmpty());
  // Rewritten by a store that does not keep the index fields (a replica of
  // another version in a rolling update: 'at' changes, 'iat' does not):
  // the members entry decides, so a stale 'ct' does no harm.
  ASSERT_TRUE(redis_
                  .Command({"HSET", "oppmatrix:{acme}:opp:opp-1", "at", "1",
                            "ct", "999999"})
                  .ok());
  Put({Result("opp-1", "DEVELOP", 40, 500)});
  m = store_->Matrix("acme", {}, 0, Now(), Soon());
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ((*m)[0].amount_cents, 50000);
  // The same cell at another priority: the cell's set follows.
  Put({Result("opp-1", "DEVELOP", 45, 300), Result("opp-2", "DEVELOP", 44)});
  EXPECT_THAT(CellIds("DEVELOP"), ElementsAre("opp-1", "opp-2"));
  Put({Result("opp-1", "DEVELOP", 43, 300)});
  EXPECT_THAT(CellIds("DEVELOP"), ElementsAre("opp-2", "opp-1"));
}

// Through the asynchronous client, store calls that come while two are in
// flight wait and then go together: one script call for all of them.
TEST_F(ResultStoreTest, CallsThatWaitGoTogether) {
  auto async = AsyncRedis::Create({.endpoint = *ParseRedisUrl(redis_.url()),
                                   .command_timeout = absl::Seconds(10)});
  ASSERT_TRUE(async.ok()) << async.status();
  RedisResultStore store(async->get(), {.result_ttl = absl::Hours(24)});
  v1::Classification warm = Result("warm", "KEY", 1);
  PutItem warm_item{&warm, "fp", true};
  ASSERT_TRUE(store.Put({warm_item}, {.now = Now()}, Soon()).ok());
  const int64_t evalsha =
      *redis_.InfoValue("commandstats", "cmdstat_evalsha:calls");

  constexpr int kCalls = 50;
  std::vector<v1::Classification> results;
  for (int i = 0; i < kCalls; ++i) {
    results.push_back(Result(absl::StrCat("opp-", i), "KEY", i));
  }
  std::vector<PutItem> items;
  for (const v1::Classification& c : results) items.push_back({&c, "fp", true});
  absl::Mutex mu;
  int done = 0;
  std::vector<PutOutcome> outcomes(kCalls);
  redis_.Pause();  // the first two stay in flight until it resumes
  for (int i = 0; i < kCalls; ++i) {
    store.PutAsync(absl::MakeConstSpan(&items[i], 1), {.now = Now()}, Soon(),
                   [&, i](absl::StatusOr<std::vector<PutOutcome>> out) {
                     absl::MutexLock lock(&mu);
                     EXPECT_TRUE(out.ok()) << out.status();
                     if (out.ok()) outcomes[i] = (*out)[0];
                     ++done;
                   });
  }
  redis_.Resume();
  {
    absl::MutexLock lock(&mu);
    ASSERT_TRUE(
        mu.AwaitWithTimeout(absl::Condition(
                                +[](int* n) { return *n == kCalls; }, &done),
                            absl::Seconds(30)));
  }
  EXPECT_EQ(*redis_.InfoValue("commandstats", "cmdstat_evalsha:calls"),
            evalsha + 3);
  EXPECT_THAT(CellIds("KEY").size(), kCalls + 1);
  for (const PutOutcome& o : outcomes) EXPECT_FALSE(o.moved);
}

// Calls that went together fail only for their own tenant's script.
TEST_F(ResultStoreTest, OneTenantsFailureIsNotAnotherCallers) {
  auto async = AsyncRedis::Create({.endpoint = *ParseRedisUrl(redis_.url()),
                                   .command_timeout = absl::Seconds(10)});
  ASSERT_TRUE(async.ok()) << async.status();
  RedisResultStore store(async->get(), {.result_ttl = absl::Hours(24)});
  // The bad tenant's totals are not a hash: its script fails.
  ASSERT_TRUE(redis_.Command({"SET", "oppmatrix:{bad}:stats", "x"}).ok());
  std::vector<v1::Classification> results = {
      Result("a", "KEY", 1), Result("b", "KEY", 2),
      Result("c", "KEY", 3, 0, "bad"), Result("d", "KEY", 4)};
  std::vector<PutItem> items;
  for (const v1::Classification& c : results) items.push_back({&c, "fp", true});
  absl::Mutex mu;
  int done = 0;
  std::vector<absl::Status> status(results.size());
  redis_.Pause();  // a and b in flight; c and d wait and go together
  for (size_t i = 0; i < results.size(); ++i) {
    store.PutAsync(absl::MakeConstSpan(&items[i], 1), {.now = Now()}, Soon(),
                   [&, i](absl::StatusOr<std::vector<PutOutcome>> out) {
                     absl::MutexLock lock(&mu);
                     status[i] = out.status();
                     ++done;
                   });
  }
  redis_.Resume();
  {
    absl::MutexLock lock(&mu);
    ASSERT_TRUE(mu.AwaitWithTimeout(absl::Condition(
                                        +[](int* n) { return *n == 4; }, &done),
                                    absl::Seconds(30)));
  }
  EXPECT_TRUE(status[0].ok()) << status[0];
  EXPECT_TRUE(status[1].ok()) << status[1];
  EXPECT_FALSE(status[2].ok());
  EXPECT_TRUE(status[3].ok()) << status[3];
  EXPECT_THAT(CellIds("KEY"), ElementsAre("d", "b", "a"));
}

// Ids as CRMs send them: accents, other scripts, the store's own separators
// ('|' in the members entry, braces of the hash tag, ':' of the keys).
TEST_F(ResultStoreTest, IdsAsCrmsSendThemRoundTrip) {
  const std::vector<std::string> ids = {"Übernahme Müller GmbH – 2026/Q3",
                                        "商机-北京-001",
                                        "deal|with|pipes",
                                        "id {with} braces",
                                        "006Dn00000AbCdE:renewal",
                                        "صفقة-٢٠٢٦"};
  std::vector<v1::Classification> results;
  for (size_t i = 0; i < ids.size(); ++i) {
    results.push_back(Result(ids[i], "KEY", 50, 100 * (i + 1)));
  }
  Put(results);
  for (v1::Classification& c : results) c.set_cell("DEVELOP");
  std::vector<PutOutcome> out = Put(results);
  std::set<std::string> listed;
  std::string token;
  do {
    auto page = store_->List("acme", "DEVELOP", 4, token, Soon());
    ASSERT_TRUE(page.ok()) << page.status();
    for (const v1::Classification& c : page->classifications) {
      listed.insert(c.opportunity_id());
    }
    token = page->next_page_token;
  } while (!token.empty());
  EXPECT_EQ(listed, std::set<std::string>(ids.begin(), ids.end()));
  for (size_t i = 0; i < ids.size(); ++i) {
    EXPECT_TRUE(out[i].moved) << ids[i];
    auto got = store_->Get("acme", ids[i], Soon());
    ASSERT_TRUE(got.ok()) << ids[i] << ": " << got.status();
    EXPECT_EQ(got->previous_cell(), "KEY");
  }
  EXPECT_EQ(AllTransitions().size(), ids.size());
  auto m = store_->Matrix("acme", {.industry = v1::INDUSTRY_MANUFACTURING}, 2,
                          Now(), Soon());
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_EQ(m->size(), 1u);
  EXPECT_EQ((*m)[0].count, static_cast<int64_t>(ids.size()));
  EXPECT_EQ((*m)[0].amount_cents, 100 * 100 * 21);
}

TEST_F(ResultStoreTest, OneOpportunityTwiceInABatchMovesOnceEach) {
  Put({Result("opp-1", "KEY", 90, 100), Result("opp-1", "EXIT", 0, 300),
       Result("opp-2", "EXIT", 5, 50)});
  std::vector<v1::Transition> t = AllTransitions();
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].from_cell(), "KEY");
  EXPECT_EQ(t[0].to_cell(), "EXIT");
  auto m = store_->Matrix("acme", {}, 0, Now(), Soon());
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_EQ(m->size(), 1u);
  EXPECT_EQ((*m)[0].cell, "EXIT");
  EXPECT_EQ((*m)[0].count, 2);
  EXPECT_EQ((*m)[0].amount_cents, 35000);
}

TEST_F(ResultStoreTest, ListPagesByPriorityWithoutGapsOrRepeats) {
  std::vector<v1::Classification> results;
  for (int i = 0; i < 53; ++i) {
    // Ties on purpose: priorities 0..9 repeat.
    results.push_back(Result(absl::StrCat("opp-", i), "KEY", i % 10));
  }
  Put(results);
  std::vector<std::string> order;
  std::string token;
  double last = 1e9;
  do {
    auto page = store_->List("acme", "KEY", 10, token, Soon());
    ASSERT_TRUE(page.ok()) << page.status();
    for (const v1::Classification& c : page->classifications) {
      EXPECT_LE(c.priority_score(), last);
      last = c.priority_score();
      order.push_back(c.opportunity_id());
    }
    token = page->next_page_token;
  } while (!token.empty());
  EXPECT_EQ(order.size(), 53u);
  EXPECT_EQ(std::set<std::string>(order.begin(), order.end()).size(), 53u);
  EXPECT_EQ(order, CellIds("KEY"));

  EXPECT_EQ(store_->List("acme", "KEY", 10, "garbage", Soon()).status().code(),
            absl::StatusCode::kInvalidArgument);
  auto empty = store_->List("acme", "EXIT", 10, "", Soon());
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->classifications.empty());
  EXPECT_TRUE(empty->next_page_token.empty());
}

TEST_F(ResultStoreTest, ListCursorSurvivesTheCursorEntryMoving) {
  std::vector<v1::Classification> results;
  for (int i = 0; i < 6; ++i) {
    results.push_back(Result(absl::StrCat("opp-", i), "KEY", 10 * i));
  }
  Put(results);
  auto first = store_->List("acme", "KEY", 3, "", Soon());
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->classifications.size(), 3u);  // 50, 40, 30
  // The last entry of the page leaves the cell before the next page.
  Put({Result("opp-3", "EXIT", 0)});
  auto second = store_->List("acme", "KEY", 3, first->next_page_token, Soon());
  ASSERT_TRUE(second.ok());
  std::vector<std::string> ids;
  for (const auto& c : second->classifications) {
    ids.push_back(c.opportunity_id());
  }
  EXPECT_THAT(ids, ElementsAre("opp-2", "opp-1", "opp-0"));
}

TEST_F(ResultStoreTest, ListCursorAmongTiesSurvivesTheCursorEntryMoving) {
  // a, b, c, d all at priority 5: the set orders them d, c, b, a.
  Put({Result("a", "KEY", 5), Result("b", "KEY", 5), Result("c", "KEY", 5),
       Result("d", "KEY", 5)});
  auto first = store_->List("acme", "KEY", 2, "", Soon());
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->classifications.size(), 2u);
  EXPECT_EQ(first->classifications[1].opportunity_id(), "c");
  Put({Result("c", "EXIT", 0)});  // the cursor's entry leaves
  auto second = store_->List("acme", "KEY", 2, first->next_page_token, Soon());
  ASSERT_TRUE(second.ok());
  std::vector<std::string> ids;
  for (const auto& c : second->classifications) {
    ids.push_back(c.opportunity_id());
  }
  EXPECT_THAT(ids, ElementsAre("b", "a"));  // no repeat of d
}

TEST_F(ResultStoreTest, PageSizeBelowOneIsInvalid) {
  EXPECT_EQ(store_->List("acme", "KEY", 0, "", Soon()).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->Transitions("acme", 0, "", Soon()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(ResultStoreTest, FilteredMatrixCountsOnlyMatches) {
  v1::Classification sme = Result("sme-1", "DEVELOP", 30, 500);
  sme.set_customer_type(v1::CUSTOMER_TYPE_SME);
  sme.set_industry(v1::INDUSTRY_RETAIL);
  v1::Classification big = Result("big-1", "KEY", 90, 90000);
  v1::Classification big2 = Result("big-2", "KEY", 95, 10000);
  Put({sme, big, big2});
  MatrixFilter f;
  f.customer_type = v1::CUSTOMER_TYPE_LARGE_ENTERPRISE;
  auto m = store_->Matrix("acme", f, 1, Now(), Soon());
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_EQ(m->size(), 1u);
  EXPECT_EQ((*m)[0].cell, "KEY");
  EXPECT_EQ((*m)[0].count, 2);
  EXPECT_EQ((*m)[0].amount_cents, 10000000);
  ASSERT_EQ((*m)[0].top.size(), 1u);
  EXPECT_EQ((*m)[0].top[0].opportunity_id(), "big-2");

  f = {};
  f.industry = v1::INDUSTRY_RETAIL;
  m = store_->Matrix("acme", f, 3, Now(), Soon());
  ASSERT_EQ(m->size(), 1u);
  EXPECT_EQ((*m)[0].cell, "DEVELOP");
  EXPECT_EQ((*m)[0].amount_cents, 50000);
}

TEST_F(ResultStoreTest, ExpiredResultsLeaveTheIndexesAndTotals) {
  Put({Result("old", "KEY", 50, 100)});
  Put({Result("new", "KEY", 60, 100)}, Now() + absl::Hours(20));
  // 25 hours later "old" is past its 24 h TTL; "new" is not.
  auto m = store_->Matrix("acme", {}, 10, Now() + absl::Hours(25), Soon());
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_EQ(m->size(), 1u);
  EXPECT_EQ((*m)[0].count, 1);
  EXPECT_EQ((*m)[0].amount_cents, 10000);
  EXPECT_THAT(CellIds("KEY"), ElementsAre("new"));
  EXPECT_EQ(
      redis_.Command({"HEXISTS", "oppmatrix:{acme}:members", "old"})->integer,
      0);
}

TEST_F(ResultStoreTest, DeleteRemovesResultAndIndexEntries) {
  Put({Result("opp-1", "KEY", 50, 100), Result("opp-2", "KEY", 40, 100)});
  auto out = store_->Delete(
      std::vector<DeleteItem>{{"acme", "opp-1"}, {"acme", "never-stored"}},
      Now(), Soon());
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_EQ(out->size(), 2u);
  EXPECT_TRUE((*out)[0].deleted);
  EXPECT_EQ((*out)[0].from_cell, "KEY");
  EXPECT_FALSE((*out)[1].deleted);
  EXPECT_EQ((*out)[1].from_cell, "");
  EXPECT_EQ(store_->Get("acme", "opp-1", Soon()).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_THAT(CellIds("KEY"), ElementsAre("opp-2"));
  auto m = store_->Matrix("acme", {}, 0, Now(), Soon());
  ASSERT_EQ(m->size(), 1u);
  EXPECT_EQ((*m)[0].count, 1);
  EXPECT_EQ((*m)[0].amount_cents, 10000);
  ASSERT_TRUE(
      store_->Delete(std::vector<DeleteItem>{{"acme", "opp-2"}}, Now(), Soon())
          .ok());
  EXPECT_TRUE(store_->Matrix("acme", {}, 0, Now(), Soon())->empty());
  EXPECT_EQ(redis_.Command({"EXISTS", "oppmatrix:{acme}:stats"})->integer, 0);
  EXPECT_EQ(redis_.Command({"EXISTS", "oppmatrix:{acme}:expiry"})->integer, 0);
}

TEST_F(ResultStoreTest, ADeleteIsOneTransitionToNoCell) {
  Put({Result("opp-1", "KEY", 50, 100)});
  const absl::Time at = Now() + absl::Minutes(3);
  ASSERT_TRUE(
      store_->Delete(std::vector<DeleteItem>{{"acme", "opp-1"}}, at, Soon())
          .ok());
  // Deleting again finds nothing and records nothing.
  auto again =
      store_->Delete(std::vector<DeleteItem>{{"acme", "opp-1"}}, at, Soon());
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE((*again)[0].deleted);
  std::vector<v1::Transition> t = AllTransitions();
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].opportunity_id(), "opp-1");
  EXPECT_EQ(t[0].from_cell(), "KEY");
  EXPECT_EQ(t[0].to_cell(), "");
  EXPECT_EQ(TimeUtil::TimestampToMilliseconds(t[0].time()),
            absl::ToUnixMillis(at));
  // Stored again later, it enters a cell as a first result does: no
  // transition.
  Put({Result("opp-1", "EXIT", 10)});
  EXPECT_EQ(AllTransitions().size(), 1u);
}

TEST_F(ResultStoreTest, ADeleteOfAnOlderVersionKeepsTheNewerResult) {
  v1::Classification c = Result("opp-1", "KEY", 50, 100);
  c.set_opportunity_version(7);
  Put({c});
  // Older, and the same version (classified from the opportunity as it
  // stood at the deletion): kept.
  auto out = store_->Delete(
      std::vector<DeleteItem>{{"acme", "opp-1", 6}, {"acme", "opp-1", 7}},
      Now(), Soon());
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_TRUE((*out)[0].superseded);
  EXPECT_FALSE((*out)[0].deleted);
  EXPECT_TRUE((*out)[1].superseded);
  EXPECT_TRUE(store_->Get("acme", "opp-1", Soon()).ok());
  out = store_->Delete(std::vector<DeleteItem>{{"acme", "opp-1", 8}}, Now(),
                       Soon());
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_TRUE((*out)[0].deleted);
  EXPECT_EQ(store_->Get("acme", "opp-1", Soon()).status().code(),
            absl::StatusCode::kNotFound);
}

// A deletion leaves a tombstone of its version: a late result of an older
// version (an update that was in flight when the deal was deleted) is not
// stored again, whether or not a result was there to delete; a newer one
// (the deal came back) is, as a first result. The tombstone expires with
// the results' TTL and is not a result anywhere.
TEST_F(ResultStoreTest, ALateOlderResultDoesNotComeBackAfterADelete) {
  auto versioned = [](const std::string& id, int64_t version,
                      const std::string& cell) {
    v1::Classification c = Result(id, cell, 50, 100);
    c.set_opportunity_version(version);
    return c;
  };
  // An id as a CRM exports it: accents, CJK, a '|' and spaces.
  const std::string kMessy = "Müller & Söhne | 株式会社 {Q3}";
  Put({versioned("opp-1", 3, "KEY")});
  auto out = store_->Delete(
      std::vector<DeleteItem>{{"acme", "opp-1", 5}, {"acme", kMessy, 5}}, Now(),
      Soon());
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_TRUE((*out)[0].deleted);
  EXPECT_FALSE((*out)[1].deleted);  // nothing was stored, still a tombstone
  const int64_t ttl_ms =
      redis_.Command({"PTTL", "oppmatrix:{acme}:opp:opp-1"})->integer;
  EXPECT_GT(ttl_ms, absl::ToInt64Milliseconds(absl::Hours(23)));
  EXPECT_LE(ttl_ms, absl::ToInt64Milliseconds(absl::Hours(24)));

  // Late: versions 4 of both, older than their deletion.
  std::vector<PutOutcome> late =
      Put({versioned("opp-1", 4, "EXIT"), versioned(kMessy, 4, "KEY")});
  EXPECT_TRUE(late[0].superseded);
  EXPECT_TRUE(late[1].superseded);
  EXPECT_EQ(store_->Get("acme", "opp-1", Soon()).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->Get("acme", kMessy, Soon()).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_TRUE(store_->Matrix("acme", {}, 0, Now(), Soon())->empty());
  EXPECT_THAT(CellIds("KEY"), ElementsAre());
  // Deleting again removes nothing; an older deletion keeps the newer
  // tombstone.
  out = store_->Delete(std::vector<DeleteItem>{{"acme", "opp-1", 2}}, Now(),
                       Soon());
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_FALSE((*out)[0].deleted);
  EXPECT_TRUE(Put({versioned("opp-1", 4, "EXIT")})[0].superseded);
  // The deal comes back at version 6: stored as a first result, with no
  // transition (the one out of KEY is the only one).
  std::vector<PutOutcome> back = Put({versioned("opp-1", 6, "EXIT")});
  EXPECT_FALSE(back[0].superseded);
  EXPECT_FALSE(back[0].moved);
  auto got = store_->Get("acme", "opp-1", Soon());
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->cell(), "EXIT");
  EXPECT_EQ(
      redis_.Command({"HEXISTS", "oppmatrix:{acme}:opp:opp-1", "del"})->integer,
      0);
  std::vector<v1::Transition> t = AllTransitions();
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].to_cell(), "");
}

TEST_F(ResultStoreTest, ADeleteBatchSpansTenants) {
  Put({Result("opp-1", "KEY", 50, 100, "acme"),
       Result("opp-1", "EXIT", 50, 100, "globex")});
  auto out = store_->Delete(
      std::vector<DeleteItem>{
          {"globex", "opp-1"}, {"acme", "nope"}, {"acme", "opp-1"}},
      Now(), Soon());
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ((*out)[0].from_cell, "EXIT");
  EXPECT_FALSE((*out)[1].deleted);
  EXPECT_EQ((*out)[2].from_cell, "KEY");
  EXPECT_TRUE(store_->Matrix("acme", {}, 0, Now(), Soon())->empty());
  EXPECT_TRUE(store_->Matrix("globex", {}, 0, Now(), Soon())->empty());
}

TEST_F(ResultStoreTest, ScriptsAreReloadedAfterAScriptFlush) {
  Put({Result("opp-1", "KEY", 50)});
  ASSERT_TRUE(redis_.Command({"SCRIPT", "FLUSH"}).ok());
  std::vector<PutOutcome> out = Put({Result("opp-1", "EXIT", 0)});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out[0].moved);
  EXPECT_EQ(AllTransitions().size(), 1u);
}

TEST_F(ResultStoreTest, RedisDownIsUnavailableNotACrash) {
  redis_.Kill();
  EXPECT_EQ(store_->Get("acme", "opp-1", Soon()).status().code(),
            absl::StatusCode::kUnavailable);
  v1::Classification c = Result("opp-1", "KEY", 50);
  PutItem item{&c, "fp", true};
  EXPECT_EQ(store_->Put({item}, {.now = Now()}, Soon()).status().code(),
            absl::StatusCode::kUnavailable);
}

// A result written with `fingerprint`, at `now`.
PutOutcome PutAs(ResultStore& store, const v1::Classification& c,
                 const std::string& fingerprint, absl::Time now) {
  std::vector<PutItem> items = {{&c, fingerprint, true}};
  absl::StatusOr<std::vector<PutOutcome>> out =
      store.Put(items, {.now = now}, Soon());
  EXPECT_TRUE(out.ok()) << out.status();
  return out.ok() ? (*out)[0] : PutOutcome{};
}

StoredHistory HistoryOf(ResultStore& store, const std::string& id) {
  absl::StatusOr<StoredHistory> h =
      WaitFor<StoredHistory>([&](ResultStore::HistoryCallback done) {
        store.HistoryAsync("acme", id, Soon(), std::move(done));
      });
  EXPECT_TRUE(h.ok()) << h.status();
  return h.ok() ? *std::move(h) : StoredHistory{};
}

std::vector<std::string> Causes(const StoredHistory& h) {
  std::vector<std::string> out;
  for (const v1::HistoryEntry& e : h.entries) out.push_back(e.cause());
  return out;
}

TEST_F(ResultStoreTest, HistoryKeepsEachNewStateNewestFirstWithItsCause) {
  v1::Classification c = Result("h-1", "DEVELOP", 60);
  c.set_grade(v1::GRADE_B);
  c.set_opportunity_version(1);
  PutAs(*store_, c, "aaaaaaaaaaaa-1", Now());
  // The same state again, later: no new entry.
  PutAs(*store_, c, "aaaaaaaaaaaa-1", Now() + absl::Minutes(1));
  // The record changed and so did the scores.
  c.set_opportunity_version(2);
  c.set_priority_score(80);
  c.set_relationship_score(70);
  c.set_cell("KEY");
  c.set_grade(v1::GRADE_A);
  PutAs(*store_, c, "bbbbbbbbbbbb-2", Now() + absl::Minutes(2));
  // Another ruleset, same record and scores: a new state by its version.
  c.set_ruleset_version("default@ffffffffffff");
  PutAs(*store_, c, "bbbbbbbbbbbb-2", Now() + absl::Minutes(3));
  // Neither: the time moved the scores (days since the last interaction).
  c.set_relationship_score(65);
  c.set_priority_score(78);
  PutAs(*store_, c, "bbbbbbbbbbbb-2", Now() + absl::Minutes(4));

  StoredHistory h = HistoryOf(*store_, "h-1");
  EXPECT_EQ(h.classification.opportunity_id(), "h-1");
  EXPECT_THAT(Causes(h), ElementsAre("time", "ruleset", "data", "first"));
  ASSERT_EQ(h.entries.size(), 4u);
  const v1::HistoryEntry& newest = h.entries[0];
  EXPECT_EQ(newest.cell(), "KEY");
  EXPECT_EQ(newest.priority_score(), 78);
  EXPECT_EQ(newest.relationship_score(), 65);
  EXPECT_EQ(newest.grade(), v1::GRADE_A);
  EXPECT_EQ(newest.ruleset_version(), "default@ffffffffffff");
  EXPECT_EQ(newest.opportunity_version(), 2);
  EXPECT_EQ(TimeUtil::TimestampToMilliseconds(newest.classified_time()),
            TimeUtil::TimestampToMilliseconds(c.classified_time()));
  const v1::HistoryEntry& first = h.entries[3];
  EXPECT_EQ(first.cell(), "DEVELOP");
  EXPECT_EQ(first.priority_score(), 60);
  EXPECT_EQ(first.grade(), v1::GRADE_B);
  EXPECT_EQ(first.ruleset_version(), kRules);
  EXPECT_EQ(first.opportunity_version(), 1);

  // The move DEVELOP -> KEY says what caused it.
  std::vector<v1::Transition> moves = AllTransitions();
  ASSERT_EQ(moves.size(), 1u);
  EXPECT_EQ(moves[0].cause(), "data");
  // A deletion's move out says so; the history goes with the result.
  ASSERT_TRUE(store_->Delete({{"acme", "h-1", 0}}, Now(), Soon()).ok());
  moves = AllTransitions();
  ASSERT_EQ(moves.size(), 2u);
  EXPECT_EQ(moves[0].cause(), "deleted");
  absl::StatusOr<StoredHistory> gone =
      WaitFor<StoredHistory>([&](ResultStore::HistoryCallback done) {
        store_->HistoryAsync("acme", "h-1", Soon(), std::move(done));
      });
  EXPECT_EQ(gone.status().code(), absl::StatusCode::kNotFound);
}

// A write that changes the record but not the scores adds no state; the
// next state's cause is what that next write changed.
TEST_F(ResultStoreTest, AStatesCauseIsWhatItsOwnWriteChanged) {
  v1::Classification c = Result("h-4", "KEY", 70);
  PutAs(*store_, c, "aaaaaaaaaaaa", Now());
  c.set_opportunity_version(2);  // a new record, the same scores
  PutAs(*store_, c, "bbbbbbbbbbbb", Now() + absl::Minutes(1));
  EXPECT_EQ(HistoryOf(*store_, "h-4").entries.size(), 1u);
  c.set_priority_score(60);  // the time moved it
  c.set_cell("DEVELOP");
  PutAs(*store_, c, "bbbbbbbbbbbb", Now() + absl::Minutes(2));
  StoredHistory h = HistoryOf(*store_, "h-4");
  EXPECT_THAT(Causes(h), ElementsAre("time", "first"));
  EXPECT_EQ(h.entries[0].opportunity_version(), 2);
  std::vector<v1::Transition> moves = AllTransitions();
  ASSERT_EQ(moves.size(), 1u);
  EXPECT_EQ(moves[0].cause(), "time");
}

// A line that does not parse is left out, and the result still reads.
TEST_F(ResultStoreTest, ABadHistoryLineIsLeftOut) {
  v1::Classification c = Result("h-5", "KEY", 70);
  PutAs(*store_, c, "aaaaaaaaaaaa", Now());
  const std::string key = "oppmatrix:{acme}:opp:h-5";
  auto line = redis_.Command({"HGET", key, "h"});
  ASSERT_TRUE(line.ok());
  ASSERT_TRUE(redis_
                  .Command({"HSET", key, "h",
                            "garbage\n" + line->str + "|a-later-field"})
                  .ok());
  StoredHistory h = HistoryOf(*store_, "h-5");
  ASSERT_EQ(h.entries.size(), 1u);
  EXPECT_EQ(h.entries[0].cause(), "first");
  EXPECT_EQ(h.classification.opportunity_id(), "h-5");
}

TEST_F(ResultStoreTest, TheInputIsKeptWithTheResultAndReplacedByTheNextOne) {
  v1::Classification c = Result("in-1", "DEVELOP", 60);
  v1::Opportunity opp;
  opp.set_tenant_id("acme");
  opp.set_id("in-1");
  opp.set_name("华为 云 support renewal");  // as typed, non-ASCII kept
  opp.mutable_amount()->set_currency_code("CNY");
  opp.mutable_amount()->set_units(120000);
  PutItem item{&c, "fp-1", true};
  item.input = opp.SerializeAsString();
  ASSERT_TRUE(store_->Put({item}, {.now = Now()}, Soon()).ok());
  StoredHistory h = HistoryOf(*store_, "in-1");
  ASSERT_TRUE(h.input.has_value());
  EXPECT_EQ(h.input->name(), "华为 云 support renewal");
  EXPECT_EQ(h.input->amount().units(), 120000);

  // The next write's input replaces it; one kept as current leaves it.
  opp.mutable_amount()->set_units(90000);
  item.fingerprint = "fp-2";
  item.input = opp.SerializeAsString();
  ASSERT_TRUE(store_->Put({item}, {.now = Now()}, Soon()).ok());
  EXPECT_EQ(HistoryOf(*store_, "in-1").input->amount().units(), 90000);

  // Stored without one (or with bytes that do not parse): no input, and
  // the result is still readable.
  item.fingerprint = "fp-3";
  item.input = "";
  ASSERT_TRUE(store_->Put({item}, {.now = Now()}, Soon()).ok());
  EXPECT_FALSE(HistoryOf(*store_, "in-1").input.has_value());
  item.fingerprint = "fp-4";
  item.input = "\xff\xff\xff";
  ASSERT_TRUE(store_->Put({item}, {.now = Now()}, Soon()).ok());
  h = HistoryOf(*store_, "in-1");
  EXPECT_FALSE(h.input.has_value());
  EXPECT_EQ(h.classification.opportunity_id(), "in-1");
}

TEST_F(ResultStoreTest, OnlyOverTheSameInputLeavesNewerInputAndDeletions) {
  v1::Classification c = Result("same-1", "DEVELOP", 60);
  ASSERT_TRUE(store_->Put({{&c, "fp-new", true}}, {.now = Now()}, Soon()).ok());
  // A rescore from older input (fp-old) does not overwrite it...
  v1::Classification rescored = Result("same-1", "KEY", 90);
  PutItem item{&rescored, "fp-old", true};
  item.only_over_same_input = true;
  absl::StatusOr<std::vector<PutOutcome>> out =
      store_->Put({item}, {.now = Now()}, Soon());
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_TRUE((*out)[0].superseded);
  EXPECT_EQ(store_->Get("acme", "same-1", Soon())->cell(), "DEVELOP");
  // ...one from the same input does,
  item.fingerprint = "fp-new";
  out = store_->Put({item}, {.now = Now()}, Soon());
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_FALSE((*out)[0].superseded);
  EXPECT_TRUE((*out)[0].moved);
  EXPECT_EQ(store_->Get("acme", "same-1", Soon())->cell(), "KEY");
  // and none brings back a deleted result.
  ASSERT_TRUE(store_->Delete({{"acme", "same-1", 0}}, Now(), Soon()).ok());
  out = store_->Put({item}, {.now = Now()}, Soon());
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_TRUE((*out)[0].superseded);
  EXPECT_EQ(store_->Get("acme", "same-1", Soon()).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(ResultStoreTest, HistoryIsCutToItsLength) {
  RedisResultStore::Options so;
  so.history_length = 3;
  RedisResultStore short_store(redis_client_.get(), so);
  v1::Classification c = Result("h-2", "KEY", 50);
  for (int i = 0; i < 6; ++i) {
    c.set_priority_score(50 + i);
    c.set_opportunity_version(i + 1);
    PutAs(short_store, c, absl::StrCat(i, "-fingerprint"), Now());
  }
  StoredHistory h = HistoryOf(short_store, "h-2");
  ASSERT_EQ(h.entries.size(), 3u);
  EXPECT_EQ(h.entries[0].priority_score(), 55);
  EXPECT_EQ(h.entries[2].priority_score(), 53);
  EXPECT_THAT(Causes(h), ElementsAre("data", "data", "data"));

  // A shorter length cuts what is kept at the next write; zero keeps none.
  so.history_length = 1;
  RedisResultStore shorter(redis_client_.get(), so);
  c.set_priority_score(60);
  PutAs(shorter, c, "9-fingerprint", Now());
  EXPECT_EQ(HistoryOf(shorter, "h-2").entries.size(), 1u);
  so.history_length = 0;
  RedisResultStore none(redis_client_.get(), so);
  c.set_priority_score(61);
  PutAs(none, c, "10-fingerprint", Now());
  EXPECT_TRUE(HistoryOf(none, "h-2").entries.empty());
  auto field = redis_.Command({"HEXISTS", "oppmatrix:{acme}:opp:h-2", "h"});
  ASSERT_TRUE(field.ok());
  EXPECT_EQ(field->integer, 0);
  // Back on: the first entry's cause compares with the stored result.
  c.set_priority_score(62);
  PutAs(*store_, c, "10-fingerprint", Now());
  EXPECT_THAT(Causes(HistoryOf(*store_, "h-2")), ElementsAre("time"));
}

TEST_F(ResultStoreTest, ABatchOfOneOpportunityKeepsEachState) {
  std::vector<v1::Classification> results;
  for (int i = 0; i < 4; ++i) {
    results.push_back(Result("h-3", i % 2 ? "KEY" : "DEVELOP", 50 + i));
    results.back().set_opportunity_version(i + 1);
  }
  Put(results);
  StoredHistory h = HistoryOf(*store_, "h-3");
  ASSERT_EQ(h.entries.size(), 4u);
  EXPECT_EQ(h.entries[0].priority_score(), 53);
  // One fingerprint per id in Put(): each change after the first is time.
  EXPECT_THAT(Causes(h), ElementsAre("time", "time", "time", "first"));
}

StoredAccount AccountOf(ResultStore& store, const std::string& account,
                        absl::Time now = Now()) {
  absl::StatusOr<StoredAccount> a =
      WaitFor<StoredAccount>([&](ResultStore::AccountCallback done) {
        store.AccountAsync("acme", account, now, 1000, Soon(), std::move(done));
      });
  EXPECT_TRUE(a.ok()) << a.status();
  return a.ok() ? *std::move(a) : StoredAccount{};
}

std::vector<std::string> Ids(const StoredAccount& a) {
  std::vector<std::string> ids;
  for (const v1::Classification& c : a.results) {
    ids.push_back(c.opportunity_id());
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

TEST_F(ResultStoreTest, AnAccountHoldsItsResultsWhereverTheyMove) {
  std::vector<v1::Classification> results;
  for (const char* id : {"a-1", "a-2", "a-3"}) {
    results.push_back(Result(id, "KEY", 70));
    results.back().set_account_id("acc-1");
  }
  results[2].set_account_id("acc-2");
  Put(results);
  StoredAccount one = AccountOf(*store_, "acc-1");
  EXPECT_EQ(one.total, 2);
  EXPECT_THAT(Ids(one), ElementsAre("a-1", "a-2"));
  EXPECT_EQ(one.results[0].account_id(), "acc-1");
  EXPECT_THAT(Ids(AccountOf(*store_, "acc-2")), ElementsAre("a-3"));

  // a-2 moves to acc-2, a-1 is deleted: each set follows.
  results[1].set_account_id("acc-2");
  results[1].set_opportunity_version(2);
  Put({results[1]});
  ASSERT_TRUE(store_->Delete({{"acme", "a-1", 0}}, Now(), Soon()).ok());
  EXPECT_EQ(AccountOf(*store_, "acc-1").total, 0);
  auto gone = redis_.Command({"EXISTS", "oppmatrix:{acme}:acct:acc-1"});
  ASSERT_TRUE(gone.ok());
  EXPECT_EQ(gone->integer, 0);  // an empty set is no key
  // After a script flush the read loads its script again.
  ASSERT_TRUE(redis_.Command({"SCRIPT", "FLUSH"}).ok());
  EXPECT_THAT(Ids(AccountOf(*store_, "acc-2")), ElementsAre("a-2", "a-3"));

  // The set lives as long as its results (the TTL is a day), and a read
  // past their expiry finds none.
  auto ttl = redis_.Command({"PTTL", "oppmatrix:{acme}:acct:acc-2"});
  auto member = redis_.Command({"PTTL", "oppmatrix:{acme}:opp:a-3"});
  ASSERT_TRUE(ttl.ok() && member.ok());
  EXPECT_GE(ttl->integer, member->integer);
  EXPECT_GT(member->integer, 0);
  EXPECT_EQ(AccountOf(*store_, "acc-2", Now() + absl::Hours(25)).total, 0);
}

// A result stored without its account (before accounts were indexed)
// joins at its next write, even when it is otherwise current.
TEST_F(ResultStoreTest, AResultJoinsItsAccountAtItsNextWrite) {
  v1::Classification c = Result("a-9", "KEY", 70);
  c.set_account_id("acc-9");
  Put({c});
  ASSERT_TRUE(redis_.Command({"DEL", "oppmatrix:{acme}:acct:acc-9"}).ok());
  ASSERT_TRUE(
      redis_.Command({"HDEL", "oppmatrix:{acme}:opp:a-9", "acct"}).ok());
  EXPECT_EQ(AccountOf(*store_, "acc-9").total, 0);
  std::vector<PutOutcome> out = Put({c}, Now(), absl::InfinitePast());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_FALSE(out[0].current);
  EXPECT_THAT(Ids(AccountOf(*store_, "acc-9")), ElementsAre("a-9"));
  // Now it is current, and stays in its account.
  out = Put({c}, Now(), absl::InfinitePast());
  EXPECT_TRUE(out[0].current);
  // Ids with the characters CRMs use are keys like any other.
  v1::Classification odd = Result("a-10", "KEY", 60);
  odd.set_account_id("ACME {EU}: Berlin/Mitte 001");
  Put({odd});
  EXPECT_THAT(Ids(AccountOf(*store_, "ACME {EU}: Berlin/Mitte 001")),
              ElementsAre("a-10"));
}

}  // namespace
}  // namespace oppmatrix
