#include "services/ingestion/crm_event.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/field_mask_util.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"
#include "services/engine/opportunity_validator.h"

namespace oppmatrix {
namespace {

using google::protobuf::util::FieldMaskUtil;
using google::protobuf::util::TimeUtil;

std::string Path(absl::string_view prefix, absl::string_view field) {
  return prefix.empty() ? std::string(field) : absl::StrCat(prefix, ".", field);
}

bool ValidTime(const google::protobuf::Timestamp& t) {
  return t.seconds() >= TimeUtil::kTimestampMinSeconds &&
         t.seconds() <= TimeUtil::kTimestampMaxSeconds && t.nanos() >= 0 &&
         t.nanos() <= 999999999;
}

bool IsMeeting(v1::ActivityKind kind) {
  return kind == v1::MEETING || kind == v1::VISIT || kind == v1::DEMO;
}

// Paths a mask may not name: the identity is the event's.
bool IsIdentityPath(const std::string& path) {
  return path == "id" || path == "tenant_id" || path == "version";
}

}  // namespace

absl::StatusOr<v1::CrmEvent> ParseCrmEventJson(absl::string_view json) {
  if (json.size() > kMaxEventJsonBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("event: at most ", kMaxEventJsonBytes,
                     " bytes of JSON, got ", json.size()));
  }
  v1::CrmEvent event;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto parsed = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), &event, options);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "event: not a CrmEvent in JSON: ",
        absl::string_view(parsed.message().data(), parsed.message().size())));
  }
  return event;
}

void ValidateCrmEvent(const v1::CrmEvent& event, absl::string_view prefix,
                      std::vector<FieldViolation>& v) {
  ValidateRequiredId(event.event_id(), Path(prefix, "event_id"), v);
  ValidateTenantId(event.tenant_id(), Path(prefix, "tenant_id"), v);
  ValidateRequiredId(event.opportunity_id(), Path(prefix, "opportunity_id"), v);
  if (event.version() <= 0) {
    AddViolation(v, Path(prefix, "version"),
                 absl::StrCat("must be positive, got ", event.version()));
  }
  if (event.has_occurred_time() && !ValidTime(event.occurred_time())) {
    AddViolation(v, Path(prefix, "occurred_time"),
                 "must be a valid timestamp between years 1 and 9999");
  }
  switch (event.type()) {
    case v1::OPPORTUNITY_UPSERTED: {
      if (!event.has_opportunity()) {
        AddViolation(v, Path(prefix, "opportunity"),
                     "is required for OPPORTUNITY_UPSERTED");
        break;
      }
      const v1::Opportunity& o = event.opportunity();
      if (!o.id().empty() && o.id() != event.opportunity_id()) {
        AddViolation(v, Path(prefix, "opportunity.id"),
                     "must be empty or equal opportunity_id");
      }
      if (!o.tenant_id().empty() && o.tenant_id() != event.tenant_id()) {
        AddViolation(v, Path(prefix, "opportunity.tenant_id"),
                     "must be empty or equal tenant_id");
      }
      for (int i = 0; i < event.update_mask().paths_size(); ++i) {
        const std::string& path = event.update_mask().paths(i);
        std::string field =
            Path(prefix, absl::StrCat("update_mask.paths[", i, "]"));
        if (IsIdentityPath(path)) {
          AddViolation(v, field,
                       absl::StrCat("\"", path, "\" comes from the event"));
        } else if (!FieldMaskUtil::GetFieldDescriptors(
                       v1::Opportunity::descriptor(), path, nullptr)) {
          AddViolation(
              v, field,
              absl::StrCat("\"", path, "\" is not a field of Opportunity"));
        }
      }
      // The content itself (sizes, amounts, enums), identity aside.
      v1::Opportunity check = o;
      check.set_id(event.opportunity_id());
      check.set_tenant_id(event.tenant_id());
      check.set_version(event.version() > 0 ? event.version() : 0);
      ValidateOpportunity(check, Path(prefix, "opportunity"), v);
      break;
    }
    case v1::ACTIVITY_LOGGED: {
      if (!event.has_activity()) {
        AddViolation(v, Path(prefix, "activity"),
                     "is required for ACTIVITY_LOGGED");
        break;
      }
      const v1::Activity& a = event.activity();
      if (a.kind() == v1::ACTIVITY_KIND_UNSPECIFIED ||
          !v1::ActivityKind_IsValid(a.kind())) {
        AddViolation(v, Path(prefix, "activity.kind"),
                     absl::StrCat("must be MEETING, CALL, EMAIL, VISIT or "
                                  "DEMO, got ",
                                  static_cast<int>(a.kind())));
      }
      if (!v1::ContactRole_IsValid(a.contact_role())) {
        AddViolation(v, Path(prefix, "activity.contact_role"),
                     absl::StrCat("unknown enum value ",
                                  static_cast<int>(a.contact_role())));
      }
      if (!a.has_occurred_time()) {
        AddViolation(v, Path(prefix, "activity.occurred_time"), "is required");
      } else if (!ValidTime(a.occurred_time())) {
        AddViolation(v, Path(prefix, "activity.occurred_time"),
                     "must be a valid timestamp between years 1 and 9999");
      }
      break;
    }
    case v1::OPPORTUNITY_DELETED:
      break;
    default:
      AddViolation(v, Path(prefix, "type"),
                   absl::StrCat("must be OPPORTUNITY_UPSERTED, "
                                "OPPORTUNITY_DELETED or ACTIVITY_LOGGED, got ",
                                static_cast<int>(event.type())));
  }
}

absl::Status CheckCrmEvent(const v1::CrmEvent& event) {
  std::vector<FieldViolation> v;
  ValidateCrmEvent(event, "", v);
  if (v.empty()) return absl::OkStatus();
  return InvalidArgumentWithViolations("invalid event", v);
}

namespace {

// The state after one event on top of `current` (nullopt: nothing yet).
// Only the state fields of the snapshot are set.
absl::StatusOr<ApplyOutcome> ApplyOne(
    const std::optional<v1::OpportunitySnapshot>& current,
    const v1::CrmEvent& event) {
  ApplyOutcome out;
  // A tombstone is a fresh start for a newer upsert or activity.
  const bool fresh = !current.has_value() || current->deleted();
  if (!fresh) out.snapshot = *current;
  v1::Opportunity* opp = out.snapshot.mutable_opportunity();
  out.snapshot.set_deleted(false);
  // Partial events with nothing whole beneath them wait for a full upsert.
  if (fresh) out.snapshot.set_awaiting_full(true);
  // meetings_last_90_days: the CRM's count plus the meetings logged since.
  auto recount = [&] {
    opp->mutable_relationship()->set_meetings_last_90_days(
        out.snapshot.crm_meetings_last_90_days() +
        out.snapshot.meeting_times_size());
  };
  // The CRM gives its own count: it covers every meeting so far.
  auto take_crm_count = [&] {
    out.snapshot.set_crm_meetings_last_90_days(
        opp->relationship().meetings_last_90_days());
    out.snapshot.clear_meeting_times();
  };
  switch (event.type()) {
    case v1::OPPORTUNITY_DELETED:
      out.kind = ApplyOutcome::Kind::kDeleted;
      out.snapshot.Clear();
      out.snapshot.set_deleted(true);
      opp = out.snapshot.mutable_opportunity();
      break;
    case v1::OPPORTUNITY_UPSERTED:
      out.kind = ApplyOutcome::Kind::kUpdated;
      if (event.has_update_mask()) {
        FieldMaskUtil::MergeOptions options;
        options.set_replace_message_fields(true);
        options.set_replace_repeated_fields(true);
        FieldMaskUtil::MergeMessageTo(event.opportunity(), event.update_mask(),
                                      options, opp);
        bool gives_count = false;
        for (const std::string& path : event.update_mask().paths()) {
          gives_count |= path == "relationship" ||
                         path == "relationship.meetings_last_90_days";
        }
        if (gives_count) take_crm_count();
        recount();
      } else {
        *opp = event.opportunity();
        out.snapshot.set_awaiting_full(false);
        take_crm_count();
      }
      break;
    case v1::ACTIVITY_LOGGED: {
      out.kind = ApplyOutcome::Kind::kUpdated;
      const v1::Activity& a = event.activity();
      v1::Relationship* r = opp->mutable_relationship();
      if (!r->has_last_interaction_time() ||
          TimeUtil::TimestampToNanoseconds(a.occurred_time()) >
              TimeUtil::TimestampToNanoseconds(r->last_interaction_time())) {
        *r->mutable_last_interaction_time() = a.occurred_time();
      }
      if (a.contact_role() == v1::CHAMPION) r->set_has_champion(true);
      if (a.contact_role() == v1::EXECUTIVE) r->set_executive_sponsor(true);
      if (IsMeeting(a.kind())) {
        *out.snapshot.add_meeting_times() = a.occurred_time();
      }
      // Keep the logged meetings within the window of the newest
      // interaction.
      const int64_t newest =
          TimeUtil::TimestampToNanoseconds(r->last_interaction_time());
      const int64_t window = absl::ToInt64Nanoseconds(kMeetingWindow);
      auto* times = out.snapshot.mutable_meeting_times();
      times->erase(
          std::remove_if(times->begin(), times->end(),
                         [&](const google::protobuf::Timestamp& t) {
                           return newest - TimeUtil::TimestampToNanoseconds(t) >
                                  window;
                         }),
          times->end());
      recount();
      break;
    }
    default:
      return absl::InvalidArgumentError("type: unknown event type");
  }
  opp->set_id(event.opportunity_id());
  opp->set_tenant_id(event.tenant_id());
  opp->set_version(event.version());
  out.snapshot.set_last_event_id(event.event_id());
  if (out.kind == ApplyOutcome::Kind::kUpdated &&
      !out.snapshot.awaiting_full()) {
    std::vector<FieldViolation> v;
    ValidateOpportunity(*opp, "opportunity", v);
    if (!v.empty()) {
      return InvalidArgumentWithViolations("the merged opportunity is invalid",
                                           v);
    }
  }
  return out;
}

bool IsReplacement(const v1::CrmEvent& e) {
  return e.type() == v1::OPPORTUNITY_DELETED ||
         (e.type() == v1::OPPORTUNITY_UPSERTED && !e.has_update_mask());
}

std::optional<v1::OpportunitySnapshot> FromBase(const v1::SnapshotBase& b) {
  if (!b.exists()) return std::nullopt;
  v1::OpportunitySnapshot s;
  *s.mutable_opportunity() = b.opportunity();
  *s.mutable_meeting_times() = b.meeting_times();
  s.set_deleted(b.deleted());
  s.set_crm_meetings_last_90_days(b.crm_meetings_last_90_days());
  s.set_awaiting_full(b.awaiting_full());
  return s;
}

v1::SnapshotBase ToBase(const v1::OpportunitySnapshot& s, int64_t version) {
  v1::SnapshotBase b;
  b.set_exists(true);
  b.set_version(version);
  *b.mutable_opportunity() = s.opportunity();
  *b.mutable_meeting_times() = s.meeting_times();
  b.set_deleted(s.deleted());
  b.set_crm_meetings_last_90_days(s.crm_meetings_last_90_days());
  b.set_awaiting_full(s.awaiting_full());
  return b;
}

}  // namespace

absl::StatusOr<ApplyOutcome> ApplyEvent(
    const std::optional<v1::OpportunitySnapshot>& current,
    const v1::CrmEvent& event) {
  ApplyOutcome out;
  v1::SnapshotBase base;
  std::vector<v1::CrmEvent> events;
  if (current.has_value()) {
    base = current->base();
    events.assign(current->events().begin(), current->events().end());
  }
  // Stale: at or below the base, or a version already applied.
  if (event.version() <= base.version() ||
      std::any_of(events.begin(), events.end(), [&](const v1::CrmEvent& e) {
        return e.version() == event.version();
      })) {
    out.kind = ApplyOutcome::Kind::kStale;
    return out;
  }
  events.insert(
      std::upper_bound(events.begin(), events.end(), event,
                       [](const v1::CrmEvent& a, const v1::CrmEvent& b) {
                         return a.version() < b.version();
                       }),
      event);
  // The last full replacement is the new base: nothing before it matters.
  for (size_t k = events.size(); k-- > 0;) {
    if (!IsReplacement(events[k])) continue;
    absl::StatusOr<ApplyOutcome> replaced = ApplyOne(std::nullopt, events[k]);
    if (!replaced.ok()) return replaced.status();
    base = ToBase(replaced->snapshot, events[k].version());
    events.erase(events.begin(), events.begin() + k + 1);
    break;
  }
  // Keep the log bounded: the oldest events join the base.
  std::optional<v1::OpportunitySnapshot> state = FromBase(base);
  while (static_cast<int>(events.size()) > kMaxEventLog) {
    absl::StatusOr<ApplyOutcome> folded = ApplyOne(state, events.front());
    if (!folded.ok()) return folded.status();
    state = std::move(folded->snapshot);
    base = ToBase(*state, events.front().version());
    events.erase(events.begin());
  }
  std::string last_event_id = current ? current->last_event_id() : "";
  for (const v1::CrmEvent& e : events) {
    absl::StatusOr<ApplyOutcome> next = ApplyOne(state, e);
    if (!next.ok()) return next.status();
    state = std::move(next->snapshot);
  }
  if (state.has_value()) out.snapshot = *std::move(state);
  // The identity of the newest event applied.
  int64_t newest = std::max(
      base.version(), events.empty() ? int64_t{0} : events.back().version());
  if (current.has_value()) {
    newest = std::max(newest, current->opportunity().version());
  }
  out.snapshot.mutable_opportunity()->set_version(newest);
  out.snapshot.set_last_event_id(event.event_id());
  *out.snapshot.mutable_base() = std::move(base);
  for (v1::CrmEvent& e : events) *out.snapshot.add_events() = std::move(e);
  out.snapshot.set_revision((current ? current->revision() : 0) + 1);
  out.kind = out.snapshot.deleted() ? ApplyOutcome::Kind::kDeleted
                                    : ApplyOutcome::Kind::kUpdated;
  return out;
}

}  // namespace oppmatrix
