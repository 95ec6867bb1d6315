// Reading and replaying the dead-letter stream: what operators do after
// fixing whatever made events fail (a ruleset, a classifier bug, a
// producer sending bad data).
//
//   DeadLetterQueue dlq(&pool, {});
//   auto entries = dlq.List(20);
//   auto replayed = dlq.Replay({entries->front().id});
#ifndef OPPMATRIX_SERVICES_INGESTION_DEAD_LETTERS_H_
#define OPPMATRIX_SERVICES_INGESTION_DEAD_LETTERS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "services/store/redis_client.h"

namespace oppmatrix {

struct DeadLetterEntry {
  std::string id;     // in the dead-letter stream
  std::string event;  // the original payload (may be empty)
  std::string reason;
  int64_t deliveries = 0;
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

// `entries` grouped by ReasonPattern, the largest group first (ties by
// reason).
std::vector<DeadLetterGroup> SummarizeDeadLetters(
    const std::vector<DeadLetterEntry>& entries);

class DeadLetterQueue {
 public:
  struct Options {
    std::string dead_letter_stream = "oppmatrix:crm-events:dead";
    // Where replayed events go.
    std::string stream = "oppmatrix:crm-events";
    absl::Duration timeout = absl::Seconds(5);
  };

  // `pool` must outlive the queue.
  DeadLetterQueue(RedisPool* pool, Options options);

  // Up to `count` entries, oldest first, after entry id `after` ("" for
  // the start).
  absl::StatusOr<std::vector<DeadLetterEntry>> List(int count,
                                                    const std::string& after);

  // Appends each entry's event to the event stream again and removes the
  // entry; entries without an event are left alone. NOT_FOUND naming an
  // id that is not in the stream. Returns how many were replayed.
  absl::StatusOr<int> Replay(absl::Span<const std::string> ids);

  // The groups of the oldest `max_entries` entries (read in pages), and
  // how many entries that was.
  struct Summary {
    std::vector<DeadLetterGroup> groups;
    int64_t entries = 0;
    // More entries than max_entries are in the stream.
    bool truncated = false;
  };
  absl::StatusOr<Summary> Summarize(int64_t max_entries);

 private:
  RedisPool* pool_;
  const Options options_;
};

}  // namespace oppmatrix

#endif  // OPPMATRIX_SERVICES_INGESTION_DEAD_LETTERS_H_
