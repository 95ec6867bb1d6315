// CRM events: JSON parsing, validation with field paths, and applying
// events to snapshots (full and partial upserts, stale and duplicate
// versions, deletion tombstones, activities, field path precedence,
// old-format snapshots), and the property that any arrival order gives
// the state of version order.
#include "services/ingestion/crm_event.h"

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "google/protobuf/field_mask.pb.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/field_mask_util.h"
#include "gtest/gtest.h"
#include "services/common/hash_util.h"

namespace oppmatrix {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

v1::CrmEvent Event(const std::string& text) {
  v1::CrmEvent e;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(
      R"pb(event_id: "e" tenant_id: "acme" opportunity_id: "opp-1")pb" + text,
      &e))
      << text;
  return e;
}

std::vector<std::string> Fields(const v1::CrmEvent& e) {
  std::vector<FieldViolation> v;
  ValidateCrmEvent(e, "", v);
  std::vector<std::string> out;
  for (const auto& f : v) out.push_back(f.field());
  return out;
}

v1::OpportunitySnapshot Apply(const std::optional<v1::OpportunitySnapshot>& s,
                              const v1::CrmEvent& e) {
  absl::StatusOr<ApplyOutcome> out = ApplyEvent(s, e);
  EXPECT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->kind, ApplyOutcome::Kind::kUpdated);
  return out->snapshot;
}

// A masked upsert of `paths` at `version`, its values from `opportunity`.
v1::CrmEvent Masked(int64_t version, const std::string& opportunity,
                    const std::vector<std::string>& paths) {
  v1::CrmEvent e = Event("type: OPPORTUNITY_UPSERTED");
  e.set_version(version);
  e.set_event_id(absl::StrCat("e", version));
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(
      opportunity, e.mutable_opportunity()))
      << opportunity;
  e.mutable_update_mask();
  for (const std::string& p : paths) e.mutable_update_mask()->add_paths(p);
  return e;
}

v1::CrmEvent Activity(int64_t version, const std::string& kind,
                      const std::string& role, int64_t at) {
  v1::CrmEvent e = Event(absl::StrCat(
      "type: ACTIVITY_LOGGED activity { kind: ", kind, " contact_role: ", role,
      " occurred_time { seconds: ", at, " } }"));
  e.set_version(version);
  e.set_event_id(absl::StrCat("e", version));
  return e;
}

// Serialized with map entries in key order, so equal messages give equal
// bytes.
std::string Bytes(const google::protobuf::Message& m) {
  return DeterministicBytes(m);
}

// Applies the events one by one in this order; stale ones are skipped.
v1::OpportunitySnapshot ApplyAll(const std::vector<v1::CrmEvent>& events) {
  std::optional<v1::OpportunitySnapshot> s;
  for (const v1::CrmEvent& e : events) {
    absl::StatusOr<ApplyOutcome> out = ApplyEvent(s, e);
    EXPECT_TRUE(out.ok()) << out.status();
    if (out.ok() && out->kind != ApplyOutcome::Kind::kStale) {
      s = std::move(out->snapshot);
    }
  }
  return s.value_or(v1::OpportunitySnapshot());
}

constexpr int64_t kDay = 86400;
constexpr int64_t kT0 = 1795435200;  // 2026-11-23

constexpr char kFull[] = R"pb(
  type: OPPORTUNITY_UPSERTED
  version: 1
  opportunity {
    stage: "Prospecting"
    amount { currency_code: "USD" units: 50000 }
    account { industry: "Retail" employees: 40 }
    relationship { contacts_engaged: 2 }
  }
)pb";

TEST(ParseCrmEventJsonTest, ReadsCanonicalJson) {
  absl::StatusOr<v1::CrmEvent> e = ParseCrmEventJson(R"({
    "event_id": "e-1", "tenant_id": "acme", "opportunity_id": "opp-1",
    "type": "OPPORTUNITY_UPSERTED", "version": "3",
    "occurred_time": "2026-11-20T10:00:00Z",
    "opportunity": {"stage": "Closed Won"},
    "update_mask": "stage,relationship.contactsEngaged"})");
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->type(), v1::OPPORTUNITY_UPSERTED);
  EXPECT_EQ(e->version(), 3);
  EXPECT_THAT(e->update_mask().paths(),
              ElementsAre("stage", "relationship.contacts_engaged"));
}

TEST(ParseCrmEventJsonTest, RejectsWhatIsNotACrmEvent) {
  for (const char* bad :
       {"", "{", "[]", R"({"colour": "red"})", R"({"version": "three"})"}) {
    absl::StatusOr<v1::CrmEvent> e = ParseCrmEventJson(bad);
    EXPECT_EQ(e.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(e.status().message(), HasSubstr("not a CrmEvent")) << bad;
  }
  std::string huge(kMaxEventJsonBytes + 1, ' ');
  EXPECT_THAT(ParseCrmEventJson(huge).status().message(),
              HasSubstr("at most 65536 bytes"));
}

TEST(ValidateCrmEventTest, NamesEachBadField) {
  EXPECT_THAT(Fields(Event(kFull)), ElementsAre());
  EXPECT_THAT(Fields(Event("type: OPPORTUNITY_DELETED version: 2")),
              ElementsAre());
  struct Case {
    std::string text;
    std::string field;
  } cases[] = {
      {"type: OPPORTUNITY_DELETED", "version"},
      {"version: 1", "type"},
      {"type: OPPORTUNITY_UPSERTED version: 1", "opportunity"},
      {"type: ACTIVITY_LOGGED version: 1", "activity"},
      {"type: ACTIVITY_LOGGED version: 1 activity { kind: MEETING }",
       "activity.occurred_time"},
      {"type: ACTIVITY_LOGGED version: 1 activity { occurred_time { seconds: "
       "1 } }",
       "activity.kind"},
      {"type: OPPORTUNITY_UPSERTED version: 1 opportunity { id: 'other' }",
       "opportunity.id"},
      {"type: OPPORTUNITY_UPSERTED version: 1 opportunity { amount { units: "
       "-5 currency_code: 'USD' } }",
       "opportunity.amount.units"},
      {"type: OPPORTUNITY_UPSERTED version: 1 opportunity {} update_mask { "
       "paths: 'colour' }",
       "update_mask.paths[0]"},
      {"type: OPPORTUNITY_UPSERTED version: 1 opportunity {} update_mask { "
       "paths: 'version' }",
       "update_mask.paths[0]"},
  };
  for (const Case& c : cases) {
    EXPECT_THAT(Fields(Event(c.text)), ElementsAre(c.field)) << c.text;
  }
  v1::CrmEvent no_ids;
  no_ids.set_type(v1::OPPORTUNITY_DELETED);
  no_ids.set_version(1);
  EXPECT_THAT(Fields(no_ids),
              ElementsAre("event_id", "tenant_id", "opportunity_id"));
  std::vector<FieldViolation> v;
  ValidateCrmEvent(no_ids, "events[3]", v);
  EXPECT_EQ(v[0].field(), "events[3].event_id");
}

// Mask paths are checked segment by segment: "account..industry" used to be
// accepted and applied.
TEST(ValidateCrmEventTest, MaskPathsAreCheckedSegmentBySegment) {
  const std::pair<std::string, std::string> cases[] = {
      {"account..industry",
       "\"account..industry\" is not a field of Opportunity: segment 2 is "
       "empty"},
      {".stage",
       "\".stage\" is not a field of Opportunity: segment 1 is empty"},
      {"stage.", "\"stage.\": stage has no fields"},
      {"amount.units.x", "\"amount.units.x\": amount.units has no fields"},
      {"attributes.colour", "\"attributes.colour\": attributes has no fields"},
      {"account.colour",
       "\"account.colour\" is not a field of Opportunity: \"colour\" is not a "
       "field of Account"},
  };
  for (const auto& [path, description] : cases) {
    v1::CrmEvent e = Event(
        "type: OPPORTUNITY_UPSERTED version: 1 opportunity { stage: 'x' }");
    e.mutable_update_mask()->add_paths(path);
    std::vector<FieldViolation> v;
    ValidateCrmEvent(e, "", v);
    ASSERT_EQ(v.size(), 1u) << path;
    EXPECT_EQ(v[0].field(), "update_mask.paths[0]");
    EXPECT_EQ(v[0].description(), description);
  }
  v1::CrmEvent ok =
      Event("type: OPPORTUNITY_UPSERTED version: 1 opportunity { stage: 'x' }");
  for (const char* path : {"stage", "account.industry", "amount",
                           "relationship.contacts_engaged", "attributes"}) {
    ok.mutable_update_mask()->add_paths(path);
  }
  std::vector<FieldViolation> none;
  ValidateCrmEvent(ok, "", none);
  EXPECT_TRUE(none.empty()) << none[0].field() << ": " << none[0].description();
}

TEST(ApplyEventTest, FullUpsertReplacesAndTakesTheIdentity) {
  v1::OpportunitySnapshot s = Apply(std::nullopt, Event(kFull));
  EXPECT_EQ(s.opportunity().id(), "opp-1");
  EXPECT_EQ(s.opportunity().tenant_id(), "acme");
  EXPECT_EQ(s.opportunity().version(), 1);
  EXPECT_EQ(s.opportunity().stage(), "Prospecting");
  EXPECT_EQ(s.last_event_id(), "e");

  // Without a mask everything not sent is gone.
  s = Apply(s, Event(R"pb(type: OPPORTUNITY_UPSERTED
                          version: 2
                          opportunity { stage: "Negotiation" })pb"));
  EXPECT_EQ(s.opportunity().stage(), "Negotiation");
  EXPECT_FALSE(s.opportunity().has_amount());
}

TEST(ApplyEventTest, MaskedUpsertChangesOnlyTheListedPaths) {
  v1::OpportunitySnapshot s = Apply(std::nullopt, Event(kFull));
  s = Apply(
      s, Event(R"pb(
        type: OPPORTUNITY_UPSERTED
        version: 2
        opportunity {
          stage: "Negotiation/Review"
          relationship { contacts_engaged: 5 has_champion: true }
          amount { currency_code: "EUR" units: 1 }
        }
        update_mask { paths: "stage" paths: "relationship.contacts_engaged" }
      )pb"));
  EXPECT_EQ(s.opportunity().stage(), "Negotiation/Review");
  EXPECT_EQ(s.opportunity().relationship().contacts_engaged(), 5);
  EXPECT_FALSE(s.opportunity().relationship().has_champion());  // not listed
  EXPECT_EQ(s.opportunity().amount().units(), 50000);           // not listed
  EXPECT_EQ(s.opportunity().account().industry(), "Retail");
  EXPECT_EQ(s.opportunity().version(), 2);

  // A listed path absent from the event clears the field.
  s = Apply(s, Event(R"pb(type: OPPORTUNITY_UPSERTED
                          version: 3
                          opportunity {}
                          update_mask { paths: "amount" })pb"));
  EXPECT_FALSE(s.opportunity().has_amount());
}

TEST(ApplyEventTest, DuplicateAndOlderVersionsChangeNothing) {
  v1::OpportunitySnapshot s = Apply(std::nullopt, Event(kFull));
  s = Apply(s, Event(R"pb(type: OPPORTUNITY_UPSERTED
                          version: 3
                          opportunity { stage: "Closed Won" })pb"));
  for (int version : {3, 2, 1}) {
    v1::CrmEvent older = Event(R"pb(type: OPPORTUNITY_UPSERTED
                                    opportunity { stage: "Lost" })pb");
    older.set_version(version);
    absl::StatusOr<ApplyOutcome> out = ApplyEvent(s, older);
    ASSERT_TRUE(out.ok());
    EXPECT_EQ(out->kind, ApplyOutcome::Kind::kStale) << version;
    // Version 3 is the floor; 1 and 2 are below it.
    EXPECT_EQ(out->duplicate, version == 3) << version;
  }
}

TEST(ApplyEventTest, PartialUpdatesInAnyOrderGiveTheInOrderState) {
  v1::CrmEvent v2 = Event(R"pb(type: OPPORTUNITY_UPSERTED
                               version: 2
                               opportunity { stage: "Needs Analysis" }
                               update_mask { paths: "stage" })pb");
  v1::CrmEvent v3 =
      Event(R"pb(type: OPPORTUNITY_UPSERTED
                 version: 3
                 opportunity { amount { currency_code: "EUR" units: 7 } }
                 update_mask { paths: "amount" })pb");
  v1::CrmEvent v4 = Event(R"pb(type: OPPORTUNITY_UPSERTED
                               version: 4
                               opportunity { stage: "Negotiation" }
                               update_mask { paths: "stage" })pb");
  v1::OpportunitySnapshot start = Apply(std::nullopt, Event(kFull));
  v1::OpportunitySnapshot in_order = Apply(Apply(Apply(start, v2), v3), v4);
  v1::OpportunitySnapshot shuffled = Apply(start, v4);
  // v4 wrote the stage after v2 would have: v2 changes nothing.
  absl::StatusOr<ApplyOutcome> late = ApplyEvent(shuffled, v2);
  EXPECT_EQ(late->kind, ApplyOutcome::Kind::kStale);
  EXPECT_FALSE(late->duplicate);
  shuffled = Apply(shuffled, v3);
  EXPECT_EQ(shuffled.opportunity().SerializeAsString(),
            in_order.opportunity().SerializeAsString());
  EXPECT_EQ(in_order.opportunity().stage(), "Negotiation");
  EXPECT_EQ(in_order.opportunity().amount().currency_code(), "EUR");
  EXPECT_EQ(shuffled.opportunity().version(), 4);
  EXPECT_EQ(shuffled.revision(), 3);
  // The ones applied again are duplicates.
  for (const auto& e : {v3, v4}) {
    absl::StatusOr<ApplyOutcome> again = ApplyEvent(shuffled, e);
    EXPECT_EQ(again->kind, ApplyOutcome::Kind::kStale);
    EXPECT_TRUE(again->duplicate) << e.version();
  }
}

TEST(ApplyEventTest, ALateEventOlderThanAFullReplacementIsStale) {
  v1::OpportunitySnapshot s = Apply(std::nullopt, Event(kFull));
  s = Apply(s, Event(R"pb(type: OPPORTUNITY_UPSERTED
                          version: 5
                          opportunity { stage: "Closed Won" })pb"));
  v1::CrmEvent late = Event(R"pb(type: OPPORTUNITY_UPSERTED
                                 version: 3
                                 opportunity { stage: "Lost" }
                                 update_mask { paths: "stage" })pb");
  EXPECT_EQ(ApplyEvent(s, late)->kind, ApplyOutcome::Kind::kStale);
  EXPECT_EQ(s.full_version(), 5);  // the replacement is the floor
  EXPECT_EQ(s.full_kind(), v1::REPLACEMENT_UPSERT);
  EXPECT_EQ(s.field_versions_size(), 0);
}

TEST(ApplyEventTest, DeleteLeavesATombstoneThatStaleEventsCannotRevive) {
  v1::OpportunitySnapshot s = Apply(std::nullopt, Event(kFull));
  absl::StatusOr<ApplyOutcome> del =
      ApplyEvent(s, Event("type: OPPORTUNITY_DELETED version: 4"));
  ASSERT_TRUE(del.ok());
  EXPECT_EQ(del->kind, ApplyOutcome::Kind::kDeleted);
  EXPECT_TRUE(del->snapshot.deleted());
  EXPECT_EQ(del->snapshot.opportunity().version(), 4);
  EXPECT_FALSE(del->snapshot.opportunity().has_amount());

  v1::CrmEvent stale = Event(kFull);
  stale.set_version(3);
  EXPECT_EQ(ApplyEvent(del->snapshot, stale)->kind, ApplyOutcome::Kind::kStale);
  // A newer upsert starts afresh.
  v1::CrmEvent reborn = Event(R"pb(type: OPPORTUNITY_UPSERTED
                                   version: 5
                                   opportunity { stage: "New" }
                                   update_mask { paths: "stage" })pb");
  v1::OpportunitySnapshot back = Apply(del->snapshot, reborn);
  EXPECT_FALSE(back.deleted());
  EXPECT_EQ(back.opportunity().stage(), "New");
  EXPECT_FALSE(back.opportunity().has_amount());
  // Only a part of an opportunity: not classified until a full upsert.
  EXPECT_TRUE(back.awaiting_full());
  v1::CrmEvent whole = Event(kFull);
  whole.set_version(6);
  EXPECT_FALSE(Apply(back, whole).awaiting_full());
}

TEST(ApplyEventTest, PartialEventsBeforeTheCreateWaitForIt) {
  v1::CrmEvent meeting = Event(R"pb(
    type: ACTIVITY_LOGGED
    version: 2
    activity {
      kind: MEETING
      contact_role: CHAMPION
      occurred_time { seconds: 1795435200 }
    })pb");
  v1::OpportunitySnapshot early = Apply(std::nullopt, meeting);
  EXPECT_TRUE(early.awaiting_full());
  // The create (version 1) arrives late: folded first, then the meeting.
  v1::OpportunitySnapshot s = Apply(early, Event(kFull));
  EXPECT_FALSE(s.awaiting_full());
  EXPECT_EQ(s.opportunity().stage(), "Prospecting");
  EXPECT_TRUE(s.opportunity().relationship().has_champion());
  EXPECT_EQ(s.opportunity().relationship().meetings_last_90_days(), 1);
  EXPECT_EQ(s.opportunity().version(), 2);
}

TEST(ApplyEventTest, LoggedMeetingsAddToTheCrmsOwnCount) {
  v1::CrmEvent full = Event(kFull);
  full.mutable_opportunity()->mutable_relationship()->set_meetings_last_90_days(
      4);
  v1::OpportunitySnapshot s = Apply(std::nullopt, full);
  auto meetings = [&] {
    return s.opportunity().relationship().meetings_last_90_days();
  };
  EXPECT_EQ(meetings(), 4);
  auto meeting = [&](int version) {
    v1::CrmEvent e = Event(R"pb(
      type: ACTIVITY_LOGGED
      activity {
        kind: VISIT
        contact_role: USER
        occurred_time { seconds: 1795435200 }
      })pb");
    e.set_version(version);
    return e;
  };
  s = Apply(s, meeting(2));
  EXPECT_EQ(meetings(), 5);
  // A partial update of something else keeps the count.
  s = Apply(s, Event(R"pb(type: OPPORTUNITY_UPSERTED
                          version: 3
                          opportunity { stage: "Qualification" }
                          update_mask { paths: "stage" })pb"));
  EXPECT_EQ(meetings(), 5);
  // The CRM's new count covers every meeting so far.
  s = Apply(s,
            Event(R"pb(type: OPPORTUNITY_UPSERTED
                       version: 4
                       opportunity { relationship { meetings_last_90_days: 2 } }
                       update_mask {
                         paths: "relationship.meetings_last_90_days"
                       })pb"));
  EXPECT_EQ(meetings(), 2);
  s = Apply(s, meeting(5));
  EXPECT_EQ(meetings(), 3);
  full.set_version(6);
  s = Apply(s, full);
  EXPECT_EQ(meetings(), 4);
}

TEST(ApplyEventTest, ActivitiesUpdateTheRelationshipSignals) {
  v1::OpportunitySnapshot s = Apply(std::nullopt, Event(kFull));
  const int64_t day = 86400;
  const int64_t t0 = 1795435200;  // 2026-11-23
  auto activity = [&](int version, const char* kind, const char* role,
                      int64_t at) {
    v1::CrmEvent e = Event(absl::StrCat(
        "type: ACTIVITY_LOGGED activity { kind: ", kind,
        " contact_role: ", role, " occurred_time { seconds: ", at, " } }"));
    e.set_version(version);
    return e;
  };
  s = Apply(s, activity(2, "MEETING", "USER", t0 - 100 * day));
  s = Apply(s, activity(3, "CALL", "CHAMPION", t0 - 50 * day));
  s = Apply(s, activity(4, "DEMO", "EXECUTIVE", t0 - 20 * day));
  s = Apply(s, activity(5, "VISIT", "USER", t0));
  const v1::Relationship& r = s.opportunity().relationship();
  EXPECT_TRUE(r.has_champion());
  EXPECT_TRUE(r.executive_sponsor());
  EXPECT_EQ(r.last_interaction_time().seconds(), t0);
  // The meeting 100 days before the newest activity is out of the window;
  // the call is not a meeting.
  EXPECT_EQ(r.meetings_last_90_days(), 2);
  EXPECT_EQ(r.contacts_engaged(), 2);  // untouched
  // An activity logged late (older time, newer version) still counts but
  // does not move the last interaction back.
  s = Apply(s, activity(6, "MEETING", "USER", t0 - 10 * day));
  EXPECT_EQ(s.opportunity().relationship().meetings_last_90_days(), 3);
  EXPECT_EQ(s.opportunity().relationship().last_interaction_time().seconds(),
            t0);
}

TEST(ApplyEventTest, InvalidMergedOpportunityIsRejected) {
  v1::OpportunitySnapshot s = Apply(std::nullopt, Event(kFull));
  // Replacing the amount with a negative one.
  absl::StatusOr<ApplyOutcome> out =
      ApplyEvent(s, Event(R"pb(
                   type: OPPORTUNITY_UPSERTED
                   version: 2
                   opportunity { amount { currency_code: "USD" units: -5 } }
                   update_mask { paths: "amount" }
                 )pb"));
  EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(out.status().message(), HasSubstr("amount.units"));
}

// The finding of issue 12: with more than 32 events logged after the last
// full upsert, a late masked update was counted stale and lost.
TEST(ApplyEventTest, ALateMaskedUpdateAfterFortyLoggedEventsIsApplied) {
  const v1::CrmEvent full = Event(R"pb(
    type: OPPORTUNITY_UPSERTED
    version: 1
    opportunity {
      stage: "Prospecting"
      amount { currency_code: "USD" units: 20000 }
    })pb");
  std::vector<v1::CrmEvent> events = {full};
  const std::string paths[] = {"stage", "name", "owner", "probability"};
  for (int v = 3; v <= 44; ++v) {
    const std::string& path = paths[v % 4];
    events.push_back(Masked(
        v,
        path == "probability" ? absl::StrCat("probability: ", v)
                              : absl::StrCat(path, ": \"", path, " ", v, "\""),
        {path}));
  }
  v1::OpportunitySnapshot s = ApplyAll(events);
  ASSERT_EQ(s.revision(), 43);
  const v1::CrmEvent late = Masked(
      2, R"pb(amount { currency_code: "EUR" units: 777777 })pb", {"amount"});
  absl::StatusOr<ApplyOutcome> out = ApplyEvent(s, late);
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_EQ(out->kind, ApplyOutcome::Kind::kUpdated);
  const v1::OpportunitySnapshot& after = out->snapshot;
  EXPECT_EQ(after.opportunity().amount().currency_code(), "EUR");
  EXPECT_EQ(after.opportunity().amount().units(), 777777);
  EXPECT_EQ(after.opportunity().stage(), "stage 44");
  EXPECT_EQ(after.opportunity().probability(), 43);
  EXPECT_EQ(after.opportunity().version(), 44);  // still the newest
  EXPECT_EQ(after.last_event_id(), "e44");
  EXPECT_EQ(after.revision(), 44);
  // One version per path written, however many events wrote them.
  EXPECT_EQ(after.field_versions_size(), 5);
  // The state of version order.
  events.insert(events.begin() + 1, late);
  EXPECT_EQ(Bytes(after.opportunity()), Bytes(ApplyAll(events).opportunity()));
  // Once applied, it is a duplicate.
  absl::StatusOr<ApplyOutcome> again = ApplyEvent(after, late);
  EXPECT_EQ(again->kind, ApplyOutcome::Kind::kStale);
  EXPECT_TRUE(again->duplicate);
}

constexpr char kAccountFull[] = R"pb(
  type: OPPORTUNITY_UPSERTED
  version: 1
  opportunity {
    stage: "Prospecting"
    account { name: "Acme" industry: "Retail" employees: 40 }
  }
)pb";

std::vector<std::string> Versions(const v1::OpportunitySnapshot& s) {
  std::vector<std::string> out;
  for (const v1::FieldVersion& f : s.field_versions()) {
    out.push_back(absl::StrCat(f.path(), "@", f.version()));
  }
  return out;
}

TEST(ApplyEventTest, AParentPathsWriteCoversItsOlderChildren) {
  v1::OpportunitySnapshot s = Apply(std::nullopt, Event(kAccountFull));
  s = Apply(
      s, Masked(5, R"pb(account { industry: "Technology" })pb", {"account"}));
  // The child's write (v3) came before the parent's (v5), which replaced
  // the whole account: v3 changes nothing.
  absl::StatusOr<ApplyOutcome> out = ApplyEvent(
      s, Masked(3, R"pb(account { employees: 99 })pb", {"account.employees"}));
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->kind, ApplyOutcome::Kind::kStale);
  EXPECT_FALSE(out->duplicate);
  EXPECT_EQ(s.opportunity().account().ShortDebugString(),
            R"(industry: "Technology")");
  EXPECT_THAT(Versions(s), ElementsAre("account@5"));
}

TEST(ApplyEventTest, ANewerChildKeepsItsValueUnderALateParentWrite) {
  const v1::CrmEvent parent = Masked(
      3,
      R"pb(account { name: "Acme Corp" industry: "Retail" employees: 10 })pb",
      {"account"});
  const v1::CrmEvent child =
      Masked(5, R"pb(account { industry: "Health" })pb", {"account.industry"});
  const v1::CrmEvent full = Event(kAccountFull);
  v1::OpportunitySnapshot in_order = ApplyAll({full, parent, child});
  v1::OpportunitySnapshot reversed = ApplyAll({child, parent, full});
  EXPECT_EQ(in_order.opportunity().account().ShortDebugString(),
            R"(name: "Acme Corp" industry: "Health" employees: 10)");
  EXPECT_EQ(Bytes(reversed.opportunity()), Bytes(in_order.opportunity()));
  EXPECT_THAT(Versions(reversed),
              ElementsAre("account@3", "account.industry@5"));
  EXPECT_FALSE(reversed.awaiting_full());
  // A newer write of the parent covers the child again.
  v1::OpportunitySnapshot s =
      Apply(reversed,
            Masked(7, R"pb(account { industry: "Energy" })pb", {"account"}));
  EXPECT_EQ(s.opportunity().account().ShortDebugString(),
            R"(industry: "Energy")");
  EXPECT_THAT(Versions(s), ElementsAre("account@7"));
}

TEST(ApplyEventTest, AClearedParentComesBackForANewerChild) {
  // v3 lists the account without one (it clears it); v5 sets its industry.
  const v1::CrmEvent clear = Masked(3, "", {"account"});
  const v1::CrmEvent child =
      Masked(5, R"pb(account { industry: "Health" })pb", {"account.industry"});
  const v1::CrmEvent full = Event(kAccountFull);
  v1::OpportunitySnapshot in_order = ApplyAll({full, clear, child});
  EXPECT_EQ(in_order.opportunity().account().ShortDebugString(),
            R"(industry: "Health")");
  EXPECT_EQ(Bytes(ApplyAll({child, clear, full}).opportunity()),
            Bytes(in_order.opportunity()));
  EXPECT_EQ(Bytes(ApplyAll({full, child, clear}).opportunity()),
            Bytes(in_order.opportunity()));
  // Cleared last: no account at all.
  v1::OpportunitySnapshot s = Apply(in_order, Masked(6, "", {"account"}));
  EXPECT_FALSE(s.opportunity().has_account());
}

TEST(ApplyEventTest, ALateFullUpsertKeepsTheNewerMaskedWrites) {
  v1::OpportunitySnapshot s =
      Apply(std::nullopt, Masked(5, R"pb(stage: "Closed Won")pb", {"stage"}));
  EXPECT_TRUE(s.awaiting_full());
  s = Apply(s, Event(kFull));  // version 1
  EXPECT_FALSE(s.awaiting_full());
  EXPECT_EQ(s.opportunity().stage(), "Closed Won");
  EXPECT_EQ(s.opportunity().amount().units(), 50000);
  EXPECT_EQ(s.opportunity().version(), 5);
  EXPECT_EQ(s.full_version(), 1);
  EXPECT_THAT(Versions(s), ElementsAre("stage@5"));
  // A newer full upsert replaces everything.
  v1::CrmEvent whole = Event(kFull);
  whole.set_version(6);
  s = Apply(s, whole);
  EXPECT_EQ(s.opportunity().stage(), "Prospecting");
  EXPECT_THAT(Versions(s), ::testing::IsEmpty());
}

TEST(ApplyEventTest, TheInteractionTimeIsWrittenWhole) {
  EXPECT_THAT(Fields(Masked(2, "", {"relationship.last_interaction_time"})),
              ::testing::IsEmpty());
  EXPECT_THAT(
      Fields(Masked(2, "", {"relationship.last_interaction_time.seconds"})),
      ElementsAre("update_mask.paths[0]"));
}

TEST(ApplyEventTest, LoggedActivitiesAreASetByVersion) {
  v1::CrmEvent full = Event(kFull);
  full.mutable_opportunity()->mutable_relationship()->set_meetings_last_90_days(
      4);
  const v1::CrmEvent m2 = Activity(2, "MEETING", "USER", kT0 - kDay);
  const v1::CrmEvent m3 = Activity(3, "DEMO", "USER", kT0);
  const v1::CrmEvent m5 = Activity(5, "VISIT", "USER", kT0 - 2 * kDay);
  // Arrival with duplicates; the create comes last.
  std::optional<v1::OpportunitySnapshot> s;
  int duplicates = 0;
  for (const v1::CrmEvent& e : {m5, m3, m3, m2, m5, full, m2}) {
    absl::StatusOr<ApplyOutcome> out = ApplyEvent(s, e);
    ASSERT_TRUE(out.ok()) << out.status();
    if (out->kind == ApplyOutcome::Kind::kStale) {
      EXPECT_TRUE(out->duplicate) << e.version();
      ++duplicates;
      continue;
    }
    s = out->snapshot;
  }
  EXPECT_EQ(duplicates, 3);
  EXPECT_EQ(s->opportunity().relationship().meetings_last_90_days(), 7);
  EXPECT_EQ(s->opportunity().relationship().last_interaction_time().seconds(),
            kT0);
  // The CRM's own count, written late at v4, covers the meetings before it.
  const v1::CrmEvent count =
      Masked(4, R"pb(relationship { meetings_last_90_days: 1 })pb",
             {"relationship.meetings_last_90_days"});
  v1::OpportunitySnapshot late = Apply(*s, count);
  EXPECT_EQ(late.opportunity().relationship().meetings_last_90_days(), 2);
  EXPECT_EQ(
      Bytes(late), Bytes([&] {
        v1::OpportunitySnapshot in_order = ApplyAll({full, m2, m3, count, m5});
        in_order.set_revision(late.revision());
        return in_order;
      }()));
}

TEST(ApplyEventTest, ALateCrmWriteOfASignalKeepsTheNewerActivities) {
  const v1::CrmEvent full = Event(kFull);
  const v1::CrmEvent call = Activity(4, "CALL", "CHAMPION", kT0);
  const v1::CrmEvent crm =
      Masked(3, R"pb(relationship {
                       last_interaction_time { seconds: 1790000000 }
                       has_champion: false
                       executive_sponsor: true
                     })pb",
             {"relationship.last_interaction_time", "relationship.has_champion",
              "relationship.executive_sponsor"});
  v1::OpportunitySnapshot in_order = ApplyAll({full, crm, call});
  const v1::Relationship& r = in_order.opportunity().relationship();
  EXPECT_EQ(r.last_interaction_time().seconds(), kT0);
  EXPECT_TRUE(r.has_champion());
  EXPECT_TRUE(r.executive_sponsor());
  v1::OpportunitySnapshot late = ApplyAll({full, call, crm});
  late.set_revision(in_order.revision());
  EXPECT_EQ(Bytes(late), Bytes(in_order));
  // A newer write of the whole relationship covers the call.
  v1::OpportunitySnapshot s =
      Apply(late, Masked(5, R"pb(relationship { contacts_engaged: 3 })pb",
                         {"relationship"}));
  EXPECT_EQ(s.opportunity().relationship().ShortDebugString(),
            "contacts_engaged: 3");
  EXPECT_EQ(s.activities_size(), 0);
  EXPECT_EQ(s.champion_version(), 0);
}

TEST(ApplyEventTest, KeptActivitiesAreBoundedByWhatTheyCanStillChange) {
  std::vector<v1::CrmEvent> events = {Event(kFull)};
  // A call a day for 1000 days, then a meeting a day for 1000 days.
  for (int i = 0; i < 2000; ++i) {
    events.push_back(
        Activity(i + 2, i < 1000 ? "CALL" : "MEETING", "USER", kT0 + i * kDay));
  }
  v1::OpportunitySnapshot s = ApplyAll(events);
  // The meetings within 90 days of the newest one.
  EXPECT_EQ(s.activities_size(), 91);
  EXPECT_EQ(s.opportunity().relationship().meetings_last_90_days(), 91);
  EXPECT_EQ(s.opportunity().relationship().last_interaction_time().seconds(),
            kT0 + 1999 * kDay);
}

TEST(ApplyEventTest, AnActivityThatWouldKeepTooManyIsRefusedNotDropped) {
  std::vector<v1::CrmEvent> events = {Event(kFull)};
  // Meetings within the window, each newer than the one before.
  for (int i = 0; i < kMaxLoggedActivities; ++i) {
    events.push_back(Activity(i + 2, "MEETING", "USER", kT0 + i * 60));
  }
  v1::OpportunitySnapshot s = ApplyAll(events);
  ASSERT_EQ(s.activities_size(), kMaxLoggedActivities);
  const v1::CrmEvent one_more =
      Activity(kMaxLoggedActivities + 2, "MEETING", "USER", kT0 + kDay);
  absl::StatusOr<ApplyOutcome> out = ApplyEvent(s, one_more);
  EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(out.status().message(), HasSubstr("cannot be kept"));
  std::vector<FieldViolation> v = GetFieldViolations(out.status());
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].field(), "activity");
  EXPECT_THAT(v[0].description(), HasSubstr("more than 512"));
  // The CRM's own count lets them go.
  s = Apply(s, Masked(kMaxLoggedActivities + 3,
                      R"pb(relationship { meetings_last_90_days: 600 })pb",
                      {"relationship.meetings_last_90_days"}));
  EXPECT_EQ(s.activities_size(), 1);  // the newest, for the interaction time
  v1::CrmEvent next = one_more;
  next.set_version(kMaxLoggedActivities + 4);
  s = Apply(s, next);
  EXPECT_EQ(s.opportunity().relationship().meetings_last_90_days(), 601);
}

// ApplyEvent of commit fbd55ae (a base and the events after it) wrote this
// from a full upsert (v1), a meeting with a champion (v2), a stage (v4), a
// demo (v5) and an industry (v6); the old fields are named legacy_* now.
constexpr char kOldFormat[] = R"pb(
  opportunity {
    id: "opp-1"
    tenant_id: "acme"
    version: 6
    stage: "Negotiation"
    amount { currency_code: "USD" units: 20000 }
    account { industry: "Technology" employees: 40 }
    relationship {
      contacts_engaged: 2
      has_champion: true
      meetings_last_90_days: 6
      last_interaction_time { seconds: 1795521600 }
    }
  }
  legacy_meeting_times { seconds: 1795435200 }
  legacy_meeting_times { seconds: 1795521600 }
  last_event_id: "e6"
  legacy_base {
    exists: true
    version: 1
    opportunity {
      id: "opp-1"
      tenant_id: "acme"
      version: 1
      stage: "Prospecting"
      amount { currency_code: "USD" units: 20000 }
      account { industry: "Retail" employees: 40 }
      relationship { contacts_engaged: 2 meetings_last_90_days: 4 }
    }
    crm_meetings_last_90_days: 4
  }
  legacy_events {
    event_id: "e2"
    tenant_id: "acme"
    opportunity_id: "opp-1"
    type: ACTIVITY_LOGGED
    version: 2
    activity {
      kind: MEETING
      contact_role: CHAMPION
      occurred_time { seconds: 1795435200 }
    }
  }
  legacy_events {
    event_id: "e4"
    tenant_id: "acme"
    opportunity_id: "opp-1"
    type: OPPORTUNITY_UPSERTED
    version: 4
    opportunity { stage: "Negotiation" }
    update_mask { paths: "stage" }
  }
  legacy_events {
    event_id: "e5"
    tenant_id: "acme"
    opportunity_id: "opp-1"
    type: ACTIVITY_LOGGED
    version: 5
    activity {
      kind: DEMO
      contact_role: USER
      occurred_time { seconds: 1795521600 }
    }
  }
  legacy_events {
    event_id: "e6"
    tenant_id: "acme"
    opportunity_id: "opp-1"
    type: OPPORTUNITY_UPSERTED
    version: 6
    opportunity { account { industry: "Technology" } }
    update_mask { paths: "account.industry" }
  }
  revision: 5
  crm_meetings_last_90_days: 4
)pb";

TEST(ApplyEventTest, AnOldFormatSnapshotIsUpgradedOnRead) {
  v1::OpportunitySnapshot old;
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(kOldFormat, &old));
  const v1::CrmEvent late = Masked(
      3, R"pb(amount { currency_code: "EUR" units: 777777 })pb", {"amount"});
  absl::StatusOr<ApplyOutcome> out = ApplyEvent(old, late);
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_EQ(out->kind, ApplyOutcome::Kind::kUpdated);
  const v1::OpportunitySnapshot& s = out->snapshot;
  EXPECT_FALSE(s.has_legacy_base());
  EXPECT_EQ(s.legacy_events_size(), 0);
  EXPECT_EQ(s.legacy_meeting_times_size(), 0);
  EXPECT_EQ(s.revision(), 6);
  EXPECT_EQ(s.last_event_id(), "e6");
  // What the same events give in the new format.
  v1::CrmEvent full = Event(R"pb(
    type: OPPORTUNITY_UPSERTED
    version: 1
    opportunity {
      stage: "Prospecting"
      amount { currency_code: "USD" units: 20000 }
      account { industry: "Retail" employees: 40 }
      relationship { contacts_engaged: 2 meetings_last_90_days: 4 }
    })pb");
  full.set_event_id("e1");
  std::vector<v1::CrmEvent> events = {full};
  for (const v1::CrmEvent& e : old.legacy_events()) events.push_back(e);
  events.push_back(late);
  v1::OpportunitySnapshot fresh = ApplyAll(events);
  EXPECT_EQ(s.opportunity().ShortDebugString(),
            fresh.opportunity().ShortDebugString());
  EXPECT_EQ(s.opportunity().amount().units(), 777777);
  EXPECT_EQ(s.opportunity().relationship().meetings_last_90_days(), 6);
  // The old snapshot's versions are known as applied.
  for (const v1::CrmEvent& e : {full, events[2]}) {
    absl::StatusOr<ApplyOutcome> again = ApplyEvent(old, e);
    EXPECT_EQ(again->kind, ApplyOutcome::Kind::kStale);
    EXPECT_TRUE(again->duplicate) << e.version();
  }
}

TEST(ApplyEventTest, AnOldFormatLogFoldedPastItsCapKeepsItsFloor) {
  // The old format folded events past 32 into its base (here v2 and v3 on
  // top of v1): which fields they wrote is lost, so events at or below
  // the base stay stale, as they were.
  v1::OpportunitySnapshot old;
  v1::SnapshotBase* base = old.mutable_legacy_base();
  base->set_exists(true);
  base->set_version(3);
  v1::Opportunity* o = base->mutable_opportunity();
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(
      R"pb(id: "opp-1"
           tenant_id: "acme"
           version: 3
           stage: "stage 3"
           amount { currency_code: "USD" units: 20000 })pb",
      o));
  for (int v = 4; v <= 35; ++v) {
    *old.add_legacy_events() =
        Masked(v, absl::StrCat("stage: \"stage ", v, "\""), {"stage"});
  }
  *old.mutable_opportunity() = *o;
  old.mutable_opportunity()->set_stage("stage 35");
  old.mutable_opportunity()->set_version(35);
  old.set_revision(35);
  absl::StatusOr<ApplyOutcome> below = ApplyEvent(
      old,
      Masked(2, R"pb(amount { currency_code: "EUR" units: 1 })pb", {"amount"}));
  EXPECT_EQ(below->kind, ApplyOutcome::Kind::kStale);
  EXPECT_FALSE(below->duplicate);
  absl::StatusOr<ApplyOutcome> dup =
      ApplyEvent(old, Masked(20, R"pb(stage: "stage 20")pb", {"stage"}));
  EXPECT_EQ(dup->kind, ApplyOutcome::Kind::kStale);  // covered by v35
  v1::OpportunitySnapshot s =
      Apply(old, Masked(36, R"pb(name: "Deal")pb", {"name"}));
  EXPECT_EQ(s.opportunity().stage(), "stage 35");
  EXPECT_EQ(s.opportunity().name(), "Deal");
  EXPECT_EQ(s.opportunity().amount().units(), 20000);
  EXPECT_EQ(s.full_version(), 3);
  EXPECT_THAT(Versions(s), ElementsAre("name@36", "stage@35"));
  EXPECT_EQ(s.revision(), 36);
}

// --- Arrival order does not matter: a property over random event sets.

constexpr const char* kSignalPaths[] = {
    "relationship.last_interaction_time", "relationship.has_champion",
    "relationship.executive_sponsor", "relationship.meetings_last_90_days"};

bool Covers(const std::string& parent, const std::string& path) {
  return path == parent || absl::StartsWith(path, parent + ".");
}

// The specification ApplyEvent must meet: the events applied one by one in
// version order, keeping no versions. The relationship signals are the
// CRM's own as it last wrote each, with the activities since applied: the
// newest interaction time, a champion or executive met, and the meetings
// within 90 days of the newest activity added to the CRM's count.
class InOrderModel {
 public:
  void Apply(const v1::CrmEvent& e) {
    if (e.type() == v1::OPPORTUNITY_DELETED) {
      Replace(v1::Opportunity());
      deleted_ = true;
      whole_ = false;
    } else if (e.type() == v1::ACTIVITY_LOGGED) {
      for (auto& since : since_) since.push_back(e.activity());
      deleted_ = false;
    } else if (!e.has_update_mask()) {
      Replace(e.opportunity());
      deleted_ = false;
      whole_ = true;
    } else {
      Write(e);
      deleted_ = false;
    }
    Derive();
    opp_.set_id(e.opportunity_id());
    opp_.set_tenant_id(e.tenant_id());
    opp_.set_version(e.version());
    last_event_id_ = e.event_id();
  }

  const v1::Opportunity& opportunity() const { return opp_; }
  bool deleted() const { return deleted_; }
  bool awaiting_full() const { return !deleted_ && !whole_; }
  const std::string& last_event_id() const { return last_event_id_; }

 private:
  void Replace(const v1::Opportunity& o) {
    opp_ = o;
    TakeCrm(o.relationship(), {true, true, true, true});
  }

  void Write(const v1::CrmEvent& e) {
    google::protobuf::FieldMask mask;
    google::protobuf::util::FieldMaskUtil::ToCanonicalForm(e.update_mask(),
                                                           &mask);
    google::protobuf::util::FieldMaskUtil::MergeOptions options;
    options.set_replace_message_fields(true);
    options.set_replace_repeated_fields(true);
    google::protobuf::util::FieldMaskUtil::MergeMessageTo(e.opportunity(), mask,
                                                          options, &opp_);
    std::vector<bool> written(4);
    for (int k = 0; k < 4; ++k) {
      for (const std::string& p : mask.paths()) {
        if (Covers(p, kSignalPaths[k])) written[k] = true;
      }
    }
    TakeCrm(e.opportunity().relationship(), written);
  }

  void TakeCrm(const v1::Relationship& r, const std::vector<bool>& written) {
    if (written[0]) {
      crm_interaction_ = std::nullopt;
      if (r.has_last_interaction_time()) {
        crm_interaction_ = r.last_interaction_time();
      }
    }
    if (written[1]) crm_champion_ = r.has_champion();
    if (written[2]) crm_sponsor_ = r.executive_sponsor();
    if (written[3]) crm_meetings_ = r.meetings_last_90_days();
    for (int k = 0; k < 4; ++k) {
      if (written[k]) since_[k].clear();
    }
  }

  static absl::Time Time(const google::protobuf::Timestamp& t) {
    return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
  }

  void Derive() {
    std::optional<google::protobuf::Timestamp> interaction = crm_interaction_;
    for (const v1::Activity& a : since_[0]) {
      if (!interaction || Time(a.occurred_time()) > Time(*interaction)) {
        interaction = a.occurred_time();
      }
    }
    bool champion = crm_champion_;
    for (const v1::Activity& a : since_[1]) {
      champion |= a.contact_role() == v1::CHAMPION;
    }
    bool sponsor = crm_sponsor_;
    for (const v1::Activity& a : since_[2]) {
      sponsor |= a.contact_role() == v1::EXECUTIVE;
    }
    absl::Time newest = absl::InfinitePast();
    for (const v1::Activity& a : since_[3]) {
      newest = std::max(newest, Time(a.occurred_time()));
    }
    int64_t meetings = crm_meetings_;
    for (const v1::Activity& a : since_[3]) {
      const bool meeting = a.kind() == v1::MEETING || a.kind() == v1::VISIT ||
                           a.kind() == v1::DEMO;
      if (meeting && newest - Time(a.occurred_time()) <= kMeetingWindow) {
        ++meetings;
      }
    }
    // Written only when they differ, so an empty relationship stays away.
    const v1::Relationship& r = opp_.relationship();
    v1::Relationship want = r;
    want.set_has_champion(champion);
    want.set_executive_sponsor(sponsor);
    want.set_meetings_last_90_days(static_cast<int32_t>(
        std::min<int64_t>(meetings, std::numeric_limits<int32_t>::max())));
    want.clear_last_interaction_time();
    if (interaction) *want.mutable_last_interaction_time() = *interaction;
    if (Bytes(want) != Bytes(r)) *opp_.mutable_relationship() = want;
  }

  v1::Opportunity opp_;
  bool deleted_ = false;
  bool whole_ = false;
  std::string last_event_id_;
  std::optional<google::protobuf::Timestamp> crm_interaction_;
  bool crm_champion_ = false;
  bool crm_sponsor_ = false;
  int32_t crm_meetings_ = 0;
  // Per signal (kSignalPaths), the activities since the CRM wrote it.
  std::vector<v1::Activity> since_[4];
};

// Mask paths the random events write: parents and their children.
constexpr const char* kRandomPaths[] = {"stage",
                                        "name",
                                        "probability",
                                        "attributes",
                                        "created_time",
                                        "amount",
                                        "amount.units",
                                        "amount.currency_code",
                                        "account",
                                        "account.industry",
                                        "account.employees",
                                        "account.annual_revenue",
                                        "account.annual_revenue.units",
                                        "relationship",
                                        "relationship.contacts_engaged",
                                        "relationship.has_champion",
                                        "relationship.executive_sponsor",
                                        "relationship.meetings_last_90_days",
                                        "relationship.last_interaction_time"};

v1::Opportunity RandomOpportunity(std::mt19937& rng) {
  auto maybe = [&] { return rng() % 10 < 7; };
  v1::Opportunity o;
  const char* stages[] = {"Prospecting", "Negotiation", "Closed Won", ""};
  o.set_stage(stages[rng() % 4]);
  if (maybe()) o.set_name(absl::StrCat("deal ", rng() % 5));
  o.set_probability(rng() % 101);
  if (maybe()) o.mutable_created_time()->set_seconds(kT0 - rng() % 400 * kDay);
  for (int i = rng() % 3; i > 0; --i) {
    (*o.mutable_attributes())[absl::StrCat("k", rng() % 3)] =
        absl::StrCat(rng() % 9);
  }
  if (maybe()) {
    o.mutable_amount()->set_currency_code(rng() % 2 ? "USD" : "EUR");
    o.mutable_amount()->set_units(rng() % 100000);
  }
  if (maybe()) {
    v1::Account* a = o.mutable_account();
    if (maybe()) a->set_industry(rng() % 2 ? "Retail" : "Technology");
    if (maybe()) a->set_employees(rng() % 5000);
    if (maybe()) a->mutable_annual_revenue()->set_units(rng() % 1000000);
  }
  if (maybe()) {
    v1::Relationship* r = o.mutable_relationship();
    r->set_contacts_engaged(rng() % 6);
    r->set_has_champion(rng() % 2);
    r->set_executive_sponsor(rng() % 2);
    r->set_meetings_last_90_days(rng() % 8);
    if (maybe()) {
      r->mutable_last_interaction_time()->set_seconds(kT0 - rng() % 200 * kDay);
    }
  }
  return o;
}

v1::CrmEvent RandomEvent(std::mt19937& rng, int64_t version) {
  v1::CrmEvent e = Event("");
  e.set_version(version);
  e.set_event_id(absl::StrCat("e", version));
  const unsigned kind = rng() % 20;
  if (kind < 2) {
    e.set_type(v1::OPPORTUNITY_UPSERTED);
    *e.mutable_opportunity() = RandomOpportunity(rng);
  } else if (kind < 3) {
    e.set_type(v1::OPPORTUNITY_DELETED);
  } else if (kind < 12) {
    e.set_type(v1::OPPORTUNITY_UPSERTED);
    *e.mutable_opportunity() = RandomOpportunity(rng);
    e.mutable_update_mask();
    for (int i = rng() % 4; i > 0; --i) {
      e.mutable_update_mask()->add_paths(
          kRandomPaths[rng() % std::size(kRandomPaths)]);
    }
  } else {
    const v1::ActivityKind kinds[] = {v1::MEETING, v1::CALL, v1::EMAIL,
                                      v1::VISIT, v1::DEMO};
    const v1::ContactRole roles[] = {v1::CONTACT_ROLE_UNSPECIFIED, v1::CHAMPION,
                                     v1::EXECUTIVE, v1::USER};
    e.set_type(v1::ACTIVITY_LOGGED);
    v1::Activity* a = e.mutable_activity();
    a->set_kind(kinds[rng() % 5]);
    a->set_contact_role(roles[rng() % 4]);
    a->mutable_occurred_time()->set_seconds(kT0 - rng() % 200 * kDay +
                                            rng() % kDay);
  }
  return e;
}

TEST(ApplyEventTest, AnotherEventAtAnAppliedVersionIsRefused) {
  struct Case {
    std::string name;
    v1::CrmEvent applied;  // at version 3, after a full upsert v1
    v1::CrmEvent other;    // at version 3 too, another event id
  };
  v1::CrmEvent masked = Masked(3, R"pb(stage: "Negotiation")pb", {"stage"});
  v1::CrmEvent full = Event(R"pb(type: OPPORTUNITY_UPSERTED
                                 version: 3
                                 opportunity { stage: "Won" })pb");
  v1::CrmEvent deletion = Event("type: OPPORTUNITY_DELETED version: 3");
  v1::CrmEvent activity = Event(R"pb(type: ACTIVITY_LOGGED
                                     version: 3
                                     activity {
                                       kind: MEETING
                                       contact_role: CHAMPION
                                       occurred_time { seconds: 1700000000 }
                                     })pb");
  for (Case c :
       std::vector<Case>{{"masked, then full", masked, full},
                         {"full, then masked", full, masked},
                         {"deletion, then full", deletion, full},
                         {"activity, then masked", activity, masked},
                         {"masked, then activity", masked, activity}}) {
    SCOPED_TRACE(c.name);
    // Ids as CRMs send them: a Salesforce record id, a name in another
    // script.
    c.applied.set_event_id("first");
    c.other.set_event_id("sf:006Hs00001xYzAAI/取引-42");
    v1::OpportunitySnapshot s = Apply(std::nullopt, Event(kFull));
    absl::StatusOr<ApplyOutcome> applied = ApplyEvent(s, c.applied);
    ASSERT_TRUE(applied.ok()) << applied.status();
    s = applied->snapshot;
    absl::StatusOr<ApplyOutcome> other = ApplyEvent(s, c.other);
    EXPECT_EQ(other.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(other.status().message(),
              "version: 3 was already applied from event \"first\"; a "
              "version names one event of the opportunity");
    // A first id in another script is named as it came.
    v1::CrmEvent renamed = c.applied;
    renamed.set_event_id("Ромашка-7");
    absl::StatusOr<ApplyOutcome> named =
        ApplyEvent(Apply(std::nullopt, Event(kFull)), renamed);
    ASSERT_TRUE(named.ok());
    EXPECT_EQ(ApplyEvent(named->snapshot, c.other).status().message(),
              "version: 3 was already applied from event \"Ромашка-7\"; a "
              "version names one event of the opportunity");
    // The same event again is a duplicate.
    absl::StatusOr<ApplyOutcome> again = ApplyEvent(s, c.applied);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(again->kind, ApplyOutcome::Kind::kStale);
    EXPECT_TRUE(again->duplicate);
  }
}

TEST(ApplyEventTest, AVersionRecordedWithoutItsIdIsADuplicate) {
  // A snapshot written before event ids were kept: v3 cannot be told from
  // another event, so it stays a duplicate (as before).
  v1::OpportunitySnapshot s = Apply(std::nullopt, Event(kFull));
  s = Apply(s, Masked(3, R"pb(stage: "Negotiation")pb", {"stage"}));
  s.clear_last_event_id();
  for (v1::FieldVersion& f : *s.mutable_field_versions()) f.clear_event_id();
  v1::CrmEvent other = Masked(3, R"pb(stage: "Won")pb", {"stage"});
  other.set_event_id("someone-else");
  absl::StatusOr<ApplyOutcome> out = ApplyEvent(s, other);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->kind, ApplyOutcome::Kind::kStale);
  EXPECT_TRUE(out->duplicate);
}

TEST(ApplyEventPropertyTest, AnyArrivalOrderGivesTheStateOfVersionOrder) {
  int checked = 0;
  for (uint32_t seed = 1; seed <= 150; ++seed) {
    std::mt19937 rng(seed);
    const int n = 4 + rng() % 30;
    std::vector<v1::CrmEvent> events;
    InOrderModel model;
    for (int v = 1; v <= n; ++v) {
      events.push_back(RandomEvent(rng, v));
      ASSERT_TRUE(CheckCrmEvent(events.back()).ok())
          << events.back().ShortDebugString();
      model.Apply(events.back());
    }
    std::string first;
    for (int order = 0; order < 12; ++order) {
      SCOPED_TRACE(absl::StrCat("seed ", seed, ", order ", order));
      std::vector<v1::CrmEvent> arrival = events;
      if (order == 1) std::reverse(arrival.begin(), arrival.end());
      if (order > 1) std::shuffle(arrival.begin(), arrival.end(), rng);
      std::optional<v1::OpportunitySnapshot> s;
      std::vector<const v1::CrmEvent*> arrived;
      for (const v1::CrmEvent& e : arrival) {
        absl::StatusOr<ApplyOutcome> out = ApplyEvent(s, e);
        ASSERT_TRUE(out.ok()) << out.status();
        arrived.push_back(&e);
        if (out->kind == ApplyOutcome::Kind::kStale) continue;
        s = std::move(out->snapshot);
        // Delivered again right away: a duplicate.
        if (rng() % 4 == 0) {
          absl::StatusOr<ApplyOutcome> again = ApplyEvent(s, e);
          ASSERT_TRUE(again.ok());
          EXPECT_EQ(again->kind, ApplyOutcome::Kind::kStale);
          EXPECT_TRUE(again->duplicate) << e.ShortDebugString();
        }
        // Another event at a version applied by now: refused, or stale
        // where that version was written over since; never a duplicate,
        // never applied.
        if (rng() % 4 == 0) {
          v1::CrmEvent reuse = *arrived[rng() % arrived.size()];
          reuse.set_event_id("reuse");
          absl::StatusOr<ApplyOutcome> r = ApplyEvent(s, reuse);
          if (r.ok()) {
            EXPECT_EQ(r->kind, ApplyOutcome::Kind::kStale);
            EXPECT_FALSE(r->duplicate) << reuse.ShortDebugString();
          } else {
            EXPECT_THAT(r.status().message(),
                        HasSubstr("was already applied from event"));
          }
        }
      }
      ASSERT_TRUE(s.has_value());
      EXPECT_EQ(s->opportunity().ShortDebugString(),
                model.opportunity().ShortDebugString());
      EXPECT_EQ(Bytes(s->opportunity()), Bytes(model.opportunity()));
      EXPECT_EQ(s->deleted(), model.deleted());
      EXPECT_EQ(s->awaiting_full(), model.awaiting_full());
      EXPECT_EQ(s->last_event_id(), model.last_event_id());
      // The whole snapshot but its revision (a count of writes) is the
      // same in every order.
      s->clear_revision();
      if (order == 0) first = Bytes(*s);
      EXPECT_EQ(Bytes(*s), first);
      ++checked;
    }
    if (HasFailure()) break;
  }
  EXPECT_EQ(checked, 150 * 12);
}

}  // namespace
}  // namespace oppmatrix

namespace oppmatrix {
namespace {

TEST(ParseCrmEventTest, ByContentType) {
  v1::CrmEvent e;
  e.set_event_id("e-1");
  e.set_tenant_id("acme");
  e.set_version(7);
  for (const char* type : {"application/x-protobuf", "application/protobuf"}) {
    auto parsed = ParseCrmEvent(e.SerializeAsString(), type);
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(parsed->version(), 7);
  }
  for (const char* type : {"", "application/json"}) {
    auto parsed = ParseCrmEvent(R"({"eventId":"e-1","version":"7"})", type);
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(parsed->version(), 7);
  }
  EXPECT_FALSE(ParseCrmEvent("\xff\xff\xff", "application/x-protobuf").ok());
  EXPECT_FALSE(ParseCrmEvent(std::string(kMaxEventJsonBytes + 1, '\0'),
                             "application/x-protobuf")
                   .ok());
  auto unknown = ParseCrmEvent("x",
                               "text/\x01"
                               "csv");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(unknown.status().message()),
              ::testing::HasSubstr("content_type: \"text/\\001csv\""));
  // A string field that is not UTF-8 does not parse in binary either.
  // (Field 1, event_id, length 2: "\xc3\x28".)
  EXPECT_FALSE(ParseCrmEvent(std::string("\x0a\x02\xc3\x28", 4),
                             "application/x-protobuf")
                   .ok());
}

}  // namespace
}  // namespace oppmatrix
