// The whole pipeline as real processes on loopback: a redis-server, the
// classifier, one or two ingestion replicas, and the CRM simulator's events
// on the bus. Every test ends by checking that each opportunity ended in
// the state the simulator expects (its valid events applied once, in
// version order) and that its stored classification is what classifying
// that state gives.
#include <signal.h>

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <regex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "clients/sim/crm_simulator.h"
#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "oppmatrix/v1/crm_event.pb.h"
#include "services/engine/engine.h"
#include "services/engine/ruleset.h"
#include "services/ingestion/kafka_bus.h"
#include "services/ingestion/redis_stream_source.h"
#include "services/store/redis_result_store.h"
#include "services/store/redis_url.h"
#include "services/store/snapshot_store.h"
#include "tests/testing/kafka_cluster.h"
#include "tests/testing/redis_server.h"
#include "tests/testing/subprocess.h"
#include "tests/testing/test_certs.h"

namespace oppmatrix {
namespace {

using testing::Subprocess;

constexpr char kClassifier[] =
    OPPMATRIX_BINARY_DIR "/services/classifier/oppmatrix-classifier";
constexpr char kIngestion[] =
    OPPMATRIX_BINARY_DIR "/services/ingestion/oppmatrix-ingestion";
constexpr char kRules[] = OPPMATRIX_SOURCE_DIR "/rules/default.yaml";

absl::Time Soon() { return absl::Now() + absl::Seconds(10); }

// The port a server logged as "(port N)"; 0 if it did not start.
int LoggedPort(Subprocess& p) {
  if (!p.WaitForStderr("(port ", absl::Seconds(30))) return 0;
  std::smatch m;
  std::string err = p.Stderr();
  if (!std::regex_search(err, m, std::regex("\\(port ([0-9]+)\\)"))) return 0;
  return std::stoi(m[1]);
}

class PipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(redis_.Start().ok());
    redis_client_ = testing::TestRedisClient(redis_.url(), absl::Seconds(10));
    results_ = std::make_unique<RedisResultStore>(redis_client_.get(),
                                                  RedisResultStore::Options{});
    snapshots_ = std::make_unique<RedisSnapshotStore>(
        redis_client_.get(), RedisSnapshotStore::Options{});
    auto rules = LoadRulesetFile(kRules);
    ASSERT_TRUE(rules.ok()) << rules.status();
    rules_ = *rules;
    StartClassifier("127.0.0.1:0");
  }

  void StartClassifier(const std::string& listen,
                       const std::vector<std::string>& extra_flags = {}) {
    std::vector<std::string> args = {
        kClassifier, "--listen=" + listen, "--rules=" + std::string(kRules),
        "--redis=" + redis_.url(), "--rules_poll_interval=0"};
    args.insert(args.end(), extra_flags.begin(), extra_flags.end());
    classifier_.reset();  // the one before, if any, stops first
    classifier_ = std::make_unique<Subprocess>(args);
    classifier_port_ = LoggedPort(*classifier_);
    ASSERT_GT(classifier_port_, 0) << classifier_->Stderr();
  }

  std::unique_ptr<Subprocess> StartIngestion(
      const std::string& consumer, int batch_size = 100,
      const std::vector<std::string>& extra_flags = {}) {
    std::vector<std::string> args = {
        kIngestion,
        "--listen=127.0.0.1:0",
        "--redis=" + redis_.url(),
        absl::StrCat("--classifier=127.0.0.1:", classifier_port_),
        "--consumer=" + consumer,
        absl::StrCat("--batch_size=", batch_size),
        "--linger=20ms",
        "--classifier_timeout=1s",
        "--claim_idle=1s"};
    args.insert(args.end(), bus_flags_.begin(), bus_flags_.end());
    args.insert(args.end(), extra_flags.begin(), extra_flags.end());
    auto p = std::make_unique<Subprocess>(args);
    ingestion_port_ = LoggedPort(*p);
    EXPECT_GT(ingestion_port_, 0) << p->Stderr();
    return p;
  }

  // Puts `events` simulated events on the bus (all of them when 0). With
  // `shuffle_window`, each run of that many events is put on the bus in a
  // (seeded) random order: newer versions of an opportunity often arrive
  // before older ones.
  void Simulate(uint64_t seed, int64_t events = 0, int shuffle_window = 0) {
    if (!sim_) {
      sim_ = std::make_unique<CrmSimulator>(
          CrmSimulator::Options{
              .seed = seed, .tenants = 3, .opportunities_per_tenant = 40},
          absl::Now());
    }
    std::unique_ptr<EventSink> sink = Sink();
    std::vector<std::string> batch;
    int64_t n = 0;
    while (events == 0 || n < events) {
      auto e = sim_->Next();
      if (!e) break;
      ++n;
      malformed_ += e->malformed;
      batch.push_back(std::move(e->json));
      const size_t full = shuffle_window > 0 ? shuffle_window : 200;
      if (batch.size() == full) {
        if (shuffle_window > 0) std::shuffle(batch.begin(), batch.end(), rng_);
        absl::Status appended = sink->Append(batch);
        ASSERT_TRUE(appended.ok()) << appended;
        batch.clear();
      }
    }
    if (shuffle_window > 0) std::shuffle(batch.begin(), batch.end(), rng_);
    ASSERT_TRUE(sink->Append(batch).ok());
  }

  // oppctl import of each CRM's sample export, through PushEvents: each
  // tenant's matrix is what its rows give, and nothing is dead-lettered.
  void ImportEveryCrmExport() {
    // The exports carry no relationship signals (contacts, champion,
    // meetings), so every deal has a weak relationship: DEVELOP for high
    // potential, EXIT for the rest and for closed deals. Close dates are
    // years ahead or in the past, so the cells don't drift with the clock.
    const std::map<std::string, std::map<std::string, int64_t>> expected = {
        {"salesforce", {{"DEVELOP", 3}, {"EXIT", 3}}},
        {"hubspot", {{"DEVELOP", 3}, {"EXIT", 2}}},
        {"dynamics", {{"DEVELOP", 2}, {"EXIT", 2}}},
        {"odoo", {{"EXIT", 4}}},
        {"pipedrive", {{"DEVELOP", 2}, {"EXIT", 3}}},
    };
    for (const auto& [crm, cells] : expected) {
      SCOPED_TRACE(crm);
      Subprocess import(
          {OPPMATRIX_BINARY_DIR "/clients/oppctl/oppctl",
           absl::StrCat("--ingestion=127.0.0.1:", ingestion_port_),
           "--tenant=" + crm, "import",
           OPPMATRIX_SOURCE_DIR "/tests/clients/testdata/import/" + crm +
               ".csv",
           "--from=" + crm});
      ASSERT_EQ(import.Wait(absl::Seconds(60)), 0)
          << import.Stdout() << import.Stderr();
      EXPECT_THAT(import.Stdout(), ::testing::HasSubstr("0 rows rejected"));
      ASSERT_TRUE(WaitDrained(absl::Seconds(60)));
      auto m = results_->Matrix(crm, {}, 0, absl::Now(), Soon());
      ASSERT_TRUE(m.ok()) << m.status();
      std::map<std::string, int64_t> got;
      for (const StoredCell& c : *m) got[c.cell] = c.count;
      EXPECT_EQ(got, cells);
    }
    EXPECT_THAT(DeadLetterReasons(), ::testing::IsEmpty());
  }

  // Where Simulate writes: the bus's sink.
  virtual std::unique_ptr<EventSink> Sink() {
    return std::make_unique<RedisStreamSink>(
        redis_client_.get(),
        RedisStreamSink::Options{.timeout = absl::Seconds(10)});
  }

  // The bus's counts, as a probe that only counts (it never reads).
  virtual absl::StatusOr<SourceStats> BusStats() {
    RedisStreamSource probe(redis_client_.get(), redis_client_.get(),
                            {.consumer = "probe"});
    return probe.Stats();
  }

  // Every dead letter's reason.
  virtual std::vector<std::string> DeadLetterReasons() {
    auto dead =
        redis_.Command({"XRANGE", "oppmatrix:crm-events:dead", "-", "+"});
    EXPECT_TRUE(dead.ok());
    std::vector<std::string> reasons;
    if (!dead.ok()) return reasons;
    for (const RedisReply& entry : dead->elements) {
      std::string& reason = reasons.emplace_back();
      const auto& f = entry.elements[1].elements;
      for (size_t i = 0; i + 1 < f.size(); i += 2) {
        if (f[i].str == "reason") reason = f[i + 1].str;
      }
    }
    return reasons;
  }

  // Waits until the group has nothing undelivered or unacknowledged.
  bool WaitDrained(absl::Duration timeout) {
    absl::Time give_up = absl::Now() + timeout;
    while (absl::Now() < give_up) {
      auto s = BusStats();
      if (s.ok() && s->lag == 0 && s->pending == 0) return true;
      absl::SleepFor(absl::Milliseconds(50));
    }
    return false;
  }

  // Every opportunity is in its expected state, classified accordingly;
  // every malformed event is dead-lettered with a reason.
  void ExpectFinalState() {
    int checked = 0;
    for (const auto& [key, expected] : sim_->expected()) {
      const auto& [tenant, id] = key;
      auto got = (*snapshots_->Get({{tenant, id}}, Soon()))[0];
      ASSERT_TRUE(got.has_value()) << tenant << "/" << id;
      EXPECT_EQ(got->opportunity().SerializeAsString(),
                expected.opportunity().SerializeAsString())
          << tenant << "/" << id;
      EXPECT_EQ(got->deleted(), expected.deleted()) << id;
      absl::StatusOr<v1::Classification> stored =
          results_->Get(tenant, id, Soon());
      if (expected.deleted()) {
        EXPECT_EQ(stored.status().code(), absl::StatusCode::kNotFound) << id;
        continue;
      }
      ASSERT_TRUE(stored.ok())
          << tenant << "/" << id << ": " << stored.status();
      absl::Time at = absl::FromUnixNanos(
          google::protobuf::util::TimeUtil::TimestampToNanoseconds(
              stored->classified_time()));
      v1::Classification direct =
          *Classify(expected.opportunity(), *rules_, at, {});
      stored->clear_previous_cell();
      EXPECT_EQ(stored->SerializeAsString(), direct.SerializeAsString())
          << tenant << "/" << id;
      ++checked;
    }
    EXPECT_GT(checked, 50);
    std::vector<std::string> reasons = DeadLetterReasons();
    EXPECT_EQ(static_cast<int64_t>(reasons.size()), malformed_);
    for (const std::string& reason : reasons) EXPECT_FALSE(reason.empty());
  }

  testing::RedisServer redis_;
  std::unique_ptr<AsyncRedis> redis_client_;
  std::unique_ptr<RedisResultStore> results_;
  std::unique_ptr<RedisSnapshotStore> snapshots_;
  std::shared_ptr<const CompiledRuleset> rules_;
  std::unique_ptr<Subprocess> classifier_;
  int classifier_port_ = 0;
  int ingestion_port_ = 0;
  std::unique_ptr<CrmSimulator> sim_;
  std::mt19937_64 rng_{42};
  int64_t malformed_ = 0;
  // The bus's flags for each ingestion replica (none: the Redis stream).
  std::vector<std::string> bus_flags_;
};

// The same pipeline on Kafka: librdkafka's mock cluster (three brokers,
// the event topic in four partitions) in the test process, the ingestion
// replicas consuming it with --bus=kafka. The final state is checked
// against the same expectations as on the Redis stream.
class KafkaPipelineTest : public PipelineTest {
 protected:
  static constexpr char kTopic[] = "crm-events";
  static constexpr char kDeadTopic[] = "crm-events-dead";

  void SetUp() override {
    auto kafka = testing::MockKafkaCluster::Start(3);
    ASSERT_TRUE(kafka.ok()) << kafka.status();
    kafka_ = *std::move(kafka);
    ASSERT_TRUE(kafka_->CreateTopic(kTopic, 4).ok());
    ASSERT_TRUE(kafka_->CreateTopic(kDeadTopic, 2).ok());
    // A request a downed broker leaves hanging (the mock cluster keeps the
    // connection open) is given up after 5 s, not librdkafka's 60, and
    // sent again, well within the minute a message may take. (Only here:
    // a group member's requests must outlast the mock's rebalances, whose
    // SyncGroup sent twice aborts it, rdkafka_mock_cgrp.c:236.)
    KafkaConfig producing = Config();
    producing.properties.emplace_back("socket.timeout.ms", "5000");
    auto producer = KafkaProducer::Create(producing, absl::Seconds(60));
    ASSERT_TRUE(producer.ok()) << producer.status();
    producer_ = *std::move(producer);
    auto probe = KafkaEventSource::Create({.kafka = Config(),
                                           .topic = kTopic,
                                           .group = "oppmatrix-ingestion",
                                           .consumer = "probe",
                                           .subscribe = false});
    ASSERT_TRUE(probe.ok()) << probe.status();
    probe_ = *std::move(probe);
    bus_flags_ = {"--bus=kafka", "--kafka_brokers=" + kafka_->bootstraps(),
                  "--kafka_replay_group=replays",
                  absl::StrCat("--kafka_topic=", kTopic),
                  absl::StrCat("--kafka_dead_letter_topic=", kDeadTopic)};
    for (const auto& [name, value] : Config().properties) {
      bus_flags_.push_back(absl::StrCat("--kafka_property=", name, "=", value));
    }
    PipelineTest::SetUp();
  }

  KafkaConfig Config() const {
    return {.brokers = kafka_->bootstraps(),
            .properties = {{"auto.commit.interval.ms", "100"},
                           {"session.timeout.ms", "6000"},
                           {"heartbeat.interval.ms", "500"},
                           {"log_level", "3"}}};
  }

  std::unique_ptr<EventSink> Sink() override {
    return std::make_unique<KafkaEventSink>(
        producer_.get(), KafkaEventSink::Options{.topic = kTopic});
  }

  absl::StatusOr<SourceStats> BusStats() override { return probe_->Stats(); }

  std::vector<std::string> DeadLetterReasons() override {
    // Each dead letter once: a replica that dies after writing one and
    // before committing its offset writes it again.
    auto counter = KafkaEventSource::Create({.kafka = Config(),
                                             .topic = kDeadTopic,
                                             .group = "none",
                                             .consumer = "counter",
                                             .subscribe = false});
    EXPECT_TRUE(counter.ok());
    if (!counter.ok()) return {};
    auto stats = (*counter)->Stats();
    EXPECT_TRUE(stats.ok()) << stats.status();
    if (!stats.ok()) return {};
    int64_t written = 0;
    for (const PartitionStats& p : stats->partitions) {
      written += p.high_watermark;
    }
    std::map<std::string, std::string> by_source;
    for (const testing::KafkaRecord& r :
         testing::ReadTopic(kafka_->bootstraps(), kDeadTopic, 2,
                            static_cast<size_t>(written))) {
      by_source[r.headers.at("source_id")] = r.headers.at("reason");
    }
    std::vector<std::string> reasons;
    for (auto& [id, reason] : by_source) reasons.push_back(reason);
    return reasons;
  }

  std::unique_ptr<testing::MockKafkaCluster> kafka_;
  std::unique_ptr<KafkaProducer> producer_;
  std::unique_ptr<KafkaEventSource> probe_;
};

// Mutual TLS from ingestion to the classifier. A classifier that requires
// a client certificate refuses an ingestion that presents none: nothing is
// stored and the events stay pending. The same consumer restarted with
// --classifier_tls_cert_file and --classifier_tls_key_file gets every one
// of them through.
TEST_F(PipelineTest, MutualTlsFromIngestionToTheClassifier) {
  testing::TestCerts certs = testing::MakeTestCerts();
  ASSERT_FALSE(certs.ca_cert.empty());
  StartClassifier("127.0.0.1:0", {"--tls_cert_file=" + certs.server_cert,
                                  "--tls_key_file=" + certs.server_key,
                                  "--tls_client_ca_file=" + certs.ca_cert});
  Simulate(21, 300);
  {
    auto refused = StartIngestion(
        "i0", 100, {"--classifier_tls_ca_file=" + certs.ca_cert});
    // Its batch fails at the classifier and is retried, not acknowledged.
    ASSERT_TRUE(refused->WaitForStderr("WARN ", absl::Seconds(30)))
        << refused->Stderr();
    RedisStreamSource probe(redis_client_.get(), redis_client_.get(),
                            {.consumer = "probe"});
    auto stats = probe.Stats();
    ASSERT_TRUE(stats.ok()) << stats.status();
    EXPECT_GT(stats->pending + stats->lag, 0);
    auto m = results_->Matrix("tenant-1", {}, 0, absl::Now(), Soon());
    ASSERT_TRUE(m.ok()) << m.status();
    EXPECT_TRUE(m->empty());
  }
  auto ingestion =
      StartIngestion("i0", 100,
                     {"--classifier_tls_ca_file=" + certs.ca_cert,
                      "--classifier_tls_cert_file=" + certs.client_cert,
                      "--classifier_tls_key_file=" + certs.client_key});
  Simulate(21);
  ASSERT_TRUE(WaitDrained(absl::Seconds(120))) << ingestion->Stderr();
  ExpectFinalState();
}

TEST_F(PipelineTest, EveryEventEndsStoredOrDeadLettered) {
  auto ingestion = StartIngestion("i0");
  Simulate(7);
  ASSERT_TRUE(WaitDrained(absl::Seconds(120)));
  ExpectFinalState();

  // oppctl status reads the figures through GetStatus.
  Subprocess status({OPPMATRIX_BINARY_DIR "/clients/oppctl/oppctl",
                     absl::StrCat("--ingestion=127.0.0.1:", ingestion_port_),
                     "status"});
  ASSERT_EQ(status.Wait(absl::Seconds(30)), 0) << status.Stderr();
  EXPECT_THAT(status.Stdout(), ::testing::HasSubstr("lag             0"));
  EXPECT_THAT(status.Stdout(), ::testing::HasSubstr(absl::StrCat(
                                   "dead-lettered   ", malformed_)));
  // rules diff over a tenant's live opportunities: the same ruleset moves
  // none of them, and it compares each live one.
  int64_t live = 0;
  for (const auto& [key, expected] : sim_->expected()) {
    live += key.first == "tenant-1" && !expected.deleted();
  }
  Subprocess diff({OPPMATRIX_BINARY_DIR "/clients/oppctl/oppctl",
                   "--redis=" + redis_.url(), "--tenant=tenant-1", "--json",
                   "rules", "diff", kRules, kRules, "--from_snapshots"});
  ASSERT_EQ(diff.Wait(absl::Seconds(30)), 0) << diff.Stderr();
  google::protobuf::Struct report;
  ASSERT_TRUE(
      google::protobuf::util::JsonStringToMessage(diff.Stdout(), &report).ok())
      << diff.Stdout();
  EXPECT_EQ(report.fields().at("compared").number_value(), live);
  EXPECT_EQ(report.fields().at("changed_cell").number_value(), 0);

  // whatif of one live opportunity, read from its snapshot: it starts from
  // the stored version, and each option lands in its target.
  std::string id;
  for (const auto& [key, expected] : sim_->expected()) {
    if (key.first == "tenant-1" && !expected.deleted()) {
      id = key.second;
      break;
    }
  }
  ASSERT_FALSE(id.empty());
  absl::StatusOr<v1::Classification> stored =
      results_->Get("tenant-1", id, Soon());
  ASSERT_TRUE(stored.ok()) << stored.status();
  const std::string target = stored->cell() == "KEY" ? "DEVELOP" : "KEY";
  Subprocess whatif({OPPMATRIX_BINARY_DIR "/clients/oppctl/oppctl",
                     "--redis=" + redis_.url(), "--tenant=tenant-1",
                     absl::StrCat("--target=127.0.0.1:", classifier_port_),
                     "--json", "whatif", id, "--to=" + target,
                     "--from_snapshots"});
  ASSERT_EQ(whatif.Wait(absl::Seconds(30)), 0) << whatif.Stderr();
  v1::WhatIfResponse answer;
  ASSERT_TRUE(
      google::protobuf::util::JsonStringToMessage(whatif.Stdout(), &answer)
          .ok())
      << whatif.Stdout();
  EXPECT_EQ(answer.current().opportunity_id(), id);
  EXPECT_EQ(answer.current().opportunity_version(),
            stored->opportunity_version());
  for (const v1::WhatIfOption& o : answer.options()) {
    EXPECT_EQ(o.result().cell(), target);
  }
  EXPECT_TRUE(!answer.options().empty() || !answer.note().empty());
  Subprocess missing({OPPMATRIX_BINARY_DIR "/clients/oppctl/oppctl",
                      "--redis=" + redis_.url(), "--tenant=tenant-1",
                      absl::StrCat("--target=127.0.0.1:", classifier_port_),
                      "whatif", "no-such-deal", "--to=KEY",
                      "--from_snapshots"});
  EXPECT_EQ(missing.Wait(absl::Seconds(30)), 4) << missing.Stderr();

  ingestion->Signal(SIGTERM);
  EXPECT_EQ(ingestion->Wait(absl::Seconds(30)), 0) << ingestion->Stderr();
  EXPECT_THAT(ingestion->Stderr(), ::testing::HasSubstr("stopped: "));
}

TEST_F(PipelineTest, OutOfOrderVersionsReachTheInOrderState) {
  // Every 60 events shuffled: an opportunity's stage change, activity and
  // deletion arrive in any order; the final state is the in-order one.
  auto ingestion = StartIngestion("i0", /*batch_size=*/25);
  Simulate(13, 0, /*shuffle_window=*/60);
  ASSERT_TRUE(WaitDrained(absl::Seconds(120)));
  ExpectFinalState();
}

TEST_F(PipelineTest, KilledMidRunAndRestartedNothingLostNothingTwice) {
  // Small batches, so the run takes long enough to be cut in the middle.
  auto ingestion = StartIngestion("i0", /*batch_size=*/10);
  Simulate(8, 1500);
  // Kill it without warning once it has done some of the work, not all.
  // The probe only counts (Stats), so it never makes a blocking read.
  RedisStreamSource probe(redis_client_.get(), redis_client_.get(),
                          {.consumer = "probe"});
  absl::Time give_up = absl::Now() + absl::Seconds(60);
  int64_t lag = 0;
  while (absl::Now() < give_up) {
    auto s = probe.Stats();
    ASSERT_TRUE(s.ok()) << s.status();
    lag = s->lag;
    if (lag < 1300) break;
    absl::SleepFor(absl::Milliseconds(2));
  }
  ingestion->Signal(SIGKILL);
  ingestion->Wait(absl::Seconds(10));
  auto at_kill = probe.Stats();
  ASSERT_TRUE(at_kill.ok());
  EXPECT_GT(at_kill->lag, 0) << "the run had already finished";
  EXPECT_LT(at_kill->lag, 1500) << "the run had not started";
  Simulate(8);  // the rest of the run arrives meanwhile
  auto restarted = StartIngestion("i0");  // same consumer: same pending
  ASSERT_TRUE(WaitDrained(absl::Seconds(120)));
  ExpectFinalState();
}

TEST_F(PipelineTest, SigtermMidRunFinishesTheBatchInHand) {
  auto ingestion = StartIngestion("i0", /*batch_size=*/10);
  Simulate(12, 1500);
  // The probe only counts (Stats), so it never makes a blocking read.
  RedisStreamSource probe(redis_client_.get(), redis_client_.get(),
                          {.consumer = "probe"});
  absl::Time give_up = absl::Now() + absl::Seconds(60);
  while (absl::Now() < give_up) {
    auto s = probe.Stats();
    ASSERT_TRUE(s.ok()) << s.status();
    if (s->lag < 1300) break;
    absl::SleepFor(absl::Milliseconds(2));
  }
  ingestion->Signal(SIGTERM);
  ASSERT_EQ(ingestion->Wait(absl::Seconds(30)), 0) << ingestion->Stderr();
  // It stopped reading and acknowledged what it had read: nothing pending,
  // the rest still on the bus.
  auto after = probe.Stats();
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->pending, 0);
  EXPECT_GT(after->lag, 0) << "the run had already finished";
  // With nothing pending it took its name out of the group.
  EXPECT_THAT(ingestion->Stderr(),
              ::testing::HasSubstr("consumer i0 left the group"));
  EXPECT_EQ(redis_
                .Command({"XINFO", "CONSUMERS", "oppmatrix:crm-events",
                          "oppmatrix-ingestion"})
                ->elements.size(),
            0u);
  auto restarted = StartIngestion("i0");
  ASSERT_TRUE(WaitDrained(absl::Seconds(120)));
  ExpectFinalState();
}

TEST_F(PipelineTest, ClassifierStoppedForAWhileEventsWaitThenComplete) {
  auto ingestion = StartIngestion("i0");
  const std::string listen = absl::StrCat("127.0.0.1:", classifier_port_);
  classifier_->Signal(SIGKILL);
  classifier_->Wait(absl::Seconds(10));
  Simulate(9);
  // Nothing can complete: events are delivered, none acknowledged.
  // The probe only counts (Stats), so it never makes a blocking read.
  RedisStreamSource probe(redis_client_.get(), redis_client_.get(),
                          {.consumer = "probe"});
  absl::SleepFor(absl::Seconds(1));
  auto waiting = probe.Stats();
  ASSERT_TRUE(waiting.ok());
  // A batch was read and is held, unacknowledged, while the classifier
  // is retried; the rest waits on the bus.
  EXPECT_GT(waiting->pending, 0);
  EXPECT_GT(waiting->lag, 0);
  StartClassifier(listen);
  ASSERT_TRUE(WaitDrained(absl::Seconds(120)));
  ExpectFinalState();
}

TEST_F(PipelineTest, TwoReplicasShareTheGroupAndReachTheSameState) {
  auto a = StartIngestion("i0", /*batch_size=*/20);
  auto b = StartIngestion("i1", /*batch_size=*/20);
  Simulate(10);
  ASSERT_TRUE(WaitDrained(absl::Seconds(120)));
  ExpectFinalState();
  // Both did a share of the work.
  for (Subprocess* replica : {a.get(), b.get()}) {
    replica->Signal(SIGTERM);
    ASSERT_EQ(replica->Wait(absl::Seconds(30)), 0) << replica->Stderr();
    std::smatch m;
    std::string err = replica->Stderr();
    ASSERT_TRUE(std::regex_search(
        err, m, std::regex("stopped: ([0-9]+) events processed")))
        << err;
    EXPECT_GT(std::stoi(m[1]), 0) << err;
  }
}

TEST_F(PipelineTest, SimulatorPushesThroughPushEvents) {
  auto ingestion = StartIngestion("i0");
  Subprocess sim({OPPMATRIX_BINARY_DIR "/clients/sim/oppmatrix-crm-sim",
                  "--mode=push",
                  absl::StrCat("--target=127.0.0.1:", ingestion_port_),
                  "--seed=3", "--max_events=400", "--batch=50"});
  ASSERT_EQ(sim.Wait(absl::Seconds(60)), 0) << sim.Stderr();
  EXPECT_THAT(sim.Stdout(), ::testing::HasSubstr("emitted 400 events"));
  EXPECT_THAT(sim.Stdout(), ::testing::HasSubstr("rejected on push"));
  ASSERT_TRUE(WaitDrained(absl::Seconds(60)));
  // Invalid events were refused at the door: nothing to dead-letter.
  EXPECT_EQ(redis_.Command({"XLEN", "oppmatrix:crm-events:dead"})->integer, 0);
  auto m = results_->Matrix("tenant-1", {}, 0, absl::Now(), Soon());
  ASSERT_TRUE(m.ok()) << m.status();
  int64_t count = 0;
  for (const StoredCell& c : *m) count += c.count;
  EXPECT_GT(count, 0);
}

// A deal deleted in the CRM leaves through the classifier
// (DeleteClassification): one transition out of its cell to no cell, and
// it is gone from the matrix and its cell; the deletion delivered again and
// an older update arriving late change nothing.
TEST_F(PipelineTest, ADeleteIsOneTransitionOutAndLeavesTheMatrix) {
  auto ingestion = StartIngestion("i0");
  auto event = [](const std::string& id, int64_t version, bool deleted) {
    v1::CrmEvent e;
    e.set_event_id(absl::StrCat(id, "/", version));
    e.set_tenant_id("acme");
    e.set_opportunity_id(id);
    e.set_version(version);
    if (deleted) {
      e.set_type(v1::OPPORTUNITY_DELETED);
    } else {
      e.set_type(v1::OPPORTUNITY_UPSERTED);
      v1::Opportunity& o = *e.mutable_opportunity();
      o.set_stage("Negotiation");
      o.mutable_amount()->set_currency_code("USD");
      o.mutable_amount()->set_units(250000);
      o.mutable_account()->set_industry("Manufacturing");
      o.mutable_account()->set_employees(900);
    }
    std::string json;
    EXPECT_TRUE(google::protobuf::util::MessageToJsonString(e, &json).ok());
    return json;
  };
  RedisStreamSink sink(redis_client_.get(), {.timeout = absl::Seconds(10)});
  ASSERT_TRUE(
      sink.Append({event("keep", 1, false), event("gone", 1, false)}).ok());
  ASSERT_TRUE(WaitDrained(absl::Seconds(60)));
  auto before = results_->Get("acme", "gone", Soon());
  ASSERT_TRUE(before.ok()) << before.status();
  const std::string cell = before->cell();
  ASSERT_TRUE(
      results_->Transitions("acme", 500, "", Soon())->transitions.empty());

  ASSERT_TRUE(sink.Append({event("gone", 2, true)}).ok());
  ASSERT_TRUE(WaitDrained(absl::Seconds(60)));
  ASSERT_TRUE(
      sink.Append({event("gone", 2, true), event("gone", 1, false)}).ok());
  ASSERT_TRUE(WaitDrained(absl::Seconds(60)));

  auto t = results_->Transitions("acme", 500, "", Soon());
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_EQ(t->transitions.size(), 1u);
  EXPECT_EQ(t->transitions[0].opportunity_id(), "gone");
  EXPECT_EQ(t->transitions[0].from_cell(), cell);
  EXPECT_EQ(t->transitions[0].to_cell(), "");
  EXPECT_EQ(results_->Get("acme", "gone", Soon()).status().code(),
            absl::StatusCode::kNotFound);
  auto m = results_->Matrix("acme", {}, 10, absl::Now(), Soon());
  ASSERT_TRUE(m.ok()) << m.status();
  int64_t count = 0;
  for (const StoredCell& c : *m) {
    count += c.count;
    for (const v1::Classification& top : c.top) {
      EXPECT_NE(top.opportunity_id(), "gone");
    }
  }
  EXPECT_EQ(count, 1);
  auto listed = results_->List("acme", cell, 500, "", Soon());
  ASSERT_TRUE(listed.ok()) << listed.status();
  for (const v1::Classification& c : listed->classifications) {
    EXPECT_NE(c.opportunity_id(), "gone");
  }
  EXPECT_EQ(redis_.Command({"XLEN", "oppmatrix:crm-events:dead"})->integer, 0);
}

// `oppctl import` of each CRM's export (tests/clients/testdata/import/)
// through PushEvents, the bus and the classifier into stored results: the
// tenant's matrix has the expected count per cell, and nothing is
// dead-lettered.
TEST_F(PipelineTest, CrmExportsImportIntoStoredResults) {
  auto ingestion = StartIngestion("i0");
  ImportEveryCrmExport();
}

TEST_F(KafkaPipelineTest, EveryEventEndsStoredOrDeadLettered) {
  auto ingestion = StartIngestion("i0");
  Simulate(7);
  ASSERT_TRUE(WaitDrained(absl::Seconds(120)));
  ExpectFinalState();
  // oppctl status shows the topic's partitions, each committed to its end.
  Subprocess status({OPPMATRIX_BINARY_DIR "/clients/oppctl/oppctl",
                     absl::StrCat("--ingestion=127.0.0.1:", ingestion_port_),
                     "status"});
  ASSERT_EQ(status.Wait(absl::Seconds(30)), 0) << status.Stderr();
  const std::string out = status.Stdout();
  EXPECT_THAT(out, ::testing::HasSubstr("kafka topic     crm-events"));
  EXPECT_THAT(out, ::testing::HasSubstr("lag             0"));
  EXPECT_THAT(
      out, ::testing::HasSubstr(absl::StrCat("dead-lettered   ", malformed_)));
  EXPECT_THAT(out,
              ::testing::ContainsRegex("        3 +[0-9]+ +[0-9]+ +0  yes"));
  // oppctl dlq reads the dead-letter topic through the RPCs: the list,
  // the summary's counts, and a replay of all, after which none is listed
  // (the malformed events come back as new dead letters).
  const std::string target =
      absl::StrCat("--ingestion=127.0.0.1:", ingestion_port_);
  Subprocess list({OPPMATRIX_BINARY_DIR "/clients/oppctl/oppctl", target,
                   "--json", "dlq", "list", "--count=3"});
  ASSERT_EQ(list.Wait(absl::Seconds(30)), 0) << list.Stderr();
  EXPECT_THAT(list.Stdout(),
              ::testing::HasSubstr("\"source_stream\":\"crm-events\""));
  EXPECT_THAT(list.Stdout(),
              ::testing::ContainsRegex("\"id\":\"[0-9]+:[0-9]+\""));
  Subprocess summary({OPPMATRIX_BINARY_DIR "/clients/oppctl/oppctl", target,
                      "--json", "dlq", "summary"});
  ASSERT_EQ(summary.Wait(absl::Seconds(30)), 0) << summary.Stderr();
  EXPECT_THAT(summary.Stdout(), ::testing::HasSubstr(absl::StrCat(
                                    "\"entries\":\"", malformed_, "\"")));
  Subprocess replay({OPPMATRIX_BINARY_DIR "/clients/oppctl/oppctl", target,
                     "dlq", "replay", "--all"});
  ASSERT_EQ(replay.Wait(absl::Seconds(60)), 0) << replay.Stderr();
  EXPECT_THAT(replay.Stdout(),
              ::testing::HasSubstr(absl::StrCat("replayed ", malformed_)));
  ASSERT_TRUE(WaitDrained(absl::Seconds(60)));
  Subprocess after({OPPMATRIX_BINARY_DIR "/clients/oppctl/oppctl", target,
                    "--json", "dlq", "summary"});
  ASSERT_EQ(after.Wait(absl::Seconds(30)), 0) << after.Stderr();
  EXPECT_THAT(after.Stdout(), ::testing::HasSubstr(absl::StrCat(
                                  "\"entries\":\"", malformed_, "\"")));
  EXPECT_NE(after.Stdout(), summary.Stdout()) << "the same entries as before";

  ingestion->Signal(SIGTERM);
  EXPECT_EQ(ingestion->Wait(absl::Seconds(30)), 0) << ingestion->Stderr();
  EXPECT_THAT(ingestion->Stderr(), ::testing::HasSubstr("left the group"));
}

TEST_F(KafkaPipelineTest, KilledMidRunAndRestartedNothingLost) {
  auto ingestion = StartIngestion("i0", /*batch_size=*/10);
  Simulate(8, 1500);
  // Killed without warning once part of the work is committed.
  absl::Time give_up = absl::Now() + absl::Seconds(60);
  while (absl::Now() < give_up) {
    auto s = BusStats();
    ASSERT_TRUE(s.ok()) << s.status();
    if (s->lag < 1300) break;
    absl::SleepFor(absl::Milliseconds(5));
  }
  ingestion->Signal(SIGKILL);
  ingestion->Wait(absl::Seconds(10));
  auto at_kill = BusStats();
  ASSERT_TRUE(at_kill.ok());
  EXPECT_GT(at_kill->lag, 0) << "the run had already finished";
  EXPECT_LT(at_kill->lag, 1500) << "the run had not started";
  Simulate(8);  // the rest of the run arrives meanwhile
  // The group hands the dead consumer's partitions on once its session
  // times out; the restarted one takes them from the committed offsets.
  auto restarted = StartIngestion("i0");
  ASSERT_TRUE(WaitDrained(absl::Seconds(120)));
  ExpectFinalState();
}

// A second replica joins mid-run (cooperative rebalance: it takes some
// partitions, the first keeps the rest), then leaves (its partitions go
// back); the final state is the same.
TEST_F(KafkaPipelineTest, AReplicaJoinsAndLeavesAndTheStateIsTheSame) {
  auto a = StartIngestion("i0", /*batch_size=*/20);
  ASSERT_TRUE(
      a->WaitForStderr("assigned partitions 0,1,2,3", absl::Seconds(60)))
      << a->Stderr();
  Simulate(10, 1000);
  auto b = StartIngestion("i1", /*batch_size=*/20);
  ASSERT_TRUE(b->WaitForStderr("assigned partitions ", absl::Seconds(60)))
      << b->Stderr();
  Simulate(10);
  b->Signal(SIGTERM);
  EXPECT_EQ(b->Wait(absl::Seconds(30)), 0) << b->Stderr();
  ASSERT_TRUE(WaitDrained(absl::Seconds(120)));
  ExpectFinalState();
  EXPECT_THAT(a->Stderr(), ::testing::HasSubstr("revoked partitions "));
}

TEST_F(KafkaPipelineTest, PushEventsAppendsToTheTopic) {
  auto ingestion = StartIngestion("i0");
  Subprocess sim({OPPMATRIX_BINARY_DIR "/clients/sim/oppmatrix-crm-sim",
                  "--mode=push",
                  absl::StrCat("--target=127.0.0.1:", ingestion_port_),
                  "--seed=3", "--max_events=400", "--batch=50"});
  ASSERT_EQ(sim.Wait(absl::Seconds(60)), 0) << sim.Stderr();
  EXPECT_THAT(sim.Stdout(), ::testing::HasSubstr("emitted 400 events"));
  ASSERT_TRUE(WaitDrained(absl::Seconds(60)));
  auto stats = BusStats();
  ASSERT_TRUE(stats.ok());
  int64_t on_topic = 0;
  for (const PartitionStats& p : stats->partitions) {
    on_topic += p.high_watermark;
  }
  // Every event PushEvents accepted is on the topic, and no other.
  Subprocess status({OPPMATRIX_BINARY_DIR "/clients/oppctl/oppctl",
                     absl::StrCat("--ingestion=127.0.0.1:", ingestion_port_),
                     "--json", "status"});
  ASSERT_EQ(status.Wait(absl::Seconds(30)), 0) << status.Stderr();
  EXPECT_GT(on_topic, 300);
  EXPECT_THAT(status.Stdout(), ::testing::HasSubstr(absl::StrCat(
                                   "\"pushed\":\"", on_topic, "\"")));
  auto m = results_->Matrix("tenant-1", {}, 0, absl::Now(), Soon());
  ASSERT_TRUE(m.ok()) << m.status();
  int64_t count = 0;
  for (const StoredCell& c : *m) count += c.count;
  EXPECT_GT(count, 0);
}

// While the classifier is down the pipelines retry and take nothing more:
// the read-ahead buffer fills to --kafka_max_buffered and the partitions
// are paused (GetStatus shows it), then resumed once it is back; nothing is
// lost.
TEST_F(KafkaPipelineTest, ClassifierDownPausesThePartitionsThenAllComplete) {
  auto ingestion =
      StartIngestion("i0", /*batch_size=*/20, {"--kafka_max_buffered=50"});
  ASSERT_TRUE(ingestion->WaitForStderr("assigned partitions 0,1,2,3",
                                       absl::Seconds(60)))
      << ingestion->Stderr();
  const std::string listen = absl::StrCat("127.0.0.1:", classifier_port_);
  classifier_->Signal(SIGKILL);
  classifier_->Wait(absl::Seconds(10));
  Simulate(9);
  ASSERT_TRUE(
      ingestion->WaitForStderr("paused 4 partitions", absl::Seconds(30)))
      << ingestion->Stderr();
  Subprocess status({OPPMATRIX_BINARY_DIR "/clients/oppctl/oppctl",
                     absl::StrCat("--ingestion=127.0.0.1:", ingestion_port_),
                     "status"});
  ASSERT_EQ(status.Wait(absl::Seconds(30)), 0) << status.Stderr();
  EXPECT_THAT(status.Stdout(), ::testing::HasSubstr("paused"));
  auto waiting = BusStats();
  ASSERT_TRUE(waiting.ok());
  EXPECT_GT(waiting->lag, 0);
  StartClassifier(listen);
  ASSERT_TRUE(WaitDrained(absl::Seconds(120)));
  ExpectFinalState();
  EXPECT_THAT(ingestion->Stderr(),
              ::testing::HasSubstr("resumed 4 partitions"));
}

TEST_F(KafkaPipelineTest, OutOfOrderVersionsReachTheInOrderState) {
  auto ingestion = StartIngestion("i0", /*batch_size=*/25);
  Simulate(13, 0, /*shuffle_window=*/60);
  ASSERT_TRUE(WaitDrained(absl::Seconds(120)));
  ExpectFinalState();
}

// oppctl import pushes through PushEvents, which appends to the topic when
// Kafka is the bus.
TEST_F(KafkaPipelineTest, CrmExportsImportThroughPushEventsOntoTheTopic) {
  auto ingestion = StartIngestion("i0");
  ImportEveryCrmExport();
}

// Broker errors injected mid-run (produce, fetch, commit and the group's
// heartbeats), and one broker down for two seconds: librdkafka and the
// pipeline retry, and the final state is the same.
TEST_F(KafkaPipelineTest, BrokerErrorsAndABrokerDownMidRunLoseNothing) {
  constexpr int16_t kProduce = 0, kFetch = 1, kOffsetCommit = 8,
                    kHeartbeat = 12;
  auto ingestion = StartIngestion("i0", /*batch_size=*/20);
  ASSERT_TRUE(ingestion->WaitForStderr("assigned partitions 0,1,2,3",
                                       absl::Seconds(60)))
      << ingestion->Stderr();
  Simulate(12, 600);
  rd_kafka_mock_push_request_errors(kafka_->cluster(), kFetch, 3,
                                    RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
                                    RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
                                    RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART);
  rd_kafka_mock_push_request_errors(
      kafka_->cluster(), kOffsetCommit, 2,
      RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS,
      RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT);
  rd_kafka_mock_push_request_errors(kafka_->cluster(), kHeartbeat, 2,
                                    RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
                                    RD_KAFKA_RESP_ERR_NOT_COORDINATOR);
  // Dead letters and the rest of the run meet produce errors too.
  rd_kafka_mock_push_request_errors(kafka_->cluster(), kProduce, 3,
                                    RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
                                    RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
                                    RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS);
  rd_kafka_mock_broker_set_down(kafka_->cluster(), 2);
  absl::SleepFor(absl::Seconds(2));
  rd_kafka_mock_broker_set_up(kafka_->cluster(), 2);
  Simulate(12);
  ASSERT_TRUE(WaitDrained(absl::Seconds(120)));
  ExpectFinalState();
}

}  // namespace
}  // namespace oppmatrix
