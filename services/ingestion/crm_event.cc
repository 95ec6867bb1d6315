#include "services/ingestion/crm_event.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/field_mask.pb.h"
#include "google/protobuf/util/field_mask_util.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "google/protobuf/util/time_util.h"
#include "services/common/fast_json.h"
#include "services/common/status_macros.h"
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

// Below it, a mask path is refused: the timestamp is written whole.
constexpr char kInteractionPrefix[] = "relationship.last_interaction_time.";

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
  // simdjson for what it reads as protobuf does (nearly every event);
  // protobuf's own parser for the rest, and for every error message.
  if (FastJsonToMessage(json, &event)) return event;
  event.Clear();
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

absl::StatusOr<v1::CrmEvent> ParseCrmEvent(absl::string_view payload,
                                           absl::string_view content_type) {
  if (content_type.empty() || content_type == kJsonContentType) {
    return ParseCrmEventJson(payload);
  }
  if (content_type != kProtobufContentType &&
      content_type != "application/protobuf") {
    return absl::InvalidArgumentError(absl::StrCat(
        "content_type: \"", absl::CEscape(content_type.substr(0, 64)),
        "\" is not ", kJsonContentType, " or ", kProtobufContentType));
  }
  if (payload.size() > kMaxEventJsonBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "event: at most ", kMaxEventJsonBytes, " bytes, got ", payload.size()));
  }
  v1::CrmEvent event;
  // Proto3 parsing refuses a string field that is not UTF-8 too.
  if (!event.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
    return absl::InvalidArgumentError(
        "event: not a CrmEvent in protobuf's binary format");
  }
  return event;
}

namespace {

// Why `path` is not a mask path of Opportunity ("" when it is), checked
// segment by segment: each one a field of the message the segments before
// it name, and every one but the last a singular message.
std::string MaskPathProblem(absl::string_view path) {
  const google::protobuf::Descriptor* message = v1::Opportunity::descriptor();
  const std::vector<absl::string_view> segments = absl::StrSplit(path, '.');
  for (size_t i = 0; i < segments.size(); ++i) {
    if (message == nullptr) {
      return absl::StrCat(
          "\"", path,
          "\": ", absl::StrJoin(segments.begin(), segments.begin() + i, "."),
          " has no fields");
    }
    const google::protobuf::FieldDescriptor* field =
        segments[i].empty()
            ? nullptr
            : message->FindFieldByName(std::string(segments[i]));
    if (field == nullptr) {
      return absl::StrCat(
          "\"", path, "\" is not a field of Opportunity: ",
          segments[i].empty()
              ? absl::StrCat("segment ", i + 1, " is empty")
              : absl::StrCat("\"", segments[i], "\" is not a field of ",
                             message->name()));
    }
    message =
        field->type() == google::protobuf::FieldDescriptor::TYPE_MESSAGE &&
                !field->is_repeated()
            ? field->message_type()
            : nullptr;
  }
  return "";
}

void ValidateMask(const v1::CrmEvent& event, absl::string_view prefix,
                  std::vector<FieldViolation>& v) {
  for (int i = 0; i < event.update_mask().paths_size(); ++i) {
    const std::string& path = event.update_mask().paths(i);
    std::string field =
        Path(prefix, absl::StrCat("update_mask.paths[", i, "]"));
    if (IsIdentityPath(path)) {
      AddViolation(v, field,
                   absl::StrCat("\"", path, "\" comes from the event"));
    } else if (absl::StartsWith(path, kInteractionPrefix)) {
      // Activities move it: it is one register, not two.
      AddViolation(v, field,
                   "relationship.last_interaction_time is written whole");
    } else if (std::string why = MaskPathProblem(path); !why.empty()) {
      AddViolation(v, field, why);
    }
  }
}

void ValidateUpsert(const v1::CrmEvent& event, absl::string_view prefix,
                    std::vector<FieldViolation>& v) {
  if (!event.has_opportunity()) {
    AddViolation(v, Path(prefix, "opportunity"),
                 "is required for OPPORTUNITY_UPSERTED");
    return;
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
  ValidateMask(event, prefix, v);
  // The content itself (sizes, amounts, enums), identity aside.
  v1::Opportunity check = o;
  check.set_id(event.opportunity_id());
  check.set_tenant_id(event.tenant_id());
  check.set_version(event.version() > 0 ? event.version() : 0);
  ValidateOpportunity(check, Path(prefix, "opportunity"), v);
}

void ValidateActivity(const v1::CrmEvent& event, absl::string_view prefix,
                      std::vector<FieldViolation>& v) {
  if (!event.has_activity()) {
    AddViolation(v, Path(prefix, "activity"),
                 "is required for ACTIVITY_LOGGED");
    return;
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
}

}  // namespace

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
    case v1::OPPORTUNITY_UPSERTED:
      ValidateUpsert(event, prefix, v);
      break;
    case v1::ACTIVITY_LOGGED:
      ValidateActivity(event, prefix, v);
      break;
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

// The relationship signals that activities move and the CRM also writes.
constexpr char kInteractionPath[] = "relationship.last_interaction_time";
constexpr char kChampionPath[] = "relationship.has_champion";
constexpr char kSponsorPath[] = "relationship.executive_sponsor";
constexpr char kMeetingsPath[] = "relationship.meetings_last_90_days";

// `path` is `parent` or below it ("account" covers "account.industry").
bool Covers(absl::string_view parent, absl::string_view path) {
  return absl::StartsWith(path, parent) &&
         (path.size() == parent.size() || path[parent.size()] == '.');
}

// The version of the last write of `path`: the newest of the floor and the
// writes of the path or of a parent path.
int64_t VersionOf(const v1::OpportunitySnapshot& s, absl::string_view path) {
  int64_t version = s.full_version();
  for (const v1::FieldVersion& f : s.field_versions()) {
    if (Covers(f.path(), path)) version = std::max(version, f.version());
  }
  return version;
}

// Writes `path` of `to` from `from`, as a masked upsert of it does.
void CopyPath(const v1::Opportunity& from, const std::string& path,
              v1::Opportunity* to) {
  google::protobuf::FieldMask mask;
  mask.add_paths(path);
  FieldMaskUtil::MergeOptions options;
  options.set_replace_message_fields(true);
  options.set_replace_repeated_fields(true);
  FieldMaskUtil::MergeMessageTo(from, mask, options, to);
}

absl::Time ToTime(const google::protobuf::Timestamp& t) {
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

// What the snapshot records of `version`: nothing (nullopt: not applied,
// or written over since), or the id of an event that applied it. Every
// place that holds the version is looked at: one whose id is
// `event_id`'s wins, then one with an id; empty when none kept its id
// (a snapshot written before ids were kept).
std::optional<std::string> AppliedEventId(const v1::OpportunitySnapshot& s,
                                          int64_t version,
                                          const std::string& event_id) {
  std::optional<std::string> found;
  auto see = [&](int64_t v, const std::string& id) {
    if (v != version) return;
    if (!found.has_value() || found->empty() || id == event_id) found = id;
  };
  see(s.full_version(), s.full_event_id());
  see(s.opportunity().version(), s.last_event_id());
  see(s.champion_version(), s.champion_event_id());
  see(s.executive_version(), s.executive_event_id());
  for (const v1::FieldVersion& f : s.field_versions()) {
    see(f.version(), f.event_id());
  }
  for (const v1::LoggedActivity& a : s.activities()) {
    see(a.version(), a.event_id());
  }
  return found;
}

// The CRM's own signals from `source`, each whose last write is `version`.
void TakeCrmSignals(const v1::Opportunity& source, int64_t version,
                    v1::OpportunitySnapshot& s) {
  const v1::Relationship& r = source.relationship();
  if (VersionOf(s, kInteractionPath) == version) {
    if (r.has_last_interaction_time()) {
      *s.mutable_crm_last_interaction_time() = r.last_interaction_time();
    } else {
      s.clear_crm_last_interaction_time();
    }
  }
  if (VersionOf(s, kChampionPath) == version) {
    s.set_crm_has_champion(r.has_champion());
  }
  if (VersionOf(s, kSponsorPath) == version) {
    s.set_crm_executive_sponsor(r.executive_sponsor());
  }
  if (VersionOf(s, kMeetingsPath) == version) {
    s.set_crm_meetings_last_90_days(r.meetings_last_90_days());
  }
}

// A full upsert (`whole`) or a deletion (nullptr) above the floor becomes
// the floor, under the masked writes newer than it.
void Replace(const v1::Opportunity* whole, int64_t version,
             const std::string& event_id, v1::OpportunitySnapshot& s) {
  const v1::Opportunity nothing;
  const v1::Opportunity& base = whole != nullptr ? *whole : nothing;
  v1::Opportunity next = base;
  auto* fields = s.mutable_field_versions();
  // By path, so a parent comes before its (newer) children.
  for (const v1::FieldVersion& f : *fields) {
    if (f.version() > version) CopyPath(s.opportunity(), f.path(), &next);
  }
  fields->erase(std::remove_if(fields->begin(), fields->end(),
                               [&](const v1::FieldVersion& f) {
                                 return f.version() < version;
                               }),
                fields->end());
  *s.mutable_opportunity() = std::move(next);
  s.set_full_version(version);
  s.set_full_event_id(event_id);
  s.set_full_kind(whole != nullptr ? v1::REPLACEMENT_UPSERT
                                   : v1::REPLACEMENT_DELETION);
  TakeCrmSignals(base, version, s);
}

// Writes one path of a masked upsert whose version is above the path's.
// Newer writes below it keep their values and versions; older ones go.
void WritePath(const v1::Opportunity& from, const std::string& path,
               int64_t version, const std::string& event_id,
               v1::OpportunitySnapshot& s) {
  auto* fields = s.mutable_field_versions();
  std::vector<std::string> newer;
  for (const v1::FieldVersion& f : *fields) {
    if (f.path() != path && Covers(path, f.path()) && f.version() > version) {
      newer.push_back(f.path());
    }
  }
  v1::Opportunity* opp = s.mutable_opportunity();
  if (newer.empty()) {
    CopyPath(from, path, opp);
  } else {
    const v1::Opportunity before = *opp;
    CopyPath(from, path, opp);
    for (const std::string& child : newer) CopyPath(before, child, opp);
  }
  fields->erase(std::remove_if(fields->begin(), fields->end(),
                               [&](const v1::FieldVersion& f) {
                                 return Covers(path, f.path()) &&
                                        f.version() < version;
                               }),
                fields->end());
  const int at =
      std::lower_bound(fields->begin(), fields->end(), path,
                       [](const v1::FieldVersion& f, const std::string& p) {
                         return f.path() < p;
                       }) -
      fields->begin();
  v1::FieldVersion* written = fields->Add();
  written->set_path(path);
  written->set_version(version);
  written->set_event_id(event_id);
  for (int i = fields->size() - 1; i > at; --i) fields->SwapElements(i, i - 1);
}

void WriteMasked(const v1::CrmEvent& event, v1::OpportunitySnapshot& s) {
  // Sorted, without paths a listed parent covers.
  google::protobuf::FieldMask mask;
  FieldMaskUtil::ToCanonicalForm(event.update_mask(), &mask);
  for (const std::string& path : mask.paths()) {
    // An older write loses to a newer one of the path or of a parent.
    if (VersionOf(s, path) < event.version()) {
      WritePath(event.opportunity(), path, event.version(), event.event_id(),
                s);
    }
  }
  TakeCrmSignals(event.opportunity(), event.version(), s);
}

void LogActivity(const v1::CrmEvent& event, v1::OpportunitySnapshot& s) {
  const v1::Activity& a = event.activity();
  auto* activities = s.mutable_activities();
  const int at =
      std::upper_bound(activities->begin(), activities->end(), event.version(),
                       [](int64_t v, const v1::LoggedActivity& l) {
                         return v < l.version();
                       }) -
      activities->begin();
  v1::LoggedActivity* logged = activities->Add();
  logged->set_version(event.version());
  *logged->mutable_occurred_time() = a.occurred_time();
  logged->set_meeting(IsMeeting(a.kind()));
  logged->set_event_id(event.event_id());
  for (int i = activities->size() - 1; i > at; --i) {
    activities->SwapElements(i, i - 1);
  }
  if (a.contact_role() == v1::CHAMPION &&
      event.version() > s.champion_version()) {
    s.set_champion_version(event.version());
    s.set_champion_event_id(event.event_id());
  }
  if (a.contact_role() == v1::EXECUTIVE &&
      event.version() > s.executive_version()) {
    s.set_executive_version(event.version());
    s.set_executive_event_id(event.event_id());
  }
}

// Drops the activities that can no longer change a signal, whatever else
// arrives: those at or below both the interaction's and the meeting
// count's writes, and those a later activity makes moot (no newer than
// it; for a counted meeting, more than 90 days before it).
absl::Status PruneActivities(v1::OpportunitySnapshot& s) {
  const int64_t interaction = VersionOf(s, kInteractionPath);
  const int64_t meetings = VersionOf(s, kMeetingsPath);
  const int64_t cut = std::min(interaction, meetings);
  auto* activities = s.mutable_activities();
  std::optional<absl::Time> later;  // the newest of the later ones
  std::vector<bool> keep(activities->size());
  for (int i = activities->size() - 1; i >= 0; --i) {
    const v1::LoggedActivity& a = activities->Get(i);
    const absl::Time t = ToTime(a.occurred_time());
    if (a.version() <= cut) continue;
    if (a.meeting() && a.version() > meetings) {
      keep[i] = !later.has_value() || *later - t <= kMeetingWindow;
    } else {
      keep[i] = !later.has_value() || t > *later;
    }
    if (!later.has_value() || t > *later) later = t;
  }
  int kept = 0;
  for (int i = 0; i < activities->size(); ++i) {
    if (keep[i]) activities->SwapElements(i, kept++);
  }
  activities->DeleteSubrange(kept, activities->size() - kept);
  if (kept <= kMaxLoggedActivities) return absl::OkStatus();
  std::vector<FieldViolation> v;
  AddViolation(
      v, "activity",
      absl::StrCat("the opportunity would keep ", kept,
                   " activities for late events, more than ",
                   kMaxLoggedActivities, "; a full upsert lets them go"));
  return InvalidArgumentWithViolations("the activity cannot be kept", v);
}

// Sets the relationship's signals, leaving it as it is when they hold
// (so a relationship appears only when something is in it).
void SetSignals(const std::optional<google::protobuf::Timestamp>& interaction,
                bool champion, bool sponsor, int32_t meetings,
                v1::Opportunity& opp) {
  const v1::Relationship& r = opp.relationship();
  if (r.has_champion() == champion && r.executive_sponsor() == sponsor &&
      r.meetings_last_90_days() == meetings &&
      r.has_last_interaction_time() == interaction.has_value() &&
      (!interaction.has_value() ||
       (r.last_interaction_time().seconds() == interaction->seconds() &&
        r.last_interaction_time().nanos() == interaction->nanos()))) {
    return;
  }
  v1::Relationship* m = opp.mutable_relationship();
  m->set_has_champion(champion);
  m->set_executive_sponsor(sponsor);
  m->set_meetings_last_90_days(meetings);
  if (interaction.has_value()) {
    *m->mutable_last_interaction_time() = *interaction;
  } else {
    m->clear_last_interaction_time();
  }
}

// The signals: the CRM's own, with the activities after its last write of
// each applied on top.
void DeriveSignals(v1::OpportunitySnapshot& s) {
  const int64_t interaction_version = VersionOf(s, kInteractionPath);
  std::optional<google::protobuf::Timestamp> interaction;
  if (s.has_crm_last_interaction_time()) {
    interaction = s.crm_last_interaction_time();
  }
  const int64_t meetings_version = VersionOf(s, kMeetingsPath);
  std::optional<absl::Time> newest;  // of the activities since the count
  for (const v1::LoggedActivity& a : s.activities()) {
    const absl::Time t = ToTime(a.occurred_time());
    if (a.version() > interaction_version &&
        (!interaction.has_value() || t > ToTime(*interaction))) {
      interaction = a.occurred_time();
    }
    if (a.version() > meetings_version && (!newest || t > *newest)) {
      newest = t;
    }
  }
  int64_t meetings = s.crm_meetings_last_90_days();
  for (const v1::LoggedActivity& a : s.activities()) {
    if (a.meeting() && a.version() > meetings_version &&
        *newest - ToTime(a.occurred_time()) <= kMeetingWindow) {
      ++meetings;
    }
  }
  if (s.champion_version() <= VersionOf(s, kChampionPath)) {
    s.set_champion_version(0);
    s.clear_champion_event_id();
  }
  if (s.executive_version() <= VersionOf(s, kSponsorPath)) {
    s.set_executive_version(0);
    s.clear_executive_event_id();
  }
  SetSignals(interaction, s.crm_has_champion() || s.champion_version() > 0,
             s.crm_executive_sponsor() || s.executive_version() > 0,
             static_cast<int32_t>(std::min<int64_t>(
                 meetings, std::numeric_limits<int32_t>::max())),
             *s.mutable_opportunity());
}

// Merges an event above the floor into `s`, and recomputes what depends
// on the merge: the signals, the identity, the flags.
absl::Status Merge(const v1::CrmEvent& event, v1::OpportunitySnapshot& s) {
  const int64_t newest = std::max(s.opportunity().version(), event.version());
  switch (event.type()) {
    case v1::OPPORTUNITY_DELETED:
      Replace(nullptr, event.version(), event.event_id(), s);
      break;
    case v1::OPPORTUNITY_UPSERTED:
      if (event.has_update_mask()) {
        WriteMasked(event, s);
      } else {
        Replace(&event.opportunity(), event.version(), event.event_id(), s);
      }
      break;
    case v1::ACTIVITY_LOGGED:
      LogActivity(event, s);
      break;
    default:
      return absl::InvalidArgumentError("type: unknown event type");
  }
  OPPMATRIX_RETURN_IF_ERROR(PruneActivities(s));
  DeriveSignals(s);
  v1::Opportunity* opp = s.mutable_opportunity();
  opp->set_id(event.opportunity_id());
  opp->set_tenant_id(event.tenant_id());
  if (event.version() == newest) s.set_last_event_id(event.event_id());
  opp->set_version(newest);
  // A tombstone until a newer event; partial events over nothing whole
  // wait for a full upsert.
  const bool deleted =
      s.full_kind() == v1::REPLACEMENT_DELETION && newest == s.full_version();
  s.set_deleted(deleted);
  s.set_awaiting_full(!deleted && s.full_kind() != v1::REPLACEMENT_UPSERT);
  return absl::OkStatus();
}

bool IsMasked(const v1::CrmEvent& e) {
  return e.type() == v1::OPPORTUNITY_UPSERTED && e.has_update_mask();
}

// Whether a masked upsert writes any of its paths (the newest version
// always does; an empty mask then only moves the version on).
bool WritesAnyPath(const v1::OpportunitySnapshot& s, const v1::CrmEvent& e) {
  if (e.version() > s.opportunity().version()) return true;
  google::protobuf::FieldMask mask;
  FieldMaskUtil::ToCanonicalForm(e.update_mask(), &mask);
  for (const std::string& path : mask.paths()) {
    if (VersionOf(s, path) < e.version()) return true;
  }
  return false;
}

bool IsLegacy(const v1::OpportunitySnapshot& s) {
  return s.has_legacy_base() || s.legacy_events_size() > 0 ||
         s.legacy_meeting_times_size() > 0;
}

// A snapshot of the old format (a base and up to 32 events after it) in
// the new one: the base is the floor, with its signals taken as the CRM's
// own (its logged meetings are in its count), then its events merged.
absl::StatusOr<v1::OpportunitySnapshot> Upgrade(
    const v1::OpportunitySnapshot& old) {
  v1::OpportunitySnapshot s;
  s.set_revision(old.revision());
  s.set_last_event_id(old.last_event_id());
  const v1::SnapshotBase& base = old.legacy_base();
  if (base.exists()) {
    *s.mutable_opportunity() = base.opportunity();
    s.mutable_opportunity()->set_version(base.version());
    s.set_full_version(base.version());
    s.set_full_kind(base.deleted()         ? v1::REPLACEMENT_DELETION
                    : base.awaiting_full() ? v1::REPLACEMENT_NONE
                                           : v1::REPLACEMENT_UPSERT);
    s.set_deleted(base.deleted());
    s.set_awaiting_full(base.awaiting_full());
    const v1::Relationship& r = base.opportunity().relationship();
    if (r.has_last_interaction_time()) {
      *s.mutable_crm_last_interaction_time() = r.last_interaction_time();
    }
    s.set_crm_has_champion(r.has_champion());
    s.set_crm_executive_sponsor(r.executive_sponsor());
    s.set_crm_meetings_last_90_days(r.meetings_last_90_days());
  }
  for (const v1::CrmEvent& e : old.legacy_events()) {
    if (e.version() <= s.full_version()) continue;
    if (absl::Status merged = Merge(e, s); !merged.ok()) {
      return absl::Status(
          merged.code(),
          absl::StrCat("the stored snapshot (old format) does not upgrade: "
                       "its event ",
                       e.event_id(), ": ", merged.message()));
    }
  }
  return s;
}

}  // namespace

absl::StatusOr<ApplyOutcome> ApplyEvent(
    const std::optional<v1::OpportunitySnapshot>& current,
    const v1::CrmEvent& event) {
  ApplyOutcome out;
  const v1::OpportunitySnapshot* stored = nullptr;
  v1::OpportunitySnapshot upgraded;
  if (current.has_value()) {
    stored = &*current;
    if (IsLegacy(*current)) {
      OPPMATRIX_ASSIGN_OR_RETURN(upgraded, Upgrade(*current));
      stored = &upgraded;
    }
    // A version already applied: the same event again (a duplicate), or
    // another event that reuses it, which cannot be ordered against the
    // first (each version names one event of the opportunity).
    const std::optional<std::string> applied =
        AppliedEventId(*stored, event.version(), event.event_id());
    if (applied.has_value() && !applied->empty() &&
        *applied != event.event_id()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "version: ", event.version(), " was already applied from event \"",
          *applied, "\"; a version names one event of the opportunity"));
    }
    // Stale: a version already applied, at or below the floor, or a masked
    // upsert whose every path has a newer write.
    out.duplicate = applied.has_value();
    if (out.duplicate || event.version() <= stored->full_version() ||
        (IsMasked(event) && !WritesAnyPath(*stored, event))) {
      return out;
    }
  }
  v1::OpportunitySnapshot state;
  if (stored != nullptr) state = *stored;
  OPPMATRIX_RETURN_IF_ERROR(Merge(event, state));
  // A late activity can be moot: older than a later one, or covered by
  // newer CRM writes of the signals.
  if (event.type() == v1::ACTIVITY_LOGGED && stored != nullptr &&
      event.version() < stored->opportunity().version() &&
      google::protobuf::util::MessageDifferencer::Equals(*stored, state)) {
    return out;
  }
  state.set_revision((current ? current->revision() : 0) + 1);
  out.kind = state.deleted() ? ApplyOutcome::Kind::kDeleted
                             : ApplyOutcome::Kind::kUpdated;
  if (out.kind == ApplyOutcome::Kind::kUpdated && !state.awaiting_full()) {
    std::vector<FieldViolation> v;
    ValidateOpportunity(state.opportunity(), "opportunity", v);
    if (!v.empty()) {
      return InvalidArgumentWithViolations("the merged opportunity is invalid",
                                           v);
    }
  }
  out.snapshot = std::move(state);
  return out;
}

}  // namespace oppmatrix
