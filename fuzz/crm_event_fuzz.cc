// Fuzzes the path a CRM event takes through ingestion: ParseCrmEventJson,
// CheckCrmEvent, then ApplyEvent onto the snapshot of its opportunity. The
// input is JSONL, one event per line (up to kMaxEvents), applied in order
// to per-opportunity snapshots built by the lines before. Checked for every
// event, beyond "no crash and no sanitizer report":
//   - the simdjson fast path (FastJsonToMessage) accepts only what
//     protobuf's own JSON parser accepts, and gives the same message;
//   - errors are INVALID_ARGUMENT, and a rejected event names its fields;
//   - applying is deterministic (the same snapshot, byte for byte, twice);
//   - an applied event bumps the revision by one, a second copy of it is
//     stale, and kDeleted is exactly a tombstone;
//   - an updated snapshot that is not awaiting a full upsert holds a valid
//     opportunity with the event's identity and a version at least its;
//   - every string in the snapshot is UTF-8 and it survives the store's
//     binary round trip.
// Then, per opportunity whose valid events all applied, each version
// naming one event: the events in version order, and in reverse, give the
// same opportunity (ApplyEvent's "whatever order they arrived in").
#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "fuzz/fuzz_util.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "services/common/fast_json.h"
#include "services/engine/opportunity_validator.h"
#include "services/ingestion/crm_event.h"

namespace oppmatrix {
namespace {

// Events read from one input; more only slow each run down.
constexpr size_t kMaxEvents = 64;
// Opportunities with more events than this skip the order check: it
// replays them twice more, and this stays below any bound a snapshot keeps.
constexpr size_t kMaxOrderCheckedEvents = 16;

using Key = std::pair<std::string, std::string>;  // tenant, opportunity

struct History {
  std::optional<v1::OpportunitySnapshot> snapshot;
  // The valid events with a version not seen before, in arrival order.
  std::vector<v1::CrmEvent> events;
  // False once an event was refused (so the orders may differ).
  bool all_applied = true;
  // Two different events with the same version: "version order" does not
  // say which comes first, so the orders may differ.
  bool version_reused = false;
};

// What the fast path reads, protobuf reads the same.
void CheckFastPath(absl::string_view line) {
  v1::CrmEvent fast;
  if (!FastJsonToMessage(line, &fast)) return;
  v1::CrmEvent slow;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto parsed = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(line.data(), line.size()), &slow, options);
  FUZZ_CHECK(parsed.ok(), "fast path took what protobuf refuses: %s",
             std::string(parsed.message()).c_str());
  FUZZ_CHECK(google::protobuf::util::MessageDifferencer::Equals(fast, slow),
             "fast %s\nslow %s", fast.ShortDebugString().c_str(),
             slow.ShortDebugString().c_str());
}

void CheckSnapshot(const ApplyOutcome& out, const v1::CrmEvent& event,
                   const std::optional<v1::OpportunitySnapshot>& before) {
  const v1::OpportunitySnapshot& s = out.snapshot;
  FUZZ_CHECK(s.revision() == (before ? before->revision() : 0) + 1);
  FUZZ_CHECK((out.kind == ApplyOutcome::Kind::kDeleted) == s.deleted());
  FUZZ_CHECK(fuzz::AllStringsUtf8(s));
  v1::OpportunitySnapshot reread;
  FUZZ_CHECK(reread.ParseFromString(fuzz::Bytes(s)));
  FUZZ_CHECK(fuzz::Bytes(reread) == fuzz::Bytes(s));
  if (out.kind != ApplyOutcome::Kind::kUpdated || s.awaiting_full()) return;
  const v1::Opportunity& o = s.opportunity();
  FUZZ_CHECK(o.id() == event.opportunity_id());
  FUZZ_CHECK(o.tenant_id() == event.tenant_id());
  FUZZ_CHECK(o.version() >= event.version(), "%lld < %lld",
             static_cast<long long>(o.version()),
             static_cast<long long>(event.version()));
  std::vector<FieldViolation> violations;
  ValidateOpportunity(o, "opportunity", violations);
  FUZZ_CHECK(violations.empty(), "%s: %s", violations[0].field().c_str(),
             violations[0].description().c_str());
}

// Applies `event` to `h`, checking the outcome.
void Apply(History& h, const v1::CrmEvent& event) {
  absl::StatusOr<ApplyOutcome> out = ApplyEvent(h.snapshot, event);
  absl::StatusOr<ApplyOutcome> again = ApplyEvent(h.snapshot, event);
  FUZZ_CHECK(out.ok() == again.ok());
  if (!out.ok()) {
    FUZZ_CHECK(out.status().code() == absl::StatusCode::kInvalidArgument, "%s",
               out.status().ToString().c_str());
    FUZZ_CHECK(out.status() == again.status());
    h.all_applied = false;
    return;
  }
  FUZZ_CHECK(out->kind == again->kind);
  if (out->kind == ApplyOutcome::Kind::kStale) return;
  FUZZ_CHECK(fuzz::Bytes(out->snapshot) == fuzz::Bytes(again->snapshot));
  CheckSnapshot(*out, event, h.snapshot);
  h.snapshot = std::move(out->snapshot);
  absl::StatusOr<ApplyOutcome> duplicate = ApplyEvent(h.snapshot, event);
  FUZZ_CHECK(duplicate.ok() && duplicate->kind == ApplyOutcome::Kind::kStale,
             "a second copy of an applied event was not stale");
}

// The opportunity after `events` applied one by one in this order; nullopt
// when one of them is refused.
std::optional<v1::OpportunitySnapshot> Replay(
    const std::vector<v1::CrmEvent>& events) {
  std::optional<v1::OpportunitySnapshot> s;
  for (const v1::CrmEvent& e : events) {
    absl::StatusOr<ApplyOutcome> out = ApplyEvent(s, e);
    if (!out.ok()) return std::nullopt;
    if (out->kind != ApplyOutcome::Kind::kStale) s = std::move(out->snapshot);
  }
  return s;
}

// What of a snapshot must not depend on the arrival order (the last event
// id and the revision do, by design).
std::string State(const v1::OpportunitySnapshot& s) {
  return fuzz::Bytes(s.opportunity()) + (s.deleted() ? "D" : "-") +
         (s.awaiting_full() ? "A" : "-");
}

void CheckOrderIndependence(const History& h) {
  if (!h.all_applied || h.version_reused || h.events.size() < 2 ||
      h.events.size() > kMaxOrderCheckedEvents || !h.snapshot) {
    return;
  }
  std::vector<v1::CrmEvent> by_version = h.events;
  std::sort(by_version.begin(), by_version.end(),
            [](const v1::CrmEvent& a, const v1::CrmEvent& b) {
              return a.version() < b.version();
            });
  std::optional<v1::OpportunitySnapshot> ascending = Replay(by_version);
  std::reverse(by_version.begin(), by_version.end());
  std::optional<v1::OpportunitySnapshot> descending = Replay(by_version);
  const std::string arrived = State(*h.snapshot);
  if (ascending) {
    FUZZ_CHECK(State(*ascending) == arrived,
               "version order gives another opportunity than arrival order");
  }
  if (descending) {
    FUZZ_CHECK(State(*descending) == arrived,
               "reverse order gives another opportunity than arrival order");
  }
}

}  // namespace
}  // namespace oppmatrix

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace oppmatrix;
  std::map<Key, History> histories;
  size_t read = 0;
  for (absl::string_view line : fuzz::Lines(fuzz::Text(data, size))) {
    if (++read > kMaxEvents) break;
    CheckFastPath(line);
    absl::StatusOr<v1::CrmEvent> event = ParseCrmEventJson(line);
    if (!event.ok()) {
      FUZZ_CHECK(event.status().code() == absl::StatusCode::kInvalidArgument);
      continue;
    }
    absl::Status valid = CheckCrmEvent(*event);
    if (!valid.ok()) {
      FUZZ_CHECK(valid.code() == absl::StatusCode::kInvalidArgument);
      FUZZ_CHECK(!GetFieldViolations(valid).empty(), "%s",
                 valid.ToString().c_str());
      continue;
    }
    History& h = histories[{event->tenant_id(), event->opportunity_id()}];
    auto seen = std::find_if(
        h.events.begin(), h.events.end(),
        [&](const v1::CrmEvent& e) { return e.version() == event->version(); });
    if (seen == h.events.end()) {
      h.events.push_back(*event);
    } else if (fuzz::Bytes(*seen) != fuzz::Bytes(*event)) {
      h.version_reused = true;
    }
    Apply(h, *event);
  }
  for (const auto& [key, history] : histories) {
    CheckOrderIndependence(history);
  }
  return 0;
}
