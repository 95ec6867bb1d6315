// RedisSnapshotStore against a real redis-server: the atomic version gate,
// tombstone expiry, one round trip per batch and script reloading.
#include "services/store/snapshot_store.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "services/store/redis_url.h"
#include "tests/testing/redis_server.h"

namespace oppmatrix {
namespace {

absl::Time Soon() { return absl::Now() + absl::Seconds(10); }

v1::OpportunitySnapshot Snap(int64_t version, const std::string& stage = "") {
  v1::OpportunitySnapshot s;
  s.mutable_opportunity()->set_id("opp-1");
  s.mutable_opportunity()->set_tenant_id("acme");
  s.mutable_opportunity()->set_version(version);
  s.set_revision(version);
  s.mutable_opportunity()->set_stage(stage);
  return s;
}

class SnapshotStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(redis_.Start().ok());
    redis_client_ = testing::TestRedisClient(redis_.url());
    store_ = std::make_unique<RedisSnapshotStore>(
        redis_client_.get(),
        RedisSnapshotStore::Options{.tombstone_ttl = absl::Hours(1)});
  }

  bool Cas(int64_t expected, const v1::OpportunitySnapshot& s) {
    SnapshotWrite w{"acme", "opp-1", expected, &s};
    auto out = store_->CompareAndSet({w}, Soon());
    EXPECT_TRUE(out.ok()) << out.status();
    return out.ok() && (*out)[0];
  }

  std::optional<v1::OpportunitySnapshot> Read() {
    auto out = store_->Get({{"acme", "opp-1"}}, Soon());
    EXPECT_TRUE(out.ok()) << out.status();
    return out.ok() ? (*out)[0] : std::nullopt;
  }

  testing::RedisServer redis_;
  std::unique_ptr<AsyncRedis> redis_client_;
  std::unique_ptr<RedisSnapshotStore> store_;
};

// A batch is one script call per tenant per 200 writes; each write is
// judged on its own (winners written, losers not), and Revisions reads
// back what was written.
TEST_F(SnapshotStoreTest, ABatchOfManyTenantsIsJudgedWriteByWrite) {
  std::vector<v1::OpportunitySnapshot> snaps(450);
  std::vector<SnapshotWrite> writes;
  for (size_t i = 0; i < snaps.size(); ++i) {
    snaps[i].set_revision(1);
    snaps[i].mutable_opportunity()->set_id(absl::StrCat("opp-", i));
    writes.push_back({i % 3 == 0 ? "globex" : "acme", absl::StrCat("opp-", i),
                      0, &snaps[i]});
  }
  auto first = store_->CompareAndSet(writes, Soon());
  ASSERT_TRUE(first.ok()) << first.status();
  for (size_t i = 0; i < writes.size(); ++i) EXPECT_TRUE((*first)[i]) << i;
  // Again from revision 0: every write lost, except those moved on.
  std::vector<v1::OpportunitySnapshot> next(snaps.size());
  for (size_t i = 0; i < snaps.size(); ++i) {
    next[i] = snaps[i];
    next[i].set_revision(2);
    writes[i].snapshot = &next[i];
    writes[i].expected_revision = i % 2 == 0 ? 1 : 0;
  }
  auto second = store_->CompareAndSet(writes, Soon());
  ASSERT_TRUE(second.ok()) << second.status();
  std::vector<SnapshotKey> keys;
  for (const SnapshotWrite& w : writes) {
    keys.push_back({w.tenant_id, w.opportunity_id});
  }
  keys.push_back({"acme", "never"});
  auto revisions = store_->Revisions(keys, Soon());
  ASSERT_TRUE(revisions.ok()) << revisions.status();
  for (size_t i = 0; i < writes.size(); ++i) {
    EXPECT_EQ((*second)[i], i % 2 == 0) << i;
    EXPECT_EQ((*revisions)[i], i % 2 == 0 ? 2 : 1) << i;
  }
  EXPECT_EQ(revisions->back(), 0);
}

TEST_F(SnapshotStoreTest, VersionGate) {
  EXPECT_FALSE(Read().has_value());
  EXPECT_TRUE(Cas(0, Snap(1, "a")));
  EXPECT_EQ(Read()->opportunity().stage(), "a");
  EXPECT_FALSE(Cas(0, Snap(2, "lost race")));  // made from nothing; stale
  EXPECT_FALSE(Cas(1, Snap(1, "same version")));
  EXPECT_TRUE(Cas(1, Snap(3, "b")));
  EXPECT_FALSE(Cas(1, Snap(4, "made from v1")));
  EXPECT_EQ(Read()->opportunity().stage(), "b");
  EXPECT_EQ(Read()->opportunity().version(), 3);
  // No TTL on a live snapshot.
  EXPECT_EQ(redis_.Command({"PTTL", store_->Key("acme", "opp-1")})->integer,
            -1);
}

TEST_F(SnapshotStoreTest, ScanTenantPagesThroughOneTenantOnly) {
  std::vector<v1::OpportunitySnapshot> snaps;
  for (int i = 0; i < 250; ++i) snaps.push_back(Snap(1, "s"));
  std::vector<SnapshotWrite> writes;
  for (int i = 0; i < 250; ++i) {
    writes.push_back({"acme", absl::StrCat("opp-", i), 0, &snaps[i]});
  }
  // Another tenant whose name starts the same, and one with glob
  // characters in its name.
  writes.push_back({"acme2", "opp-x", 0, &snaps[0]});
  writes.push_back({"a*", "opp-y", 0, &snaps[0]});
  ASSERT_TRUE(store_->CompareAndSet(writes, Soon()).ok());
  auto count = [&](const std::string& tenant) {
    size_t n = 0;
    std::string cursor = "0";
    do {
      auto page = store_->ScanTenant(tenant, cursor, 50, Soon());
      EXPECT_TRUE(page.ok()) << page.status();
      if (!page.ok()) return n;
      n += page->snapshots.size();
      cursor = page->cursor;
    } while (cursor != "0");
    return n;
  };
  EXPECT_EQ(count("acme"), 250u);
  EXPECT_EQ(count("acme2"), 1u);
  EXPECT_EQ(count("a*"), 1u);
  EXPECT_EQ(count("nobody"), 0u);
}

TEST_F(SnapshotStoreTest, TombstonesExpireAndRevivalPersists) {
  ASSERT_TRUE(Cas(0, Snap(1)));
  v1::OpportunitySnapshot tomb = Snap(2);
  tomb.set_deleted(true);
  ASSERT_TRUE(Cas(1, tomb));
  int64_t ttl = redis_.Command({"PTTL", store_->Key("acme", "opp-1")})->integer;
  EXPECT_GT(ttl, 0);
  EXPECT_LE(ttl, 3600 * 1000);
  ASSERT_TRUE(Cas(2, Snap(3)));
  EXPECT_EQ(redis_.Command({"PTTL", store_->Key("acme", "opp-1")})->integer,
            -1);
}

TEST_F(SnapshotStoreTest, BatchIsOneRoundTripAndScriptsReload) {
  std::vector<v1::OpportunitySnapshot> snaps;
  for (int i = 0; i < 200; ++i) {
    snaps.push_back(Snap(1, absl::StrCat("s", i)));
    snaps.back().mutable_opportunity()->set_id(absl::StrCat("o-", i));
  }
  std::vector<SnapshotWrite> writes;
  std::vector<SnapshotKey> keys;
  for (const auto& s : snaps) {
    writes.push_back({"acme", s.opportunity().id(), 0, &s});
    keys.push_back({"acme", s.opportunity().id()});
  }
  ASSERT_TRUE(redis_.Command({"SCRIPT", "FLUSH"}).ok());
  auto written = store_->CompareAndSet(writes, Soon());  // NOSCRIPT, reload
  ASSERT_TRUE(written.ok()) << written.status();
  EXPECT_EQ(std::count(written->begin(), written->end(), true), 200);
  int64_t trips = redis_client_->stats().flushes;
  auto read = store_->Get(keys, Soon());
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(redis_client_->stats().flushes - trips, 1);
  EXPECT_EQ((*read)[199]->opportunity().stage(), "s199");
}

// The asynchronous calls return at once, before Redis answers, and each
// answers once: with a frozen Redis, by its deadline. Their arguments may
// go away as soon as they return.
TEST_F(SnapshotStoreTest, AsynchronousCallsReturnAtOnceAndAnswerByTheDeadline) {
  redis_.Pause();
  absl::Mutex mu;
  std::vector<absl::StatusCode> codes;
  auto note = [&](absl::StatusCode code) {
    absl::MutexLock lock(&mu);
    codes.push_back(code);
  };
  const absl::Time deadline = absl::Now() + absl::Milliseconds(200);
  {
    const std::vector<SnapshotKey> keys = {{"acme", "opp-1"}};
    const v1::OpportunitySnapshot next = Snap(1);
    const std::vector<SnapshotWrite> writes = {{"acme", "opp-1", 0, &next}};
    store_->GetAsync(keys, deadline,
                     [&](absl::StatusOr<SnapshotStore::Snapshots> r) {
                       note(r.status().code());
                     });
    store_->RevisionsAsync(keys, deadline,
                           [&](absl::StatusOr<std::vector<int64_t>> r) {
                             note(r.status().code());
                           });
    store_->CompareAndSetAsync(
        writes, deadline,
        [&](absl::StatusOr<std::vector<bool>> r) { note(r.status().code()); });
    absl::MutexLock lock(&mu);
    EXPECT_TRUE(codes.empty());  // nothing answered yet: Redis is frozen
  }
  {
    absl::MutexLock lock(&mu);
    EXPECT_TRUE(mu.AwaitWithTimeout(
        absl::Condition(
            +[](std::vector<absl::StatusCode>* c) { return c->size() == 3; },
            &codes),
        absl::Seconds(5)));
    for (absl::StatusCode code : codes) {
      EXPECT_EQ(code, absl::StatusCode::kDeadlineExceeded);
    }
  }
  redis_.Resume();
  // Once Redis answers again, so does the store (the client reconnects
  // after its backoff).
  absl::StatusOr<std::vector<int64_t>> revisions;
  for (int i = 0; i < 100; ++i) {
    revisions = store_->Revisions({{"acme", "opp-1"}}, Soon());
    if (revisions.ok()) break;
    absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_TRUE(revisions.ok()) << revisions.status();
  // A write answered DEADLINE_EXCEEDED may still have reached Redis: the
  // revision tells (the compare-and-set makes a retry safe either way).
  EXPECT_LE((*revisions)[0], 1);
}

}  // namespace
}  // namespace oppmatrix
