// Where CRM events come from: a small interface over the event bus, so the
// ingestion pipeline does not know whether it reads a Redis stream or a
// Kafka topic. Delivery is at least once: an event comes back until it is
// acknowledged or dead-lettered.
//
//   absl::StatusOr<std::vector<BusEvent>> batch = source->Read(200, wait);
//   ... store what the events say ...
//   source->Ack(ids);
#ifndef OPPMATRIX_SERVICES_INGESTION_EVENT_SOURCE_H_
#define OPPMATRIX_SERVICES_INGESTION_EVENT_SOURCE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"

namespace oppmatrix {

// One event as the bus delivered it.
struct BusEvent {
  // The bus's id of the entry (a Redis stream id, a Kafka offset).
  std::string id;
  // The event (its JSON, or its binary form), or empty when the entry has
  // none.
  std::string payload;
  // The payload's content type as the entry gives it; empty: JSON.
  std::string content_type;
  // Deliveries so far, this one included.
  int64_t deliveries = 1;
  // The entry's key, where the bus has keys (Kafka: the opportunity).
  std::string key = "";
};

// One partition of a partitioned bus (Kafka) as Stats sees it.
struct PartitionStats {
  int32_t partition = 0;
  // The group's committed offset: the next event it will read (-1: none
  // committed yet).
  int64_t committed = -1;
  // The offset after the partition's last event.
  int64_t high_watermark = 0;
  // Events after the committed offset.
  int64_t lag = 0;
  // Assigned to this replica, and paused by it (its buffer is full).
  bool assigned = false;
  bool paused = false;
};

// What the bus says about the backlog.
struct SourceStats {
  // Events on the bus not yet delivered to this consumer group.
  int64_t lag = 0;
  // Events delivered but not yet acknowledged, across the group.
  int64_t pending = 0;
  // Consumers of the group.
  int64_t consumers = 0;
  // A partitioned bus's partitions, in order; empty for a Redis stream.
  std::vector<PartitionStats> partitions;
  // Rebalances this replica has been through (Kafka).
  int64_t rebalances = 0;
};

class EventSource {
 public:
  virtual ~EventSource() = default;

  // Up to `max` events, waiting up to `wait` when there are none: this
  // consumer's unacknowledged events first (after a restart), then those
  // another consumer left idle too long (it died), then new ones.
  virtual absl::StatusOr<std::vector<BusEvent>> Read(int max,
                                                     absl::Duration wait) = 0;

  // Marks events done; they are not delivered again.
  virtual absl::Status Ack(absl::Span<const std::string> ids) = 0;

  // Appends the event to the dead-letter stream with `reason`, its
  // payload and delivery count, then acknowledges it.
  virtual absl::Status DeadLetter(const BusEvent& event,
                                  absl::string_view reason) = 0;

  // One event to dead-letter, with its reason.
  struct DeadLetterItem {
    const BusEvent* event = nullptr;  // not owned
    std::string reason = "";
  };
  // DeadLetter for each item, each on its own (one failing leaves the
  // others done); a source may send them together. The status of each.
  virtual std::vector<absl::Status> DeadLetterAll(
      absl::Span<const DeadLetterItem> items) {
    std::vector<absl::Status> out;
    out.reserve(items.size());
    for (const DeadLetterItem& item : items) {
      out.push_back(DeadLetter(*item.event, item.reason));
    }
    return out;
  }

  // Tells the bus these delivered events are still being worked on (a
  // retry is waiting), so other consumers don't take them over as
  // abandoned. Does not count as a delivery.
  virtual absl::Status KeepClaimed(absl::Span<const std::string> ids) = 0;
  // Of `ids` (delivered here, not yet acknowledged), those this consumer no
  // longer owns: their partition went to another consumer, which reads them
  // again. A pipeline retrying them lets them go, neither acknowledged nor
  // dead-lettered. The default (a Redis stream, whose events stay claimed):
  // none.
  virtual std::vector<std::string> Released(absl::Span<const std::string>) {
    return {};
  }
  virtual absl::StatusOr<SourceStats> Stats() = 0;

  // Stats with the answer handed to `done` instead of returned, for
  // callers that must not wait (a server's reactors): a source with an
  // asynchronous connection answers from its I/O thread; the default
  // runs Stats() and then `done`. `done` must not block.
  using StatsCallback =
      absl::AnyInvocable<void(absl::StatusOr<SourceStats>) &&>;
  virtual void StatsAsync(StatsCallback done) { std::move(done)(Stats()); }
};

// Where accepted events go: the bus's write side.
class EventSink {
 public:
  virtual ~EventSink() = default;

  // Appends each payload (an event's JSON) as one bus entry, in order, in
  // one round trip. UNAVAILABLE when the bus can't be reached; entries
  // before a failure may have been appended.
  virtual absl::Status Append(absl::Span<const std::string> payloads) = 0;

  // Append, answered as EventSource::StatsAsync is. `payloads` may go
  // away when AppendAsync returns.
  using AppendCallback = absl::AnyInvocable<void(absl::Status) &&>;
  virtual void AppendAsync(std::vector<std::string> payloads,
                           AppendCallback done) {
    std::move(done)(Append(payloads));
  }
};

}  // namespace oppmatrix

#endif  // OPPMATRIX_SERVICES_INGESTION_EVENT_SOURCE_H_
