// CRM events: JSON parsing, validation with field paths, and applying
// events to snapshots (full and partial upserts, stale and duplicate
// versions, deletion tombstones, activities).
#include "services/ingestion/crm_event.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"

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
  v1::OpportunitySnapshot shuffled = Apply(Apply(Apply(start, v4), v2), v3);
  EXPECT_EQ(shuffled.opportunity().SerializeAsString(),
            in_order.opportunity().SerializeAsString());
  EXPECT_EQ(in_order.opportunity().stage(), "Negotiation");
  EXPECT_EQ(in_order.opportunity().amount().currency_code(), "EUR");
  EXPECT_EQ(shuffled.opportunity().version(), 4);
  EXPECT_EQ(shuffled.revision(), 4);
  // Each is applied once: all three again are stale.
  for (const auto& e : {v2, v3, v4}) {
    EXPECT_EQ(ApplyEvent(shuffled, e)->kind, ApplyOutcome::Kind::kStale);
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
  EXPECT_EQ(s.events_size(), 0);  // the replacement became the base
  EXPECT_EQ(s.base().version(), 5);
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

}  // namespace
}  // namespace oppmatrix
