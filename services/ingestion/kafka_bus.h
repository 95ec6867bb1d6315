// The event bus on Kafka, through librdkafka: the consumer-group source
// (KafkaEventSource), the sink PushEvents and the tools write to
// (KafkaEventSink), and the producer both use (KafkaProducer).
//
// Events are keyed by opportunity ("tenant/opportunity", KafkaEventKey), so
// one opportunity's events stay in order in one partition; a message's
// content type is its `content-type` header (absent: JSON).
//
// Delivery is at least once. The consumer stores a partition's offset only
// up to its oldest event not yet acknowledged (its low watermark): the
// pipelines finish batches out of order, and an offset past an event whose
// result is not stored would lose it in a crash. Stored offsets are
// committed every auto.commit.interval.ms, when a partition is revoked and
// on Close.
//
//   auto source = KafkaEventSource::Create({.kafka = {.brokers = "k:9092"}});
//   auto events = (*source)->Read(200, absl::Milliseconds(50));
//   ... store what they say ...
//   (*source)->Ack(ids);
#ifndef OPPMATRIX_SERVICES_INGESTION_KAFKA_BUS_H_
#define OPPMATRIX_SERVICES_INGESTION_KAFKA_BUS_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "services/ingestion/event_source.h"

struct rd_kafka_s;
struct rd_kafka_topic_partition_list_s;

namespace oppmatrix {

// The header naming a message's content type (absent: JSON), on the event
// topic and on the dead-letter topic.
inline constexpr char kKafkaContentTypeHeader[] = "content-type";

// What every Kafka client of the service is configured with.
struct KafkaConfig {
  // bootstrap.servers: "host:port[,host:port...]".
  std::string brokers = "";
  // librdkafka properties applied over the service's defaults
  // (security.protocol, sasl.*, ssl.*, fetch and batching settings...), so
  // SASL and TLS need no code. The few the delivery guarantee depends on
  // (enable.auto.offset.store on the consumer) are refused.
  std::vector<std::pair<std::string, std::string>> properties = {};
};

// Most properties one file or the flags may set.
inline constexpr int kMaxKafkaProperties = 256;

// `--kafka_property` values ("name=value") and a properties file (Java
// properties as librdkafka and kcat read them: one name=value per line,
// blank lines and lines starting with '#' or '!' skipped), the file's
// first, so a flag overrides it. INVALID_ARGUMENT naming the flag value or
// the file and line at fault; a file over 1 MiB is refused unread.
absl::StatusOr<std::vector<std::pair<std::string, std::string>>>
ParseKafkaProperties(absl::Span<const std::string> flags,
                     const std::string& file);

// The key an event is produced with, "tenant/opportunity"; empty when the
// payload does not parse (it then goes to any partition, and from there to
// the dead letters).
std::string KafkaEventKey(absl::string_view payload,
                          absl::string_view content_type);

// A librdkafka producer with its own thread serving delivery reports.
// Idempotent (enable.idempotence), so retries keep each partition's order;
// partitioned by murmur2 of the key, as Java producers are, so events of
// one opportunity land in one partition whoever writes them.
class KafkaProducer {
 public:
  struct Message {
    std::string topic;
    std::string key = "";  // empty: none
    std::string value = "";
    std::vector<std::pair<std::string, std::string>> headers = {};
  };

  // `delivery_timeout` bounds each message, retries included
  // (message.timeout.ms); `linger` is how long a message waits for others
  // to share its request (linger.ms: throughput against latency). The
  // config's properties override both.
  static absl::StatusOr<std::unique_ptr<KafkaProducer>> Create(
      const KafkaConfig& config, absl::Duration delivery_timeout,
      absl::Duration linger = absl::Milliseconds(5));
  // Waits up to delivery_timeout for what is in flight, then stops.
  ~KafkaProducer();

  // Produces each message, in order, and hands `done` the delivery status
  // of each (UNAVAILABLE naming the broker's error) once all are settled,
  // on the producer's thread, or on this one when nothing was sent. Never
  // waits: a full local queue fails the message at once
  // (RESOURCE_EXHAUSTED). `done` must not block.
  using Done = absl::AnyInvocable<void(std::vector<absl::Status>) &&>;
  void ProduceAll(std::vector<Message> messages, Done done);
  // ProduceAll, waited for.
  std::vector<absl::Status> ProduceAllSync(std::vector<Message> messages);

 private:
  explicit KafkaProducer(rd_kafka_s* rk, absl::Duration delivery_timeout);
  void PollLoop();

  rd_kafka_s* const rk_;
  const absl::Duration delivery_timeout_;
  std::atomic<bool> stop_{false};
  std::thread poller_;
};

// EventSink on a Kafka topic: each payload keyed by KafkaEventKey, with a
// `content-type` header when it is not JSON.
class KafkaEventSink final : public EventSink {
 public:
  struct Options {
    std::string topic = "oppmatrix.crm-events";
    // The payloads' content type; empty: JSON (no header).
    std::string content_type = "";
  };

  // `producer` must outlive the sink.
  KafkaEventSink(KafkaProducer* producer, Options options);

  absl::Status Append(absl::Span<const std::string> payloads) override;
  void AppendAsync(std::vector<std::string> payloads,
                   AppendCallback done) override;

 private:
  std::vector<KafkaProducer::Message> Messages(
      absl::Span<const std::string> payloads) const;
  static absl::Status FirstError(const std::vector<absl::Status>& statuses);

  KafkaProducer* const producer_;
  const Options options_;
};

// EventSource on a Kafka topic read by a consumer group, with
// cooperative-sticky assignment, so a rebalance moves only the partitions
// that change owner. A thread of the source's own polls the consumer
// (keeping it in the group whatever the pipelines do) into a buffer the
// reads take from; when `max_buffered` events wait there (the classifier
// or Redis is down and the pipelines retry), the thread stops fetching, and
// once the pipelines have taken nothing for a second every assigned
// partition is paused until half have gone.
//
// An event's id is "partition:offset". Dead letters go to the dead-letter
// topic with the original key and payload, and headers giving the reason,
// deliveries, time, content type and source topic, partition and offset.
//
// When a partition is revoked, the offsets acknowledged so far are
// committed first; its buffered events are dropped, and acknowledgements of
// its events still in the pipelines are ignored: its new owner reads them
// again from the committed offset (applying an event twice is a no-op).
class KafkaEventSource final : public EventSource {
 public:
  struct Options {
    KafkaConfig kafka;
    std::string topic = "oppmatrix.crm-events";
    std::string group = "oppmatrix-ingestion";
    // This replica's client.id (the name brokers and tools show).
    std::string consumer = "ingestion";
    std::string dead_letter_topic = "oppmatrix.crm-events.dead";
    // Events read ahead and not yet handed to a pipeline, past which the
    // partitions are paused.
    int max_buffered = 2000;
    // Bound of a dead-letter delivery, a commit and each query of Stats.
    absl::Duration timeout = absl::Seconds(5);
    // False: the source only answers Stats (a replica that serves
    // PushEvents and GetStatus without consuming); reads return nothing.
    bool subscribe = true;
  };

  // Subscribes; the partitions come with the group's first rebalance.
  static absl::StatusOr<std::unique_ptr<KafkaEventSource>> Create(
      Options options);
  // Close(), then frees the consumer, unless it never got an assignment:
  // librdkafka 2.0's cooperative-sticky assignor aborts the process when
  // such a consumer is destroyed (confluentinc/librdkafka#4312, fixed in
  // 2.3), so that one is left to the process's exit.
  ~KafkaEventSource() override;

  // Thread-safe: concurrent reads get disjoint events.
  absl::StatusOr<std::vector<BusEvent>> Read(int max,
                                             absl::Duration wait) override;
  // Ids of partitions no longer assigned here are ignored (see above).
  absl::Status Ack(absl::Span<const std::string> ids) override;
  absl::Status DeadLetter(const BusEvent& event,
                          absl::string_view reason) override;
  // Every dead letter produced at once, its payload cut at 512 KiB (under
  // the brokers' message limit). One not delivered is handed out again
  // after a backoff (100 ms, doubled per delivery up to 5 s), its
  // deliveries counted, as the Redis source's come back.
  std::vector<absl::Status> DeadLetterAll(
      absl::Span<const DeadLetterItem> items) override;
  // Nothing to do: a partition's events are this consumer's while the
  // partition is assigned to it, however long they take.
  absl::Status KeepClaimed(absl::Span<const std::string>) override {
    return absl::OkStatus();
  }
  // Those of partitions no longer assigned here.
  std::vector<std::string> Released(absl::Span<const std::string> ids) override;
  // lag: every partition's high watermark less the group's committed
  // offset; pending: this replica's events read and not yet acknowledged;
  // consumers: the group's members; per partition as well.
  absl::StatusOr<SourceStats> Stats() override;
  // Stats on a thread of the source's own (its queries wait on brokers).
  void StatsAsync(StatsCallback done) override;

  // Commits what is acknowledged and leaves the group, so the partitions go
  // to the other consumers at once; reads then return nothing. Call it
  // once the pipelines have stopped. Idempotent. A consumer still waiting
  // for its first assignment waits for it up to `timeout` first (see the
  // destructor).
  void Close();

  const Options& options() const { return options_; }

 private:
  struct Partition {
    // Offsets read, oldest first, each with whether it is acknowledged.
    std::deque<std::pair<int64_t, bool>> in_flight;
    // The offset after the last one read; -1 before the first.
    int64_t next = -1;
    // The offset last stored for commit.
    int64_t stored = -1;
    // The first event read since the assignment has been counted
    // (CountDelivery).
    bool counted = false;
  };
  struct Buffered {
    int32_t partition = 0;
    BusEvent event;
  };

  KafkaEventSource(Options options, rd_kafka_s* consumer,
                   std::unique_ptr<KafkaProducer> dead_letters);
  friend struct KafkaCallbacks;
  // librdkafka's rebalance callback (err: an rd_kafka_resp_err_t); on the
  // poll thread.
  void Rebalance(int err, rd_kafka_topic_partition_list_s* partitions);
  // Kafka keeps no delivery count, so the source keeps one for the event a
  // partition's committed offset points at, in the commit's metadata
  // ("deliveries=N"): the first event read after an assignment, when it is
  // the committed one (the consumer before died on it, or let the
  // partition go before getting past it), counts one more, committed before
  // it is handed out. Returns its deliveries, this one included. On the
  // poll thread, outside the rebalance callback (it waits on the group
  // coordinator).
  int64_t CountDelivery(int32_t partition, int64_t offset);
  void PollLoop();
  void StatsLoop();
  // Pauses or resumes every assigned partition; on the poll thread.
  void SetPaused(bool paused);
  absl::StatusOr<SourceStats> QueryStats();

  const Options options_;
  rd_kafka_s* consumer_;
  // A consumer handle of the same group that never joins it, for Stats's
  // queries: the group member's own would wait out each rebalance.
  rd_kafka_s* queries_ = nullptr;
  std::unique_ptr<KafkaProducer> dead_letters_;

  absl::Mutex mu_;
  absl::CondVar readable_;
  // A read took events (room in the buffer), and when it last did.
  absl::CondVar room_;
  absl::Time last_take_ ABSL_GUARDED_BY(mu_) = absl::Now();
  std::deque<Buffered> buffer_ ABSL_GUARDED_BY(mu_);
  // Events whose dead letter Kafka did not take, by when they are handed
  // out again.
  std::deque<std::pair<absl::Time, Buffered>> retries_ ABSL_GUARDED_BY(mu_);
  // The subscription is made (Close then waits for the first assignment).
  bool subscribed_ ABSL_GUARDED_BY(mu_) = false;
  absl::flat_hash_map<int32_t, Partition> partitions_ ABSL_GUARDED_BY(mu_);
  bool paused_ ABSL_GUARDED_BY(mu_) = false;
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  int64_t rebalances_ ABSL_GUARDED_BY(mu_) = 0;
  // Assignments received (an empty one counts), and their signal.
  int64_t assignments_ ABSL_GUARDED_BY(mu_) = 0;
  absl::CondVar assigned_;
  int64_t unacknowledged_ ABSL_GUARDED_BY(mu_) = 0;
  std::string last_error_ ABSL_GUARDED_BY(mu_);
  absl::Time last_error_logged_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  std::thread poller_;

  // StatsAsync's callers waiting for the query in progress (or the next).
  absl::Mutex stats_mu_;
  absl::CondVar stats_wanted_;
  std::vector<StatsCallback> stats_waiting_ ABSL_GUARDED_BY(stats_mu_);
  bool stats_stop_ ABSL_GUARDED_BY(stats_mu_) = false;
  std::thread stats_thread_;
};

}  // namespace oppmatrix

#endif  // OPPMATRIX_SERVICES_INGESTION_KAFKA_BUS_H_
