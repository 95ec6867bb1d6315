// CRM events: parsing from the bus's JSON, validation with field paths, and
// applying an event to an opportunity's snapshot. Pure functions: no Redis,
// no gRPC, no clock.
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

// Largest event JSON accepted, in bytes.
inline constexpr size_t kMaxEventJsonBytes = 64 * 1024;
// Events kept after a snapshot's base, for late ones to be ordered in.
inline constexpr int kMaxEventLog = 32;
// Meetings count towards meetings_last_90_days for this long.
inline constexpr absl::Duration kMeetingWindow = absl::Hours(24 * 90);

// Proto3 canonical JSON (what protobuf's JSON mapping prints) to a
// CrmEvent. INVALID_ARGUMENT saying what does not parse; unknown fields
// are rejected.
absl::StatusOr<v1::CrmEvent> ParseCrmEventJson(absl::string_view json);

// One violation per problem of `event`, paths starting at `prefix` (e.g.
// "events[3]"; empty for none).
void ValidateCrmEvent(const v1::CrmEvent& event, absl::string_view prefix,
                      std::vector<FieldViolation>& violations);

// INVALID_ARGUMENT with BadRequest details when the event is invalid.
absl::Status CheckCrmEvent(const v1::CrmEvent& event);

struct ApplyOutcome {
  enum class Kind {
    kStale,    // version not above the stored one: nothing changes
    kUpdated,  // `snapshot` is the new state, to store and classify
    kDeleted,  // `snapshot` is the tombstone; drop the result
  };
  Kind kind = Kind::kStale;
  v1::OpportunitySnapshot snapshot;
};

// Applies a validated event to the current snapshot (nullopt: none yet):
// the result is the snapshot's base with all its events, this one
// included, applied in version order, so the order events arrive in does
// not matter. Stale (a duplicate version, or at or below the base) changes
// nothing. The new snapshot's `revision` is one above the current's.
// INVALID_ARGUMENT when the merged opportunity is invalid (e.g. a mask
// that clears the amount's currency but keeps its units).
absl::StatusOr<ApplyOutcome> ApplyEvent(
    const std::optional<v1::OpportunitySnapshot>& current,
    const v1::CrmEvent& event);

}  // namespace oppmatrix

#endif  // OPPMATRIX_SERVICES_INGESTION_CRM_EVENT_H_
