// The Kafka bus against librdkafka's mock cluster (three brokers, topics of
// several partitions): the sink's keys and headers, the source's reads,
// low-watermark offsets, rebalances, pausing, dead letters, broker errors,
// and kcat as an outside producer.
#include "services/ingestion/kafka_bus.h"

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <future>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "oppmatrix/v1/crm_event.pb.h"
#include "services/ingestion/crm_event.h"
#include "services/ingestion/dead_letter_fields.h"
#include "services/ingestion/kafka_dead_letters.h"
#include "tests/testing/kafka_cluster.h"
#include "tests/testing/subprocess.h"

namespace oppmatrix {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

constexpr char kTopic[] = "crm-events";
constexpr char kDeadTopic[] = "crm-events-dead";
constexpr int kPartitions = 4;
// Kafka protocol API keys, for injecting errors (librdkafka keeps its
// names for them internal).
constexpr int16_t kProduceApi = 0;
constexpr int16_t kFetchApi = 1;
constexpr int16_t kOffsetCommitApi = 8;

std::string EventJson(const std::string& tenant, const std::string& id,
                      int version) {
  return absl::StrCat(R"({"eventId":"e-)", tenant, "-", id, "-", version,
                      R"(","tenantId":")", tenant, R"(","opportunityId":")", id,
                      R"(","type":"OPPORTUNITY_UPSERTED","version":")", version,
                      R"(","opportunity":{"name":"Deal )", id, R"("}})");
}

class KafkaBusTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto cluster = testing::MockKafkaCluster::Start(3);
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    kafka_ = *std::move(cluster);
    ASSERT_TRUE(kafka_->CreateTopic(kTopic, kPartitions).ok());
    ASSERT_TRUE(kafka_->CreateTopic(kDeadTopic, 2).ok());
    // A request a downed broker leaves hanging (the mock cluster keeps the
    // connection open) is given up after 5 s, not 60. (Only the producer:
    // a group member's requests must outlast the mock's rebalances.)
    KafkaConfig producing = Config();
    producing.properties.emplace_back("socket.timeout.ms", "5000");
    auto producer = KafkaProducer::Create(producing, absl::Seconds(30));
    ASSERT_TRUE(producer.ok()) << producer.status();
    producer_ = *std::move(producer);
  }

  KafkaConfig Config() const {
    return {.brokers = kafka_->bootstraps(),
            .properties = {{"log_level", "3"},
                           {"auto.commit.interval.ms", "100"},
                           {"session.timeout.ms", "6000"},
                           {"heartbeat.interval.ms", "200"}}};
  }

  std::unique_ptr<KafkaEventSource> Source(const std::string& name,
                                           int max_buffered = 2000) {
    auto s = KafkaEventSource::Create({.kafka = Config(),
                                       .topic = kTopic,
                                       .group = "g",
                                       .consumer = name,
                                       .dead_letter_topic = kDeadTopic,
                                       .max_buffered = max_buffered});
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? *std::move(s) : nullptr;
  }

  // `n` events: `opportunities` opportunities, versions in order.
  void Produce(int n, int opportunities, const std::string& content_type = "") {
    KafkaEventSink sink(producer_.get(),
                        {.topic = kTopic, .content_type = content_type});
    std::vector<std::string> payloads;
    for (int i = 0; i < n; ++i) {
      std::string json =
          EventJson("t", absl::StrCat("o", i % opportunities), i + 1);
      if (content_type.empty()) {
        payloads.push_back(json);
      } else {
        payloads.push_back(ParseCrmEventJson(json)->SerializeAsString());
      }
    }
    ASSERT_TRUE(sink.Append(payloads).ok());
  }

  // Reads until `n` events came (or 30 s), acknowledging each batch when
  // `ack`.
  std::vector<BusEvent> ReadN(KafkaEventSource& source, size_t n,
                              bool ack = true) {
    std::vector<BusEvent> out;
    absl::Time give_up = absl::Now() + absl::Seconds(30);
    while (out.size() < n && absl::Now() < give_up) {
      auto batch = source.Read(100, absl::Milliseconds(100));
      EXPECT_TRUE(batch.ok());
      std::vector<std::string> ids;
      for (BusEvent& e : *batch) {
        ids.push_back(e.id);
        out.push_back(std::move(e));
      }
      if (ack) {
        EXPECT_TRUE(source.Ack(ids).ok());
      }
    }
    return out;
  }

  // The group's committed lag reaches 0 (within 30 s).
  bool WaitCommitted(KafkaEventSource& source) {
    absl::Time give_up = absl::Now() + absl::Seconds(30);
    while (absl::Now() < give_up) {
      auto s = source.Stats();
      if (s.ok() && s->lag == 0 && s->pending == 0) return true;
      absl::SleepFor(absl::Milliseconds(50));
    }
    return false;
  }

  std::unique_ptr<testing::MockKafkaCluster> kafka_;
  std::unique_ptr<KafkaProducer> producer_;
};

TEST(KafkaPropertiesTest, FileThenFlagsWithCommentsAndErrors) {
  const std::string dir = testing::MakeTempDir();
  const std::string file = dir + "/client.properties";
  std::ofstream(file) << "# SASL over TLS\n"
                         "security.protocol = SASL_SSL\n"
                         "! another comment\n"
                         "\n"
                         "sasl.mechanism=PLAIN\n"
                         "sasl.password=a=b=c\n";
  auto p = ParseKafkaProperties({"sasl.mechanism=SCRAM-SHA-512"}, file);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_THAT(*p, ElementsAre(Pair("security.protocol", "SASL_SSL"),
                              Pair("sasl.mechanism", "PLAIN"),
                              Pair("sasl.password", "a=b=c"),
                              Pair("sasl.mechanism", "SCRAM-SHA-512")));

  std::ofstream(file) << "fine=1\nno value here\n";
  auto bad_line = ParseKafkaProperties({}, file);
  EXPECT_EQ(bad_line.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad_line.status().message(),
              HasSubstr("client.properties:2: \"no value here\""));
  auto bad_flag = ParseKafkaProperties({"=x"}, "");
  EXPECT_THAT(bad_flag.status().message(), HasSubstr("--kafka_property"));
  auto missing = ParseKafkaProperties({}, dir + "/nope");
  EXPECT_THAT(missing.status().message(), HasSubstr("--kafka_properties_file"));
  auto flag_owned = ParseKafkaProperties({"group.id=other"}, "");
  EXPECT_THAT(flag_owned.status().message(),
              HasSubstr("group.id: set it with --group instead"));
  auto eager =
      ParseKafkaProperties({"partition.assignment.strategy=range"}, "");
  EXPECT_THAT(eager.status().message(),
              HasSubstr("must stay cooperative-sticky"));
  auto alias = ParseKafkaProperties({"metadata.broker.list=k:9092"}, "");
  EXPECT_THAT(alias.status().message(), HasSubstr("--kafka_brokers"));
  auto unsafe = ParseKafkaProperties({"enable.auto.offset.store=true"}, "");
  EXPECT_EQ(unsafe.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(unsafe.status().message(),
              HasSubstr("enable.auto.offset.store must stay false"));
}

TEST(KafkaEventKeyTest, TenantAndOpportunityInBothContentTypes) {
  const std::string json = EventJson("acme", "o-7", 3);
  EXPECT_EQ(KafkaEventKey(json, ""), "acme/o-7");
  EXPECT_EQ(KafkaEventKey(ParseCrmEventJson(json)->SerializeAsString(),
                          kProtobufContentType),
            "acme/o-7");
  EXPECT_EQ(KafkaEventKey("{not json", ""), "");
  // Ids as CRMs write them: other scripts, spaces, dashes, slashes.
  EXPECT_EQ(KafkaEventKey(EventJson("华东销售", "Opp 7 – Ünïcode/α", 2), ""),
            "华东销售/Opp 7 – Ünïcode/α");
}

TEST_F(KafkaBusTest, EveryEventIsReadOnceInOrderPerOpportunity) {
  Produce(400, 37);
  auto source = Source("c0");
  std::vector<BusEvent> read = ReadN(*source, 400);
  ASSERT_EQ(read.size(), 400u);
  std::map<std::string, int64_t> last_version;
  std::map<std::string, std::set<std::string>> partitions_of_key;
  std::set<std::string> ids;
  for (const BusEvent& e : read) {
    EXPECT_TRUE(ids.insert(e.id).second) << e.id;
    auto event = ParseCrmEvent(e.payload, e.content_type);
    ASSERT_TRUE(event.ok()) << event.status();
    EXPECT_EQ(e.key, "t/" + event->opportunity_id());
    EXPECT_GT(event->version(), last_version[e.key]) << e.key;
    last_version[e.key] = event->version();
    partitions_of_key[e.key].insert(e.id.substr(0, e.id.find(':')));
  }
  std::set<std::string> used;
  for (const auto& [key, partitions] : partitions_of_key) {
    EXPECT_EQ(partitions.size(), 1u) << key;
    used.insert(*partitions.begin());
  }
  EXPECT_EQ(used.size(), static_cast<size_t>(kPartitions));
  EXPECT_TRUE(WaitCommitted(*source));
}

TEST_F(KafkaBusTest, BinaryEventsCarryTheirContentType) {
  Produce(20, 5, kProtobufContentType);
  auto source = Source("c0");
  std::vector<BusEvent> read = ReadN(*source, 20);
  ASSERT_EQ(read.size(), 20u);
  for (const BusEvent& e : read) {
    EXPECT_EQ(e.content_type, kProtobufContentType);
    EXPECT_TRUE(ParseCrmEvent(e.payload, e.content_type).ok());
  }
}

// Pipelines finish out of order: an acknowledgement past an event still in
// flight stores no offset past it, so a crash (here: the consumer closed
// with one event unacknowledged) hands that event, and what follows it in
// its partition, to the next consumer; nothing acknowledged before it is
// read again.
TEST_F(KafkaBusTest, OffsetsStopAtTheOldestUnacknowledgedEvent) {
  Produce(200, 1);  // one opportunity: one partition, in order
  std::string held;
  {
    auto source = Source("c0");
    std::vector<BusEvent> read = ReadN(*source, 200, /*ack=*/false);
    ASSERT_EQ(read.size(), 200u);
    held = read[120].id;
    std::vector<std::string> ids;
    for (const BusEvent& e : read) {
      if (e.id != held) ids.push_back(e.id);
    }
    std::reverse(ids.begin(), ids.end());  // the newest first
    ASSERT_TRUE(source->Ack(ids).ok());
    source->Close();
  }
  auto again = Source("c1");
  std::vector<BusEvent> reread = ReadN(*again, 80);
  ASSERT_EQ(reread.size(), 80u);
  EXPECT_EQ(reread.front().id, held);
  auto more = again->Read(100, absl::Milliseconds(300));
  ASSERT_TRUE(more.ok());
  EXPECT_TRUE(more->empty());
  EXPECT_TRUE(WaitCommitted(*again));
}

// Kafka keeps no delivery count: the source keeps one in the commit's
// metadata for the event its partition stopped at. A consumer that dies
// (here: closes) holding it unacknowledged, again and again, hands it to
// the next with one more delivery each time, so --max_deliveries can
// dead-letter a poison event; the events after it, never delivered before
// their turn, count 1.
TEST_F(KafkaBusTest, AnEventEveryConsumerDiesOnCountsItsDeliveries) {
  Produce(3, 1);  // one partition
  for (int64_t round = 1; round <= 3; ++round) {
    auto source = Source(absl::StrCat("c", round));
    std::vector<BusEvent> read = ReadN(*source, 3, /*ack=*/false);
    ASSERT_EQ(read.size(), 3u);
    EXPECT_EQ(read[0].deliveries, round);
    EXPECT_EQ(read[1].deliveries, 1);
    source->Close();
  }
  auto last = Source("c4");
  std::vector<BusEvent> read = ReadN(*last, 3);
  ASSERT_EQ(read.size(), 3u);
  EXPECT_EQ(read[0].deliveries, 4);
  EXPECT_TRUE(WaitCommitted(*last));
}

// Cooperative-sticky: a second consumer joining takes some partitions, the
// first keeps the rest and goes on reading; when the second leaves, its
// partitions come back. Every event is read, and all are committed.
TEST_F(KafkaBusTest, ARebalanceAsAConsumerJoinsAndLeavesLosesNothing) {
  auto a = Source("a");
  Produce(300, 50);
  std::vector<BusEvent> by_a = ReadN(*a, 100);
  auto b = Source("b");
  std::set<std::string> seen;
  for (const BusEvent& e : by_a) seen.insert(e.id);
  // a reads on while b joins, until b has partitions of its own.
  absl::Time joined_by = absl::Now() + absl::Seconds(30);
  bool b_assigned = false;
  while (!b_assigned && absl::Now() < joined_by) {
    auto batch = a->Read(100, absl::Milliseconds(100));
    ASSERT_TRUE(batch.ok());
    std::vector<std::string> ids;
    for (const BusEvent& e : *batch) {
      ids.push_back(e.id);
      seen.insert(e.id);
    }
    ASSERT_TRUE(a->Ack(ids).ok());
    auto s = b->Stats();
    ASSERT_TRUE(s.ok()) << s.status();
    for (const PartitionStats& p : s->partitions) b_assigned |= p.assigned;
  }
  ASSERT_TRUE(b_assigned);
  // Both read until the first 600 are all seen.
  Produce(300, 50);
  absl::Time give_up = absl::Now() + absl::Seconds(60);
  bool b_read = false;
  while (seen.size() < 600 && absl::Now() < give_up) {
    for (KafkaEventSource* s : {a.get(), b.get()}) {
      auto batch = s->Read(50, absl::Milliseconds(50));
      ASSERT_TRUE(batch.ok());
      std::vector<std::string> ids;
      for (const BusEvent& e : *batch) {
        ids.push_back(e.id);
        seen.insert(e.id);
        if (s == b.get()) b_read = true;
      }
      ASSERT_TRUE(s->Ack(ids).ok());
    }
  }
  EXPECT_EQ(seen.size(), 600u);
  EXPECT_TRUE(b_read) << "the second consumer got no partition";
  auto stats = a->Stats();
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_GE(stats->rebalances, 2);
  int assigned_to_a = 0;
  for (const PartitionStats& p : stats->partitions) assigned_to_a += p.assigned;
  EXPECT_GT(assigned_to_a, 0);
  EXPECT_LT(assigned_to_a, kPartitions);
  b->Close();
  b.reset();
  Produce(100, 50);
  std::vector<BusEvent> rest = ReadN(*a, 100);
  for (const BusEvent& e : rest) seen.insert(e.id);
  EXPECT_EQ(seen.size(), 700u);
  EXPECT_TRUE(WaitCommitted(*a));
  stats = a->Stats();
  ASSERT_TRUE(stats.ok());
  for (const PartitionStats& p : stats->partitions) {
    EXPECT_TRUE(p.assigned) << p.partition;
    EXPECT_EQ(p.lag, 0);
    EXPECT_EQ(p.committed, p.high_watermark);
  }
}

// While nothing reads (the pipelines retry against a classifier that is
// down), the buffer fills to its bound and the partitions are paused: the
// events in memory stay bounded. Reading resumes them.
TEST_F(KafkaBusTest, AFullBufferPausesThePartitions) {
  Produce(3000, 100);
  auto source = Source("c0", /*max_buffered=*/100);
  absl::Time give_up = absl::Now() + absl::Seconds(30);
  bool paused = false;
  while (!paused && absl::Now() < give_up) {
    auto s = source->Stats();
    ASSERT_TRUE(s.ok()) << s.status();
    for (const PartitionStats& p : s->partitions) paused |= p.paused;
    absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_TRUE(paused);
  absl::SleepFor(absl::Milliseconds(500));
  auto s = source->Stats();
  ASSERT_TRUE(s.ok());
  // What was fetched before the pause may still come in; far from all.
  EXPECT_LT(s->pending, 1000);
  std::vector<BusEvent> all = ReadN(*source, 3000);
  EXPECT_EQ(all.size(), 3000u);
  EXPECT_TRUE(WaitCommitted(*source));
}

TEST_F(KafkaBusTest, ADeadLetterKeepsTheMessageWithItsReasonAndSource) {
  Produce(3, 1, kProtobufContentType);
  auto source = Source("c0");
  std::vector<BusEvent> read = ReadN(*source, 3, /*ack=*/false);
  ASSERT_EQ(read.size(), 3u);
  ASSERT_TRUE(source->Ack({read[0].id, read[2].id}).ok());
  ASSERT_TRUE(
      source->DeadLetter(read[1], "invalid: version: must be positive").ok());
  EXPECT_TRUE(WaitCommitted(*source));  // the dead letter counts as done

  std::vector<testing::KafkaRecord> dead =
      testing::ReadTopic(kafka_->bootstraps(), kDeadTopic, 2, 1);
  ASSERT_EQ(dead.size(), 1u);
  const testing::KafkaRecord& m = dead[0];
  namespace f = dead_letter_field;
  EXPECT_EQ(m.value, read[1].payload);
  EXPECT_EQ(m.key, "t/o0");
  const std::string partition = read[1].id.substr(0, read[1].id.find(':'));
  const std::string offset = read[1].id.substr(read[1].id.find(':') + 1);
  EXPECT_THAT(
      m.headers,
      ::testing::UnorderedElementsAre(
          Pair(f::kReason, "invalid: version: must be positive"),
          Pair(f::kSourceStream, kTopic), Pair(f::kSourceId, read[1].id),
          Pair(f::kSourcePartition, partition), Pair(f::kSourceOffset, offset),
          Pair(f::kDeliveries, "1"),
          Pair(kKafkaContentTypeHeader, kProtobufContentType),
          Pair(f::kTime, ::testing::MatchesRegex("[0-9]{13}"))));
}

// A dead letter the brokers refuse is not lost and not retried in a busy
// loop. Refused as too large, it goes again at once without the event
// (event_dropped says so); refused that way too, the event is handed out
// again after a backoff, its deliveries counted, and dead-lettered once the
// brokers take it.
TEST_F(KafkaBusTest, ADeadLetterTheBrokersRefuseComesBackAfterABackoff) {
  Produce(2, 2);
  auto source = Source("c0");
  std::vector<BusEvent> read = ReadN(*source, 2, /*ack=*/false);
  ASSERT_EQ(read.size(), 2u);
  rd_kafka_mock_push_request_errors(kafka_->cluster(), kProduceApi, 2,
                                    RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE,
                                    RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE);
  absl::Status refused = source->DeadLetter(read[0], "invalid: x");
  EXPECT_FALSE(refused.ok());
  auto at_once = source->Read(10, absl::Milliseconds(20));
  ASSERT_TRUE(at_once.ok());
  EXPECT_TRUE(at_once->empty()) << "handed out again without a backoff";
  std::vector<BusEvent> again = ReadN(*source, 1, /*ack=*/false);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].id, read[0].id);
  EXPECT_EQ(again[0].deliveries, 2);
  absl::Status taken = source->DeadLetter(again[0], "invalid: x");
  ASSERT_TRUE(taken.ok()) << taken;

  rd_kafka_mock_push_request_errors(kafka_->cluster(), kProduceApi, 1,
                                    RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE);
  taken = source->DeadLetter(read[1], "invalid: y");
  ASSERT_TRUE(taken.ok()) << taken;
  EXPECT_TRUE(WaitCommitted(*source));
  std::vector<testing::KafkaRecord> dead =
      testing::ReadTopic(kafka_->bootstraps(), kDeadTopic, 2, 2);
  ASSERT_EQ(dead.size(), 2u);
  for (const testing::KafkaRecord& r : dead) {
    namespace f = dead_letter_field;
    if (r.headers.at(f::kSourceId) == read[0].id) {
      EXPECT_EQ(r.headers.at(f::kDeliveries), "2");
      EXPECT_EQ(r.value, read[0].payload);
      EXPECT_FALSE(r.headers.contains(f::kEventDropped));
    } else {
      EXPECT_EQ(r.headers.at(f::kSourceId), read[1].id);
      EXPECT_TRUE(r.value.empty());
      EXPECT_THAT(r.headers.at(f::kEventDropped),
                  HasSubstr(absl::StrCat(read[1].payload.size(), " bytes")));
    }
  }
}

// Errors injected on the brokers' produce, fetch and commit paths, and a
// broker down for a while: librdkafka retries, and every event still
// arrives once committed.
TEST_F(KafkaBusTest, BrokerErrorsAndABrokerDownAreRetried) {
  rd_kafka_mock_push_request_errors(kafka_->cluster(), kProduceApi, 4,
                                    RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
                                    RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
                                    RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
                                    RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE);
  Produce(200, 20);
  auto source = Source("c0");
  rd_kafka_mock_push_request_errors(kafka_->cluster(), kFetchApi, 3,
                                    RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
                                    RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART,
                                    RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT);
  rd_kafka_mock_push_request_errors(
      kafka_->cluster(), kOffsetCommitApi, 2,
      RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS,
      RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT);
  std::vector<BusEvent> read = ReadN(*source, 100);
  // Broker 2 goes down for a second while more events are produced; the
  // producer holds them until it is back.
  rd_kafka_mock_broker_set_down(kafka_->cluster(), 2);
  KafkaEventSink sink(producer_.get(), {.topic = kTopic});
  std::vector<std::string> payloads;
  for (int i = 0; i < 100; ++i) {
    payloads.push_back(EventJson("t", absl::StrCat("o", i % 20), 1000 + i));
  }
  std::promise<absl::Status> appended;
  sink.AppendAsync(payloads,
                   [&appended](absl::Status s) { appended.set_value(s); });
  absl::SleepFor(absl::Seconds(1));
  rd_kafka_mock_broker_set_up(kafka_->cluster(), 2);
  ASSERT_TRUE(appended.get_future().get().ok());
  std::vector<BusEvent> rest = ReadN(*source, 200);
  std::set<std::string> ids;
  for (const auto* batch : {&read, &rest}) {
    for (const BusEvent& e : *batch) ids.insert(e.id);
  }
  EXPECT_EQ(ids.size(), 300u);
  EXPECT_TRUE(WaitCommitted(*source));
}

// kcat, a real Kafka client from outside the project, produces to the mock
// cluster's bootstrap address; the source reads what it wrote, keys and
// content-type header included.
TEST_F(KafkaBusTest, KcatProducesAndTheSourceReads) {
  if (access("/usr/bin/kcat", X_OK) != 0) {
    GTEST_SKIP() << "kcat is not installed (Debian package kcat; ./run "
                    "installs it)";
  }
  std::string input;
  for (int v = 1; v <= 5; ++v) {
    absl::StrAppend(&input, "t/o1|", EventJson("t", "o1", v), "\n");
  }
  testing::Subprocess kcat(
      {"/usr/bin/kcat", "-P", "-b", kafka_->bootstraps(), "-t", kTopic, "-K",
       "|", "-H", "content-type=application/json", "-X", "log_level=3"},
      {}, input);
  ASSERT_EQ(kcat.Wait(absl::Seconds(30)), 0) << kcat.Stderr();
  auto source = Source("c0");
  std::vector<BusEvent> read = ReadN(*source, 5);
  ASSERT_EQ(read.size(), 5u);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(read[i].key, "t/o1");
    EXPECT_EQ(read[i].content_type, "application/json");
    auto e = ParseCrmEvent(read[i].payload, read[i].content_type);
    ASSERT_TRUE(e.ok()) << e.status();
    EXPECT_EQ(e->version(), i + 1);
  }
}

// The dead-letter RPCs' store on the dead-letter topic: pages in order,
// groups by reason, replay by id (the entry stays listed) and replay of all
// (the replay group's offsets move past them, so they are listed no more).
TEST_F(KafkaBusTest, DeadLettersAreListedSummarizedAndReplayedFromTheTopic) {
  Produce(6, 6);
  auto source = Source("c0");
  std::vector<BusEvent> read = ReadN(*source, 6, /*ack=*/false);
  ASSERT_EQ(read.size(), 6u);
  for (size_t i = 0; i < read.size(); ++i) {
    ASSERT_TRUE(source
                    ->DeadLetter(read[i], i < 4
                                              ? absl::StrCat("invalid: got ", i)
                                              : "classifier refused")
                    .ok());
  }
  auto made = KafkaDeadLetterQueue::Create({.kafka = Config(),
                                            .dead_letter_topic = kDeadTopic,
                                            .topic = kTopic,
                                            .replay_group = "replays"});
  ASSERT_TRUE(made.ok()) << made.status();
  KafkaDeadLetterQueue& dlq = **made;
  EXPECT_TRUE(dlq.IsEntryId("1:42"));
  EXPECT_FALSE(dlq.IsEntryId("1-42"));
  EXPECT_FALSE(dlq.IsEntryId(" 1:42"));

  auto first = dlq.List(4, "");
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(first->size(), 4u);
  auto rest = dlq.List(4, first->back().id);
  ASSERT_TRUE(rest.ok()) << rest.status();
  ASSERT_EQ(rest->size(), 2u);
  std::set<std::string> sources;
  for (const auto* page : {&*first, &*rest}) {
    for (const DeadLetterEntry& e : *page) {
      EXPECT_TRUE(dlq.IsEntryId(e.id)) << e.id;
      EXPECT_EQ(e.source_stream, kTopic);
      EXPECT_EQ(e.deliveries, 1);
      EXPECT_NE(e.time, absl::InfinitePast());
      EXPECT_FALSE(e.event.empty());
      sources.insert(e.source_id);
    }
  }
  EXPECT_EQ(sources.size(), 6u);

  auto summary = dlq.Summarize(100);
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->entries, 6);
  EXPECT_FALSE(summary->truncated);
  ASSERT_EQ(summary->groups.size(), 2u);
  EXPECT_EQ(summary->groups[0].reason, "invalid: got N");
  EXPECT_EQ(summary->groups[0].count, 4);
  auto some = dlq.Summarize(5);
  ASSERT_TRUE(some.ok());
  EXPECT_EQ(some->entries, 5);
  EXPECT_TRUE(some->truncated);

  auto missing = dlq.Replay({"0:999999"});
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("0:999999"));

  // By id: the event is back on the topic, and the entry still listed.
  const DeadLetterEntry& one = (*first)[0];
  auto replayed = dlq.Replay({one.id, one.id});
  ASSERT_TRUE(replayed.ok()) << replayed.status();
  EXPECT_EQ(replayed->replayed, 1);
  EXPECT_EQ(replayed->requested, 1);
  std::vector<BusEvent> again = ReadN(*source, 1);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].payload, one.event);
  EXPECT_EQ(again[0].key,
            "t/" + ParseCrmEventJson(one.event)->opportunity_id());
  EXPECT_EQ(dlq.List(10, "")->size(), 6u);

  // All: every one back, and none listed any more.
  auto all = dlq.ReplayAll();
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->replayed, 6);
  EXPECT_EQ(ReadN(*source, 6).size(), 6u);
  auto after = dlq.List(10, "");
  ASSERT_TRUE(after.ok());
  EXPECT_TRUE(after->empty());
  EXPECT_EQ(dlq.ReplayAll()->replayed, 0);
}

}  // namespace
}  // namespace oppmatrix
