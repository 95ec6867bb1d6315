// The dead-letter RPCs on Kafka: the dead letters KafkaEventSource writes to
// the dead-letter topic, listed, summarised and replayed onto the event
// topic.
//
// One message of a Kafka log cannot be removed, so "removed" is a position: the
// committed offsets of a consumer group of its own (`replay_group`) mark how
// far ReplayAll has gone in each partition, and only the entries from there
// on are listed. (Retention still deletes: give the dead-letter topic a long
// retention.ms, or -1.) An entry replayed by id stays listed (replaying it
// again, by id or with ReplayAll, puts a duplicate on the bus, which changes
// nothing). Entries are listed partition by partition, each oldest first;
// an entry's id is "partition:offset" in the dead-letter topic.
//
//   auto dlq = KafkaDeadLetterQueue::Create({.kafka = config});
//   auto page = (*dlq)->List(20, "");
//   auto replayed = (*dlq)->Replay({page->front().id});
#ifndef OPPMATRIX_SERVICES_INGESTION_KAFKA_DEAD_LETTERS_H_
#define OPPMATRIX_SERVICES_INGESTION_KAFKA_DEAD_LETTERS_H_

#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/synchronization/mutex.h"
#include "services/ingestion/dead_letters.h"
#include "services/ingestion/kafka_bus.h"

namespace oppmatrix {

class KafkaDeadLetterQueue final : public DeadLetterStore {
 public:
  struct Options {
    KafkaConfig kafka;
    std::string dead_letter_topic = "oppmatrix.crm-events.dead";
    // Where replayed events go.
    std::string topic = "oppmatrix.crm-events";
    // The consumer group whose committed offsets mark what ReplayAll has
    // replayed; it never joins (no partitions are assigned through it).
    std::string replay_group = "oppmatrix-dead-letter-replays";
    // Bound of each broker query, fetch and delivery.
    absl::Duration timeout = absl::Seconds(5);
  };

  static absl::StatusOr<std::unique_ptr<KafkaDeadLetterQueue>> Create(
      Options options);
  // Waits for the call in progress (a ReplayAll stops at its next page),
  // answers the calls still queued with UNAVAILABLE, then stops.
  ~KafkaDeadLetterQueue() override;

  // Each call runs in turn on a thread of the queue's own (librdkafka's
  // queries wait on brokers) and answers from there; at most 64 wait, more
  // are UNAVAILABLE at once.
  void ListAsync(int count, const std::string& after,
                 ListCallback done) override;
  void SummarizeAsync(int64_t max_entries, SummaryCallback done,
                      Cancelled cancelled = nullptr) override;
  // Produces each entry's event to the event topic, with its key and
  // content type; the entries stay (see above).
  void ReplayAsync(std::vector<std::string> ids, ReplayCallback done) override;
  // Replays every entry from the replay group's offsets to the end as it
  // was when the call began, and moves the offsets past each page once its
  // events are delivered.
  void ReplayAllAsync(ReplayCallback done,
                      Cancelled cancelled = nullptr) override;
  // "partition:offset", both decimal.
  bool IsEntryId(absl::string_view id) const override;
  std::string EntryIdForm() const override {
    return "a dead-letter id (\"<partition>:<offset>\", as ListDeadLetters "
           "gives)";
  }
  std::string ReplayTarget() const override { return options_.topic; }

 private:
  // The entries of one partition still listed: [begin, end).
  struct Range {
    int32_t partition = 0;
    int64_t begin = 0;
    int64_t end = 0;
  };
  struct Read {
    DeadLetterEntry entry;
    std::string key;
  };

  KafkaDeadLetterQueue(Options options, rd_kafka_s* reader,
                       std::unique_ptr<KafkaProducer> producer);
  // Runs `work` on the worker, or answers `refuse` at once when too many
  // wait.
  void Post(absl::AnyInvocable<void() &&> work,
            absl::AnyInvocable<void(absl::Status) &&> refuse);
  void WorkLoop();
  // The destructor has begun.
  bool Stopping();

  absl::StatusOr<std::vector<Range>> Ranges();
  // Up to `max` messages of `partition` from offset `from`, before `end`.
  absl::StatusOr<std::vector<Read>> ReadRange(int32_t partition, int64_t from,
                                              int64_t end, size_t max);
  // Up to `count` entries of `ranges` after entry id `after`.
  absl::StatusOr<std::vector<Read>> ListNow(int count, const std::string& after,
                                            const std::vector<Range>& ranges);
  // Produces the reads' events to the topic; how many were delivered, or
  // the first failure.
  absl::StatusOr<int64_t> Produce(const std::vector<Read>& reads);

  const Options options_;
  rd_kafka_s* const reader_;
  std::unique_ptr<KafkaProducer> producer_;

  absl::Mutex mu_;
  absl::CondVar wake_;
  struct Call {
    absl::AnyInvocable<void() &&> work;
    absl::AnyInvocable<void(absl::Status) &&> refuse;
  };
  std::deque<Call> queue_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread worker_;
};

}  // namespace oppmatrix

#endif  // OPPMATRIX_SERVICES_INGESTION_KAFKA_DEAD_LETTERS_H_
