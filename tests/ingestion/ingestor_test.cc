// The ingestion pipeline with real parts: a redis-server on a free port (the
// bus, the snapshots and the results), the classifier as an in-process gRPC
// server storing in that Redis, and GrpcClassifier between them.
#include "services/ingestion/ingestor.h"

#include <atomic>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "oppmatrix/v1/crm_event.pb.h"
#include "services/classifier/classifier_server.h"
#include "services/engine/engine.h"
#include "services/ingestion/grpc_classifier.h"
#include "services/ingestion/redis_stream_source.h"
#include "services/store/redis_result_store.h"
#include "services/store/redis_url.h"
#include "services/store/snapshot_store.h"
#include "tests/classifier/test_server.h"
#include "tests/engine/messy_values.h"
#include "tests/testing/redis_server.h"

namespace oppmatrix {
namespace {

using ::testing::HasSubstr;
using ::testing::SizeIs;

absl::Time Soon() { return absl::Now() + absl::Seconds(10); }

std::string Json(const v1::CrmEvent& e) {
  std::string out;
  (void)google::protobuf::util::MessageToJsonString(e, &out);
  return out;
}

v1::CrmEvent Upsert(const std::string& tenant, const std::string& id,
                    int64_t version, const std::string& opportunity_text,
                    const std::vector<std::string>& mask = {}) {
  v1::CrmEvent e;
  e.set_event_id(absl::StrCat(tenant, "/", id, "/", version));
  e.set_tenant_id(tenant);
  e.set_opportunity_id(id);
  e.set_type(v1::OPPORTUNITY_UPSERTED);
  e.set_version(version);
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(
      opportunity_text, e.mutable_opportunity()));
  for (const std::string& p : mask) e.mutable_update_mask()->add_paths(p);
  return e;
}

constexpr char kBig[] = R"pb(
  stage: "Negotiation/Review"
  amount { currency_code: "USD" units: 900000 }
  account { industry: "Technology" employees: 3000 }
  relationship {
    contacts_engaged: 6
    has_champion: true
    executive_sponsor: true
    meetings_last_90_days: 4
  }
)pb";
constexpr char kSmall[] = R"pb(
  stage: "Prospecting"
  amount { currency_code: "USD" units: 3000 }
  account { industry: "Retail" employees: 8 }
)pb";

class IngestorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(redis_.Start().ok());
    // As the two mains wire it: the classifier's store on its client, the
    // consumer's snapshots and calls on another, each source's blocking
    // reads on one of their own.
    classifier_redis_ = testing::TestRedisClient(redis_.url());
    consumer_redis_ = testing::TestRedisClient(redis_.url());
    results_ = std::make_unique<RedisResultStore>(classifier_redis_.get(),
                                                  RedisResultStore::Options{});
    snapshots_ = std::make_unique<RedisSnapshotStore>(
        consumer_redis_.get(), RedisSnapshotStore::Options{});
    StartClassifier(0);
    source_ = Source("ingestion-0");
    ingestor_ = NewIngestor(source_.get());
  }

  void StartClassifier(int port) {
    ClassifierServer::Options options;
    options.listen = absl::StrCat("127.0.0.1:", port);
    options.service.max_batch_size = max_batch_size_;
    options.service.clock = [] { return testing::TestNow(); };
    auto server = ClassifierServer::Start(options, &rules_, results_.get());
    ASSERT_TRUE(server.ok()) << server.status();
    classifier_ = *std::move(server);
    if (client_ == nullptr) {
      ClientOptions co;
      co.target = absl::StrCat("127.0.0.1:", classifier_->port());
      co.timeout = absl::Seconds(2);
      client_ = *GrpcClassifier::Create(co);
    }
  }

  std::unique_ptr<RedisStreamSource> Source(const std::string& consumer) {
    RedisStreamSource::Options o;
    o.consumer = consumer;
    reads_clients_.push_back(testing::TestRedisClient(redis_.url()));
    return std::make_unique<RedisStreamSource>(consumer_redis_.get(),
                                               reads_clients_.back().get(), o);
  }

  std::unique_ptr<Ingestor> NewIngestor(EventSource* source) {
    Ingestor::Options o;
    o.batch_size = 50;
    o.linger = absl::Milliseconds(10);
    o.min_backoff = absl::Milliseconds(20);
    o.max_backoff = absl::Milliseconds(200);
    return std::make_unique<Ingestor>(source, snapshots_.get(), client_.get(),
                                      o);
  }

  void Push(const std::string& payload) {
    ASSERT_TRUE(
        redis_.Command({"XADD", "oppmatrix:crm-events", "*", "event", payload})
            .ok());
  }
  void Push(const v1::CrmEvent& e) { Push(Json(e)); }

  // Processes batches until the bus has nothing left for the group.
  void Drain(Ingestor& ingestor) {
    std::atomic<bool> stop{false};
    for (int i = 0; i < 200; ++i) {
      auto n = ingestor.ProcessBatch(stop);
      ASSERT_TRUE(n.ok()) << n.status();
      auto stats = source_->Stats();
      if (*n == 0 && stats->lag == 0 && stats->pending == 0) return;
    }
    FAIL() << "the bus did not drain";
  }

  std::optional<v1::Classification> Stored(const std::string& tenant,
                                           const std::string& id) {
    auto c = results_->Get(tenant, id, Soon());
    if (!c.ok()) return std::nullopt;
    return *c;
  }

  std::optional<v1::OpportunitySnapshot> Snapshot(const std::string& tenant,
                                                  const std::string& id) {
    return (*snapshots_->Get({{tenant, id}}, Soon()))[0];
  }

  std::vector<std::string> DeadReasons() {
    std::vector<std::string> out;
    auto r = redis_.Command({"XRANGE", "oppmatrix:crm-events:dead", "-", "+"});
    for (const RedisReply& entry : r->elements) {
      const auto& f = entry.elements[1].elements;
      for (size_t i = 0; i + 1 < f.size(); i += 2) {
        if (f[i].str == "reason") out.push_back(f[i + 1].str);
      }
    }
    return out;
  }

  testing::RedisServer redis_;
  std::unique_ptr<AsyncRedis> classifier_redis_;
  std::unique_ptr<AsyncRedis> consumer_redis_;
  std::vector<std::unique_ptr<AsyncRedis>> reads_clients_;
  std::unique_ptr<RedisResultStore> results_;
  std::unique_ptr<RedisSnapshotStore> snapshots_;
  StaticRulesetSource rules_{testing::DefaultRules()};
  int max_batch_size_ = 1000;
  std::unique_ptr<ClassifierServer> classifier_;
  std::unique_ptr<GrpcClassifier> client_;
  std::unique_ptr<RedisStreamSource> source_;
  std::unique_ptr<Ingestor> ingestor_;
};

// Binary events (content_type application/x-protobuf) beside JSON ones:
// the same state and result; a garbage payload or an unknown content type
// is dead-lettered saying so, and its content type goes with it.
TEST_F(IngestorTest, ProtobufEventsAreTakenBesideJson) {
  auto binary = [this](const v1::CrmEvent& e, const std::string& type) {
    ASSERT_TRUE(redis_
                    .Command({"XADD", "oppmatrix:crm-events", "*", "event",
                              e.SerializeAsString(), "content_type", type})
                    .ok());
  };
  Push(Upsert("acme", "opp-1", 1, kSmall));
  binary(Upsert("acme", "opp-1", 2, kBig), "application/x-protobuf");
  binary(Upsert("acme", "opp-2", 1, kBig), "application/protobuf");
  ASSERT_TRUE(
      redis_
          .Command({"XADD", "oppmatrix:crm-events", "*", "event",
                    "{not protobuf", "content_type", "application/x-protobuf"})
          .ok());
  binary(Upsert("acme", "opp-3", 1, kBig), "text/csv");
  Drain(*ingestor_);
  auto stored = Stored("acme", "opp-1");
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->opportunity_version(), 2);
  EXPECT_TRUE(Stored("acme", "opp-2").has_value());
  EXPECT_FALSE(Stored("acme", "opp-3").has_value());
  EXPECT_THAT(DeadReasons(),
              ::testing::ElementsAre(
                  HasSubstr("not a CrmEvent in protobuf's binary format"),
                  HasSubstr("content_type: \"text/csv\" is not")));
  auto dead = redis_.Command({"XRANGE", "oppmatrix:crm-events:dead", "-", "+"});
  const auto& f = dead->elements[1].elements[1].elements;
  std::string type;
  for (size_t i = 0; i + 1 < f.size(); i += 2) {
    if (f[i].str == "content_type") type = f[i + 1].str;
  }
  EXPECT_EQ(type, "text/csv");
}

TEST_F(IngestorTest, StoredResultIsTheClassificationOfTheFinalSnapshot) {
  Push(Upsert("acme", "opp-1", 1, kSmall));
  Push(Upsert("acme", "opp-1", 2, kBig));
  Push(Upsert("acme", "opp-2", 1, kBig));
  Push(Upsert("acme", "opp-1", 3, R"pb(stage: "Contract Sent")pb", {"stage"}));
  Drain(*ingestor_);
  for (const char* id : {"opp-1", "opp-2"}) {
    auto snap = Snapshot("acme", id);
    ASSERT_TRUE(snap.has_value()) << id;
    auto stored = Stored("acme", id);
    ASSERT_TRUE(stored.has_value()) << id;
    v1::Classification direct = *Classify(
        snap->opportunity(), *rules_.Current(), testing::TestNow(), {});
    stored->clear_previous_cell();
    EXPECT_EQ(stored->SerializeAsString(), direct.SerializeAsString()) << id;
  }
  EXPECT_EQ(Snapshot("acme", "opp-1")->opportunity().stage(), "Contract Sent");
  EXPECT_EQ(Snapshot("acme", "opp-1")->opportunity().amount().units(), 900000);
  Ingestor::Stats stats = ingestor_->stats();
  EXPECT_EQ(stats.processed, 4);
  EXPECT_EQ(stats.dead_lettered, 0);
  EXPECT_EQ(source_->Stats()->pending, 0);
}

// The messy-values corpus through the bus: every event is stored, none is
// dead-lettered, and each stored result is the one Classify gives.
TEST_F(IngestorTest, MessyValuesAreStoredNeverDeadLettered) {
  std::vector<testutil::MessyValue> corpus = testutil::Corpus();
  std::vector<v1::Opportunity> sent;
  for (size_t i = 0; i < corpus.size(); ++i) {
    v1::Opportunity o = testutil::MessyBase();
    testutil::SetMessyValue(o, corpus[i]);
    o.set_id(absl::StrCat("messy-", i));
    v1::CrmEvent e;
    e.set_event_id(absl::StrCat("messy/", i));
    e.set_tenant_id(o.tenant_id());
    e.set_opportunity_id(o.id());
    e.set_type(v1::OPPORTUNITY_UPSERTED);
    e.set_version(o.version());
    *e.mutable_opportunity() = o;
    Push(e);
    sent.push_back(o);
  }
  Drain(*ingestor_);
  EXPECT_THAT(DeadReasons(), ::testing::IsEmpty());
  EXPECT_EQ(ingestor_->stats().dead_lettered, 0);
  for (size_t i = 0; i < sent.size(); ++i) {
    SCOPED_TRACE(corpus[i].field + " = \"" + corpus[i].value + "\"");
    auto stored = Stored(sent[i].tenant_id(), sent[i].id());
    ASSERT_TRUE(stored.has_value());
    auto snap = Snapshot(sent[i].tenant_id(), sent[i].id());
    ASSERT_TRUE(snap.has_value());
    v1::Classification direct = *Classify(
        snap->opportunity(), *rules_.Current(), testing::TestNow(), {});
    stored->clear_previous_cell();
    EXPECT_EQ(stored->SerializeAsString(), direct.SerializeAsString());
  }
}

TEST_F(IngestorTest, DuplicatesAndOutOfOrderVersionsReachTheSameState) {
  std::vector<v1::CrmEvent> in_order;
  for (int id = 0; id < 5; ++id) {
    in_order.push_back(Upsert("t", absl::StrCat("o", id), 1, kSmall));
    in_order.push_back(Upsert("t", absl::StrCat("o", id), 2, kBig));
    in_order.push_back(Upsert("t", absl::StrCat("o", id), 3,
                              R"pb(relationship { contacts_engaged: 1 })pb",
                              {"relationship.contacts_engaged"}));
  }
  // Tenant "a" gets them in order; tenant "b" with every event twice and
  // older versions replayed after newer ones.
  std::vector<v1::CrmEvent> messy;
  for (const auto& e : in_order) {
    messy.push_back(e);
    messy.push_back(e);
  }
  std::mt19937 rng(7);
  for (int i = 0; i < 10; ++i) {
    messy.push_back(in_order[rng() % in_order.size()]);  // late replays
  }
  for (auto e : in_order) {
    e.set_tenant_id("a");
    Push(e);
  }
  for (auto e : messy) {
    e.set_tenant_id("b");
    Push(e);
  }
  Drain(*ingestor_);
  for (int id = 0; id < 5; ++id) {
    std::string o = absl::StrCat("o", id);
    auto a = Snapshot("a", o);
    auto b = Snapshot("b", o);
    ASSERT_TRUE(a && b);
    b->mutable_opportunity()->set_tenant_id("a");
    EXPECT_EQ(a->opportunity().SerializeAsString(),
              b->opportunity().SerializeAsString());
    EXPECT_EQ(Stored("a", o)->cell(), Stored("b", o)->cell());
    EXPECT_EQ(a->opportunity().relationship().contacts_engaged(), 1);
  }
  EXPECT_EQ(ingestor_->stats().processed,
            static_cast<int64_t>(in_order.size() + messy.size()));
  // Every second copy at least is a duplicate.
  EXPECT_GE(ingestor_->stats().duplicates,
            static_cast<int64_t>(in_order.size()));
}

// Issue 12: a masked update arriving after 42 newer ones (more than the
// old event log held) is applied, and each stale or duplicate event of a
// batch is counted once.
TEST_F(IngestorTest, ALateMaskedUpdateAfterFortyLoggedEventsIsStored) {
  Push(Upsert("acme", "opp-1", 1, R"pb(
    stage: "Prospecting"
    amount { currency_code: "USD" units: 20000 }
    account { industry: "Technology" employees: 3000 }
  )pb"));
  const std::string paths[] = {"stage", "name", "owner", "probability"};
  for (int v = 3; v <= 44; ++v) {
    const std::string& path = paths[v % 4];
    Push(Upsert("acme", "opp-1", v,
                path == "probability"
                    ? absl::StrCat("probability: ", v)
                    : absl::StrCat(path, ": \"", path, " ", v, "\""),
                {path}));
  }
  Push(Upsert("acme", "opp-2", 5, kSmall));
  Drain(*ingestor_);
  ASSERT_EQ(Stored("acme", "opp-1")->opportunity_version(), 44);
  EXPECT_EQ(ingestor_->stats().stale, 0);
  EXPECT_EQ(ingestor_->stats().duplicates, 0);

  // One batch: the late v2, three redeliveries (v44 and v1 still stand:
  // duplicates; v3's stage was written over since: stale) and, for
  // another opportunity, an event older than its full upsert (stale).
  Push(Upsert("acme", "opp-1", 2,
              R"pb(amount { currency_code: "EUR" units: 777777 })pb",
              {"amount"}));
  Push(Upsert("acme", "opp-1", 44, R"pb(stage: "stage 44")pb", {"stage"}));
  Push(Upsert("acme", "opp-1", 1, R"pb(stage: "Prospecting")pb"));
  Push(Upsert("acme", "opp-1", 3, R"pb(stage: "stage 3")pb", {"stage"}));
  Push(Upsert("acme", "opp-2", 4, R"pb(stage: "Lost")pb", {"stage"}));
  Drain(*ingestor_);
  EXPECT_THAT(DeadReasons(), ::testing::IsEmpty());
  auto snap = Snapshot("acme", "opp-1");
  ASSERT_TRUE(snap.has_value());
  EXPECT_EQ(snap->opportunity().amount().currency_code(), "EUR");
  EXPECT_EQ(snap->opportunity().amount().units(), 777777);
  EXPECT_EQ(snap->opportunity().stage(), "stage 44");
  EXPECT_EQ(snap->opportunity().version(), 44);
  // The stored result is the classification of 777777 EUR.
  auto stored = Stored("acme", "opp-1");
  ASSERT_TRUE(stored.has_value());
  v1::Classification direct =
      *Classify(snap->opportunity(), *rules_.Current(), testing::TestNow(), {});
  EXPECT_EQ(stored->amount().SerializeAsString(),
            direct.amount().SerializeAsString());
  EXPECT_GT(stored->amount().units(), 20000);
  EXPECT_EQ(Snapshot("acme", "opp-2")->opportunity().stage(), "Prospecting");
  Ingestor::Stats stats = ingestor_->stats();
  EXPECT_EQ(stats.processed, 44 + 5);
  EXPECT_EQ(stats.duplicates, 2);
  EXPECT_EQ(stats.stale, 2);
}

TEST_F(IngestorTest, MalformedEventsAreDeadLetteredWithTheirReason) {
  Push("{not json");
  Push(R"({"event_id": "e1", "colour": "red"})");
  v1::CrmEvent no_version = Upsert("acme", "opp-1", 1, kSmall);
  no_version.set_version(0);
  Push(no_version);
  ASSERT_TRUE(
      redis_.Command({"XADD", "oppmatrix:crm-events", "*", "other", "x"}).ok());
  Push(Upsert("acme", "good", 1, kSmall));
  Drain(*ingestor_);
  std::vector<std::string> reasons = DeadReasons();
  ASSERT_THAT(reasons, SizeIs(4));
  EXPECT_THAT(reasons[0], HasSubstr("unparseable: event: not a CrmEvent"));
  EXPECT_THAT(reasons[1], HasSubstr("unparseable"));
  EXPECT_THAT(reasons[2], HasSubstr("invalid: version: must be positive"));
  EXPECT_THAT(reasons[3], HasSubstr("no `event` field"));
  EXPECT_TRUE(Stored("acme", "good").has_value());
  EXPECT_EQ(ingestor_->stats().dead_lettered, 4);
  EXPECT_EQ(source_->Stats()->pending, 0);
}

// Two different events with one version (found by the crm_event fuzzer): a
// full upsert v3 after a masked v3 would otherwise count as a duplicate and
// be lost; it is dead-lettered with its reason, and the redelivery of the
// event that applied v3 is still a duplicate.
TEST_F(IngestorTest, AnotherEventReusingAnAppliedVersionIsDeadLettered) {
  Push(Upsert("acme", "opp-1", 1, kSmall));
  Push(Upsert("acme", "opp-1", 3, R"pb(stage: "Negotiation")pb", {"stage"}));
  Drain(*ingestor_);
  v1::CrmEvent reused = Upsert("acme", "opp-1", 3, kBig);
  reused.set_event_id("crm-export-17");
  Push(reused);
  Push(Upsert("acme", "opp-1", 3, R"pb(stage: "Negotiation")pb", {"stage"}));
  Drain(*ingestor_);
  std::vector<std::string> reasons = DeadReasons();
  ASSERT_THAT(reasons, SizeIs(1));
  EXPECT_THAT(reasons[0],
              HasSubstr("cannot apply: version: 3 was already applied from "
                        "event \"acme/opp-1/3\"; a version names one event "
                        "of the opportunity"));
  EXPECT_EQ(Snapshot("acme", "opp-1")->opportunity().stage(), "Negotiation");
  Ingestor::Stats stats = ingestor_->stats();
  EXPECT_EQ(stats.dead_lettered, 1);
  EXPECT_EQ(stats.duplicates, 1);
  EXPECT_EQ(stats.stale, 0);
  EXPECT_EQ(source_->Stats()->pending, 0);
}

TEST_F(IngestorTest, FailedDeadLetterWriteLeavesTheEventPending) {
  // The dead-letter stream's key holds a string: XADD to it fails.
  ASSERT_TRUE(
      redis_.Command({"SET", "oppmatrix:crm-events:dead", "not a stream"})
          .ok());
  Push("{not json");
  Push(Upsert("acme", "good", 1, kSmall));
  std::atomic<bool> stop{false};
  ASSERT_TRUE(ingestor_->ProcessBatch(stop).ok());
  EXPECT_TRUE(Stored("acme", "good").has_value());
  EXPECT_EQ(source_->Stats()->pending, 1);  // held back, not acknowledged
  EXPECT_EQ(ingestor_->stats().dead_lettered, 0);
  ASSERT_TRUE(redis_.Command({"DEL", "oppmatrix:crm-events:dead"}).ok());
  auto restarted = Source("ingestion-0");
  auto ingestor = NewIngestor(restarted.get());
  Drain(*ingestor);
  EXPECT_THAT(DeadReasons(), ElementsAre(HasSubstr("unparseable")));
  EXPECT_EQ(source_->Stats()->pending, 0);
}

TEST_F(IngestorTest, PartialEventsWithoutACreateAreKeptNotClassified) {
  Push(Upsert("acme", "opp-1", 2, R"pb(stage: "Negotiation")pb", {"stage"}));
  Drain(*ingestor_);
  EXPECT_FALSE(Stored("acme", "opp-1").has_value());
  ASSERT_TRUE(Snapshot("acme", "opp-1").has_value());
  EXPECT_TRUE(Snapshot("acme", "opp-1")->awaiting_full());
  EXPECT_TRUE(DeadReasons().empty());
  // The create arrives late; both fold in version order.
  Push(Upsert("acme", "opp-1", 1, kSmall));
  Drain(*ingestor_);
  auto stored = Stored("acme", "opp-1");
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->opportunity_version(), 2);
  EXPECT_EQ(stored->buying_stage(), v1::BUYING_STAGE_DECISION)
      << stored->ShortDebugString();
}

TEST_F(IngestorTest, APartialEventAfterADeletionLeavesNoResult) {
  Push(Upsert("acme", "opp-1", 1, kSmall));
  Drain(*ingestor_);
  ASSERT_TRUE(Stored("acme", "opp-1").has_value());
  // Deleted, then a stage change: nothing whole to classify.
  v1::CrmEvent del;
  del.set_event_id("acme/opp-1/2");
  del.set_tenant_id("acme");
  del.set_opportunity_id("opp-1");
  del.set_type(v1::OPPORTUNITY_DELETED);
  del.set_version(2);
  Push(Upsert("acme", "opp-1", 3, R"pb(stage: "Negotiation")pb", {"stage"}));
  Push(del);  // arrives after the newer event
  Drain(*ingestor_);
  EXPECT_FALSE(Stored("acme", "opp-1").has_value());
  EXPECT_TRUE(Snapshot("acme", "opp-1")->awaiting_full());
}

TEST_F(IngestorTest, BatchTheClassifierRefusesAsTooLargeIsSplit) {
  // A classifier taking at most 3 per call, and batches of up to 50.
  const int port = classifier_->port();
  classifier_.reset();
  max_batch_size_ = 3;
  StartClassifier(port);
  for (int i = 0; i < 20; ++i) {
    Push(Upsert("acme", absl::StrCat("opp-", i), 1, kSmall));
  }
  Drain(*ingestor_);
  for (int i = 0; i < 20; ++i) {
    EXPECT_TRUE(Stored("acme", absl::StrCat("opp-", i)).has_value()) << i;
  }
  EXPECT_TRUE(DeadReasons().empty());
  EXPECT_EQ(ingestor_->stats().processed, 20);
  EXPECT_GT(ingestor_->stats().classifier_errors, 0);  // the splits
  EXPECT_THAT(ingestor_->stats().last_error, HasSubstr("splitting a batch"));
}

TEST_F(IngestorTest, DeletionRemovesTheResultAndStaleEventsCannotRevive) {
  Push(Upsert("acme", "opp-1", 1, kBig));
  Drain(*ingestor_);
  ASSERT_TRUE(Stored("acme", "opp-1").has_value());
  v1::CrmEvent del;
  del.set_event_id("d");
  del.set_tenant_id("acme");
  del.set_opportunity_id("opp-1");
  del.set_type(v1::OPPORTUNITY_DELETED);
  del.set_version(2);
  Push(del);
  Push(Upsert("acme", "opp-1", 1, kBig));  // a late replay
  Drain(*ingestor_);
  EXPECT_FALSE(Stored("acme", "opp-1").has_value());
  EXPECT_TRUE(Snapshot("acme", "opp-1")->deleted());
  auto m = results_->Matrix("acme", {}, 0, testing::TestNow(), Soon());
  ASSERT_TRUE(m.ok());
  EXPECT_TRUE(m->empty());
}

TEST_F(IngestorTest, ActivitiesUpdateTheRelationship) {
  Push(Upsert("acme", "opp-1", 1, kSmall));
  v1::CrmEvent a;
  a.set_event_id("a1");
  a.set_tenant_id("acme");
  a.set_opportunity_id("opp-1");
  a.set_type(v1::ACTIVITY_LOGGED);
  a.set_version(2);
  a.mutable_activity()->set_kind(v1::MEETING);
  a.mutable_activity()->set_contact_role(v1::CHAMPION);
  a.mutable_activity()->mutable_occurred_time()->set_seconds(
      absl::ToUnixSeconds(testing::TestNow()));
  Push(a);
  Drain(*ingestor_);
  auto snap = Snapshot("acme", "opp-1");
  EXPECT_TRUE(snap->opportunity().relationship().has_champion());
  EXPECT_EQ(snap->opportunity().relationship().meetings_last_90_days(), 1);
  EXPECT_EQ(Stored("acme", "opp-1")->opportunity_version(), 2);
}

TEST_F(IngestorTest, TooManyDeliveriesAreDeadLettered) {
  Push(Upsert("acme", "opp-1", 1, kSmall));
  // Another consumer read it ten times and died each time.
  auto reader = Source("ingestion-0");
  auto events = reader->Read(10, absl::Milliseconds(10));
  ASSERT_THAT(*events, SizeIs(1));
  ASSERT_TRUE(
      redis_
          .Command({"XCLAIM", "oppmatrix:crm-events", "oppmatrix-ingestion",
                    "ingestion-0", "0", (*events)[0].id, "RETRYCOUNT", "9"})
          .ok());
  auto fresh = Source("ingestion-0");  // restarted: its pending come first
  auto ingestor = NewIngestor(fresh.get());
  std::atomic<bool> stop{false};
  ASSERT_TRUE(ingestor->ProcessBatch(stop).ok());
  EXPECT_THAT(
      DeadReasons(),
      ::testing::ElementsAre(HasSubstr("failed 9 deliveries; last error:")));
  EXPECT_FALSE(Stored("acme", "opp-1").has_value());
}

// A source whose events the bus gives to another consumer once `revoked`
// is set (a Kafka partition revoked), over the fixture's stream.
class RevokingSource final : public EventSource {
 public:
  explicit RevokingSource(EventSource* inner) : inner_(inner) {}
  absl::StatusOr<std::vector<BusEvent>> Read(int max,
                                             absl::Duration wait) override {
    return inner_->Read(max, wait);
  }
  absl::Status Ack(absl::Span<const std::string> ids) override {
    acked += static_cast<int64_t>(ids.size());
    return inner_->Ack(ids);
  }
  absl::Status DeadLetter(const BusEvent& event,
                          absl::string_view reason) override {
    return inner_->DeadLetter(event, reason);
  }
  absl::Status KeepClaimed(absl::Span<const std::string> ids) override {
    return inner_->KeepClaimed(ids);
  }
  std::vector<std::string> Released(
      absl::Span<const std::string> ids) override {
    if (!revoked.load()) return {};
    return std::vector<std::string>(ids.begin(), ids.end());
  }
  absl::StatusOr<SourceStats> Stats() override { return inner_->Stats(); }

  std::atomic<bool> revoked{false};
  std::atomic<int64_t> acked{0};

 private:
  EventSource* inner_;
};

// While the classifier is down the batch is retried; once the bus has
// given its events to another consumer, the pipeline lets them go at its
// next retry: neither acknowledged nor dead-lettered, and not retried on.
TEST_F(IngestorTest, EventsTheBusGaveAwayAreLetGoWhileRetrying) {
  classifier_->Shutdown(absl::ZeroDuration());
  classifier_.reset();
  for (int i = 0; i < 5; ++i) {
    Push(Upsert("acme", absl::StrCat("opp-", i), 1, kBig));
  }
  RevokingSource source(source_.get());
  std::unique_ptr<Ingestor> ingestor = NewIngestor(&source);
  std::atomic<bool> stop{false};
  std::atomic<bool> returned{false};
  std::thread worker([&] {
    (void)ingestor->ProcessBatch(stop);
    returned = true;
  });
  absl::Time wait_until = absl::Now() + absl::Seconds(20);
  while (ingestor->stats().classifier_errors < 2 && absl::Now() < wait_until) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_FALSE(returned.load()) << "gave up retrying while the events were its";
  source.revoked = true;
  wait_until = absl::Now() + absl::Seconds(10);
  while (!returned.load() && absl::Now() < wait_until) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  stop = true;
  worker.join();
  EXPECT_TRUE(returned.load());
  Ingestor::Stats stats = ingestor->stats();
  EXPECT_EQ(stats.released, 5);
  EXPECT_EQ(stats.processed, 0);
  EXPECT_EQ(stats.dead_lettered, 0);
  EXPECT_EQ(source.acked.load(), 0);
  EXPECT_TRUE(DeadReasons().empty());
}

TEST_F(IngestorTest, ClassifierDownEventsWaitThenAllComplete) {
  const int port = classifier_->port();
  classifier_->Shutdown(absl::ZeroDuration());
  classifier_.reset();
  for (int i = 0; i < 20; ++i) {
    Push(Upsert("acme", absl::StrCat("opp-", i), 1, kBig));
  }
  std::atomic<bool> stop{false};
  std::thread worker([&] { ingestor_->Run(stop); });
  // Nothing completes while the classifier is away; nothing is acked.
  absl::Time wait_until = absl::Now() + absl::Seconds(20);
  while (ingestor_->stats().classifier_errors < 2 && absl::Now() < wait_until) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_GE(ingestor_->stats().classifier_errors, 2);
  EXPECT_EQ(ingestor_->stats().processed, 0);
  EXPECT_EQ(source_->Stats()->pending, 20);
  EXPECT_FALSE(Stored("acme", "opp-0").has_value());

  StartClassifier(port);  // back on the same address
  absl::Time give_up = absl::Now() + absl::Seconds(20);
  while (ingestor_->stats().processed < 20 && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  stop = true;
  worker.join();
  EXPECT_EQ(ingestor_->stats().processed, 20);
  for (int i = 0; i < 20; ++i) {
    EXPECT_TRUE(Stored("acme", absl::StrCat("opp-", i)).has_value()) << i;
  }
  EXPECT_EQ(source_->Stats()->pending, 0);
  EXPECT_THAT(ingestor_->stats().last_error,
              ::testing::Not(::testing::IsEmpty()));
}

TEST_F(IngestorTest, TwoReplicasReachTheSameFinalState) {
  for (int v = 1; v <= 4; ++v) {
    for (int id = 0; id < 30; ++id) {
      Push(Upsert("acme", absl::StrCat("o", id), v, v % 2 ? kSmall : kBig));
    }
  }
  auto other_source = Source("ingestion-1");
  auto other = NewIngestor(other_source.get());
  std::atomic<bool> stop{false};
  std::thread t1([&] { ingestor_->Run(stop); });
  std::thread t2([&] { other->Run(stop); });
  absl::Time give_up = absl::Now() + absl::Seconds(30);
  while (ingestor_->stats().processed + other->stats().processed < 120 &&
         absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  stop = true;
  t1.join();
  t2.join();
  EXPECT_EQ(ingestor_->stats().processed + other->stats().processed, 120);
  for (int id = 0; id < 30; ++id) {
    std::string o = absl::StrCat("o", id);
    EXPECT_EQ(Snapshot("acme", o)->opportunity().version(), 4) << o;
    EXPECT_EQ(Stored("acme", o)->opportunity_version(), 4) << o;
  }
}

}  // namespace
}  // namespace oppmatrix
