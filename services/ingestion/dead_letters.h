// Reading and replaying the dead-letter stream: what operators do after
// fixing whatever made events fail (a ruleset, a classifier bug, a
// producer sending bad data).
//
//   DeadLetterQueue dlq(&async_redis, {});
//   auto entries = dlq.List(20, "");
//   auto replayed = dlq.Replay({entries->front().id});
//
// The ingestion service serves these as RPCs (ListDeadLetters,
// SummarizeDeadLetters, ReplayDeadLetters), so tools need no Redis access.
#ifndef OPPMATRIX_SERVICES_INGESTION_DEAD_LETTERS_H_
#define OPPMATRIX_SERVICES_INGESTION_DEAD_LETTERS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "services/ingestion/dead_letter_fields.h"
#include "services/ingestion/event_source.h"
#include "services/store/async_redis.h"
#include "services/store/redis_client.h"

namespace oppmatrix {

// The field-value pairs of the dead-letter entry for `event`.
std::vector<std::string> DeadLetterFields(const BusEvent& event,
                                          absl::string_view reason,
                                          absl::string_view source_stream,
                                          absl::Time now);

struct DeadLetterEntry {
  std::string id;            // in the dead-letter stream
  std::string event;         // the original payload (may be empty)
  std::string content_type;  // its content type (empty: JSON)
  std::string reason;
  int64_t deliveries = 0;
  std::string source_stream;
  std::string source_id;  // its id in the event stream
  absl::Time time = absl::InfinitePast();
};

// Dead letters that failed for one reason: what `oppctl dlq summary` shows.
struct DeadLetterGroup {
  // The reason with its varying parts masked: numbers become "N" and
  // quoted values "\"…\"", so "got 0" and "got -3" are one reason;
  // line breaks and runs of spaces become one space.
  std::string reason;
  // One entry's reason as written, its dead-letter id (for `dlq replay`)
  // and its event's eventId when the payload is JSON that has one.
  std::string example_reason;
  std::string example_id;
  std::string example_event_id;
  int64_t count = 0;
  absl::Time first = absl::InfiniteFuture();
  absl::Time last = absl::InfinitePast();
};

// The reason's group key (see DeadLetterGroup::reason).
std::string ReasonPattern(absl::string_view reason);

// Groups entries by ReasonPattern as they come, keeping only the groups.
class DeadLetterSummarizer {
 public:
  void Add(const DeadLetterEntry& entry);
  // The largest group first (ties by reason).
  std::vector<DeadLetterGroup> Groups() const;

 private:
  absl::flat_hash_map<std::string, DeadLetterGroup> groups_;
};

// `entries` grouped by ReasonPattern, the largest group first (ties by
// reason).
std::vector<DeadLetterGroup> SummarizeDeadLetters(
    const std::vector<DeadLetterEntry>& entries);

// Where the dead letters are, as the dead-letter RPCs reach them: the Redis
// dead-letter stream (DeadLetterQueue) or the Kafka dead-letter topic
// (KafkaDeadLetterQueue). Every call answers through its callback, never
// waiting on the caller's thread; `done` must not block.
class DeadLetterStore {
 public:
  virtual ~DeadLetterStore() = default;

  // The groups of the oldest `max_entries` entries, and how many entries
  // that was.
  struct Summary {
    std::vector<DeadLetterGroup> groups;
    int64_t entries = 0;
    // More entries than max_entries are in the store.
    bool truncated = false;
  };

  struct Replayed {
    int64_t replayed = 0;   // events back on the bus
    int64_t requested = 0;  // entries asked for (found, for ReplayAll)
  };

  using ListCallback =
      absl::AnyInvocable<void(absl::StatusOr<std::vector<DeadLetterEntry>>) &&>;
  using SummaryCallback = absl::AnyInvocable<void(absl::StatusOr<Summary>) &&>;
  using ReplayCallback = absl::AnyInvocable<void(absl::StatusOr<Replayed>) &&>;
  // Asked before each page of a long call: true stops it with CANCELLED
  // (the caller went away; a gRPC handler passes its context's
  // IsCancelled). Must not block.
  using Cancelled = absl::AnyInvocable<bool()>;

  // Up to `count` entries, oldest first, after entry id `after` ("" for
  // the start; an id IsEntryId accepts, which the caller checks).
  virtual void ListAsync(int count, const std::string& after,
                         ListCallback done) = 0;
  // Reads the oldest `max_entries` entries in pages of 500 and groups
  // them; memory holds one page and the groups.
  virtual void SummarizeAsync(int64_t max_entries, SummaryCallback done,
                              Cancelled cancelled = nullptr) = 0;
  // Puts each entry's event back on the bus; entries without an event are
  // left alone, an id asked twice is replayed once. NOT_FOUND naming an id
  // that is not in the store (nothing replayed).
  virtual void ReplayAsync(std::vector<std::string> ids,
                           ReplayCallback done) = 0;
  // Replays every entry there is when it begins, a page of 500 at a time.
  // Cancelled between pages, it stops: the pages before are replayed.
  virtual void ReplayAllAsync(ReplayCallback done,
                              Cancelled cancelled = nullptr) = 0;

  // Whether `id` has the form of an entry id here, and that form in words
  // (for the RPCs' errors).
  virtual bool IsEntryId(absl::string_view id) const = 0;
  virtual std::string EntryIdForm() const = 0;
  // The stream or topic replayed events go to.
  virtual std::string ReplayTarget() const = 0;

  absl::StatusOr<std::vector<DeadLetterEntry>> List(int count,
                                                    const std::string& after);
  absl::StatusOr<Summary> Summarize(int64_t max_entries);
  absl::StatusOr<Replayed> Replay(std::vector<std::string> ids);
  absl::StatusOr<Replayed> ReplayAll();
};

// The dead letters on the Redis dead-letter stream.
class DeadLetterQueue final : public DeadLetterStore {
 public:
  struct Options {
    std::string dead_letter_stream = "oppmatrix:crm-events:dead";
    // Where replayed events go, trimmed as pushes trim it (0: no cap).
    std::string stream = "oppmatrix:crm-events";
    int64_t stream_max_len = 0;
    // Bound of each round trip.
    absl::Duration timeout = absl::Seconds(5);
  };

  // Every call goes through `redis`, which must outlive the queue: the
  // asynchronous calls answer on its loop thread (`done` must not block),
  // the synchronous ones (tools, tests) wait for them.
  DeadLetterQueue(AsyncRedis* redis, Options options);

  // Stream ids.
  void ListAsync(int count, const std::string& after,
                 ListCallback done) override;
  void SummarizeAsync(int64_t max_entries, SummaryCallback done,
                      Cancelled cancelled = nullptr) override;
  // Appends each entry's event to the event stream again and removes the
  // entry, atomically per entry (a refused append leaves the entry), in two
  // round trips.
  void ReplayAsync(std::vector<std::string> ids, ReplayCallback done) override;
  // Events dead-lettered again meanwhile are left for another replay; each
  // entry of the pages done is replayed atomically, the rest stay.
  void ReplayAllAsync(ReplayCallback done,
                      Cancelled cancelled = nullptr) override;
  // "<ms>-<seq>", digits and one '-' only.
  bool IsEntryId(absl::string_view id) const override;
  std::string EntryIdForm() const override {
    return "a dead-letter entry id (\"<ms>-<seq>\", as ListDeadLetters gives)";
  }
  std::string ReplayTarget() const override { return options_.stream; }

  const Options& options() const { return options_; }

 private:
  struct SummaryState;
  struct ReplayAllState;
  // ListAsync up to entry id `until` ("" for the end).
  void ListAsync(int count, const std::string& after, const std::string& until,
                 ListCallback done);
  void SummarizePage(std::shared_ptr<SummaryState> state);
  void ReplayAllPage(std::shared_ptr<ReplayAllState> state);

  AsyncRedis* redis_;
  const Options options_;
};

}  // namespace oppmatrix

#endif  // OPPMATRIX_SERVICES_INGESTION_DEAD_LETTERS_H_
