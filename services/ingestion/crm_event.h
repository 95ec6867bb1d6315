// CRM events: parsing from the bus's JSON, validation with field paths, and
// applying an event to an opportunity's snapshot. Pure functions: no Redis,
// no gRPC, no clock.
//
// A snapshot is what applying all of an opportunity's events in version
// order gives, whatever order they arrive in, without a log of them: each
// field path is a last-writer-wins register by event version (see
// OpportunitySnapshot in proto/oppmatrix/v1/snapshot.proto).
//
//   absl::StatusOr<v1::CrmEvent> e = ParseCrmEventJson(entry["event"]);
//   absl::StatusOr<ApplyOutcome> out = ApplyEvent(current_snapshot, *e);
#ifndef OPPMATRIX_SERVICES_INGESTION_CRM_EVENT_H_
#define OPPMATRIX_SERVICES_INGESTION_CRM_EVENT_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "oppmatrix/v1/crm_event.pb.h"
#include "oppmatrix/v1/snapshot.pb.h"
#include "services/common/status_util.h"

namespace oppmatrix {

// Largest event accepted (its JSON, or its binary form), in bytes.
inline constexpr size_t kMaxEventJsonBytes = 64 * 1024;
// Activities a snapshot keeps for the signals they can still change (the
// meetings within 90 days of a later activity, and those logged after a
// newer one). An activity that would keep more is refused (INVALID_ARGUMENT,
// so the ingestor dead-letters it); a full upsert, or a write of the
// signals they feed, lets them go.
inline constexpr int kMaxLoggedActivities = 512;
// Meetings count towards meetings_last_90_days for this long.
inline constexpr absl::Duration kMeetingWindow = absl::Hours(24 * 90);

// Proto3 canonical JSON (what protobuf's JSON mapping prints) to a
// CrmEvent. INVALID_ARGUMENT saying what does not parse; unknown fields
// are rejected.
absl::StatusOr<v1::CrmEvent> ParseCrmEventJson(absl::string_view json);

// The content types a bus entry's event may have (its `content_type`
// field; none means JSON).
inline constexpr char kJsonContentType[] = "application/json";
inline constexpr char kProtobufContentType[] = "application/x-protobuf";

// A bus entry's event in its content type: JSON (kJsonContentType, or
// empty) as ParseCrmEventJson, or a CrmEvent in protobuf's binary format
// (kProtobufContentType, also "application/protobuf"), at most
// kMaxEventJsonBytes either way. INVALID_ARGUMENT saying what does not
// parse, or naming an unknown content type.
absl::StatusOr<v1::CrmEvent> ParseCrmEvent(absl::string_view payload,
                                           absl::string_view content_type);

// One violation per problem of `event`, paths starting at `prefix` (e.g.
// "events[3]"; empty for none).
void ValidateCrmEvent(const v1::CrmEvent& event, absl::string_view prefix,
                      std::vector<FieldViolation>& violations);

// INVALID_ARGUMENT with BadRequest details when the event is invalid.
absl::Status CheckCrmEvent(const v1::CrmEvent& event);

struct ApplyOutcome {
  enum class Kind {
    kStale,    // the event changes nothing; `snapshot` is empty
    kUpdated,  // `snapshot` is the new state, to store and classify
    kDeleted,  // `snapshot` is the tombstone; drop the result
  };
  Kind kind = Kind::kStale;
  // With kStale: the event's version is one the snapshot holds as applied
  // (a redelivery), rather than older than everything it would write.
  bool duplicate = false;
  v1::OpportunitySnapshot snapshot;
};

// Applies a validated event to the current snapshot (nullopt: none yet).
// The result is the state all the events applied so far, this one
// included, give in version order, whatever order they arrived in:
//   - any event at or below the last full upsert or deletion is stale
//     (that one wrote every field);
//   - a masked upsert writes each of its paths whose stored version is
//     older (a parent path's version covers its children; a newer child
//     keeps its own value under an older parent's write);
//   - an activity adds to the signals unless a newer CRM write of them
//     covers it.
// Stale: the event changes nothing (`duplicate` when its version was
// applied before, by this event). An event that reuses a version applied
// by another event id is INVALID_ARGUMENT ("version: 3 was already applied
// from event ..."), to be dead-lettered: the two cannot be ordered. A snapshot
// in the old format (a base and an event log) is folded into the new one first.
// The new snapshot's `revision` is one above the current's. INVALID_ARGUMENT
// when the merged opportunity is invalid (e.g. `amount.units` from one event
// and a negative `amount.nanos` from another) or an activity would keep more
// than kMaxLoggedActivities.
absl::StatusOr<ApplyOutcome> ApplyEvent(
    const std::optional<v1::OpportunitySnapshot>& current,
    const v1::CrmEvent& event);

}  // namespace oppmatrix

#endif  // OPPMATRIX_SERVICES_INGESTION_CRM_EVENT_H_
