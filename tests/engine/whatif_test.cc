// WhatIf against the engine itself: every option, applied to the
// opportunity by the test and classified, lands in its target cell with the
// result the option gives; the first option is the smallest change a brute
// force over every combination of the levers finds; and a target the brute
// force cannot reach gets no option.
#include "services/engine/whatif.h"

#include <algorithm>
#include <cstdlib>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "clients/sim/opportunity_generator.h"
#include "gtest/gtest.h"
#include "services/engine/engine.h"
#include "services/engine/opportunity_validator.h"
#include "tests/engine/engine_test_util.h"

namespace oppmatrix {
namespace {

using testutil::DefaultRules;
using testutil::TestNow;

// Sets `field` to `value` the way a rep would, without the code under test.
void Set(v1::Opportunity& o, const std::string& field,
         const std::string& value) {
  v1::Relationship* r = o.mutable_relationship();
  int n = 0;
  if (field == "relationship.meetings_last_90_days") {
    ASSERT_TRUE(absl::SimpleAtoi(value, &n)) << value;
    r->set_meetings_last_90_days(n);
  } else if (field == "relationship.contacts_engaged") {
    ASSERT_TRUE(absl::SimpleAtoi(value, &n)) << value;
    r->set_contacts_engaged(n);
  } else if (field == "relationship.has_champion") {
    ASSERT_TRUE(value == "true" || value == "false") << value;
    r->set_has_champion(value == "true");
  } else if (field == "relationship.executive_sponsor") {
    ASSERT_TRUE(value == "true" || value == "false") << value;
    r->set_executive_sponsor(value == "true");
  } else if (field == "stage") {
    o.set_stage(value);
  } else {
    FAIL() << "unexpected field " << field;
  }
}

std::vector<v1::Opportunity> Generated(int n, uint64_t seed) {
  OpportunityGenerator gen({.tenant_id = "t", .seed = seed}, TestNow());
  std::vector<v1::Opportunity> out;
  for (int i = 0; i < n; ++i) {
    v1::Opportunity o = gen.Next();
    std::vector<FieldViolation> v;
    ValidateOpportunity(o, "opportunity", v);
    if (v.empty()) out.push_back(std::move(o));
  }
  return out;
}

std::vector<std::string> CellIds(const CompiledRuleset& rules) {
  std::vector<std::string> ids;
  for (const v1::Cell& c : rules.proto.matrix().cells()) ids.push_back(c.id());
  return ids;
}

TEST(WhatIfTest, EveryOptionLandsInTheTargetCellWithItsResult) {
  const CompiledRuleset& rules = DefaultRules();
  int options = 0;
  for (const v1::Opportunity& opp : Generated(200, 5)) {
    for (const std::string& cell : CellIds(rules)) {
      v1::WhatIfResponse r =
          WhatIf(opp, rules, TestNow(), cell, {.max_options = 10});
      EXPECT_EQ(r.current().cell(),
                ClassifyValidated(opp, rules, TestNow(), {}).cell());
      int last_levers = 0, last_steps = 0;
      for (const v1::WhatIfOption& o : r.options()) {
        ++options;
        v1::Opportunity changed = opp;
        int steps = 0;
        for (const v1::LeverChange& c : o.changes()) {
          EXPECT_EQ(c.field(), LeverField(c.lever()));
          EXPECT_NE(c.from(), c.to());
          EXPECT_GT(c.steps(), 0);
          steps += c.steps();
          Set(changed, c.field(), c.to());
        }
        EXPECT_EQ(o.steps(), steps);
        v1::Classification got =
            ClassifyValidated(changed, rules, TestNow(), {});
        EXPECT_EQ(got.cell(), cell) << opp.id() << " -> " << cell;
        EXPECT_EQ(DeterministicBytes(got), DeterministicBytes(o.result()));
        // Fewest levers first, then fewest steps.
        const int levers = o.changes_size();
        EXPECT_TRUE(levers > last_levers ||
                    (levers == last_levers && o.steps() >= last_steps));
        last_levers = levers;
        last_steps = o.steps();
      }
      if (r.current().cell() == cell) {
        EXPECT_EQ(r.options_size(), 0);
        EXPECT_EQ(r.note(), "already in " + cell);
      } else if (r.options().empty()) {
        EXPECT_NE(r.note().find("reaches " + cell), std::string::npos)
            << r.note();
      }
    }
  }
  EXPECT_GT(options, 200);
}

// The smallest (levers, steps) a brute force over every combination of
// lever values finds for `opp` to reach `cell`: meetings and contacts from
// 0 to 8 (the default curves end at 6), both flags, every open stage.
std::optional<std::pair<int, int>> BruteForce(const v1::Opportunity& opp,
                                              const CompiledRuleset& rules,
                                              const std::string& cell) {
  const v1::Relationship& rel = opp.relationship();
  const v1::BuyingStage stage = rules.LookupStage(opp.stage());
  const bool open = stage <= v1::BUYING_STAGE_DECISION;
  std::vector<std::pair<std::string, int>> stages = {{opp.stage(), stage}};
  if (open) {
    for (auto [name, s] : std::vector<std::pair<std::string, int>>{
             {"Prospecting", 1}, {"Needs Analysis", 2}, {"Negotiation", 3}}) {
      EXPECT_EQ(rules.LookupStage(name), s) << name;
      if (s != stage) stages.push_back({name, s});
    }
  }
  std::optional<std::pair<int, int>> best;
  const int max_m = std::max(8, rel.meetings_last_90_days());
  const int max_c = std::max(8, rel.contacts_engaged());
  v1::Opportunity o = opp;
  for (int m = 0; m <= max_m; ++m) {
    for (int c = 0; c <= max_c; ++c) {
      for (int champion = 0; champion < 2; ++champion) {
        for (int sponsor = 0; sponsor < 2; ++sponsor) {
          for (const auto& [name, s] : stages) {
            int levers = 0, steps = 0;
            auto count = [&](int from, int to) {
              if (from != to) {
                ++levers;
                steps += std::abs(from - to);
              }
            };
            count(rel.meetings_last_90_days(), m);
            count(rel.contacts_engaged(), c);
            count(rel.has_champion(), champion);
            count(rel.executive_sponsor(), sponsor);
            count(stage, s);
            if (levers == 0) continue;
            if (best && std::make_pair(levers, steps) >= *best) continue;
            v1::Relationship* r = o.mutable_relationship();
            r->set_meetings_last_90_days(m);
            r->set_contacts_engaged(c);
            r->set_has_champion(champion);
            r->set_executive_sponsor(sponsor);
            o.set_stage(name);
            if (ClassifyValidated(o, rules, TestNow(), {.with_reasons = false})
                    .cell() == cell) {
              best = {levers, steps};
            }
          }
        }
      }
    }
  }
  return best;
}

TEST(WhatIfTest, TheFirstOptionIsTheSmallestChangeABruteForceFinds) {
  const CompiledRuleset& rules = DefaultRules();
  int reachable = 0, unreachable = 0;
  for (const v1::Opportunity& opp : Generated(60, 9)) {
    for (const std::string& cell : CellIds(rules)) {
      v1::WhatIfResponse r = WhatIf(opp, rules, TestNow(), cell, {});
      if (r.current().cell() == cell) continue;
      std::optional<std::pair<int, int>> best = BruteForce(opp, rules, cell);
      if (!best) {
        ++unreachable;
        EXPECT_EQ(r.options_size(), 0) << opp.id() << " -> " << cell;
        continue;
      }
      ++reachable;
      ASSERT_GT(r.options_size(), 0) << opp.id() << " -> " << cell;
      EXPECT_EQ(r.options(0).changes_size(), best->first)
          << opp.id() << " -> " << cell;
      EXPECT_EQ(r.options(0).steps(), best->second)
          << opp.id() << " -> " << cell;
    }
  }
  // The sample has both kinds.
  EXPECT_GT(reachable, 20);
  EXPECT_GT(unreachable, 0);
}

// Seed 004's case: a deal worth a lot with no relationship yet (DEVELOP)
// needs a champion, a sponsor and one more contact or meeting to be KEY.
v1::Opportunity NewRelationship() {
  return testutil::ParseOpportunity(R"pb(
    id: "opp-1"
    tenant_id: "t"
    stage: "Negotiation"
    amount { currency_code: "USD" units: 800000 }
    budget_status: BUDGET_STATUS_APPROVED
    need_urgency: NEED_URGENCY_URGENT
    account {
      customer_type: CUSTOMER_TYPE_LARGE_ENTERPRISE
      industry: "Finance"
    }
    relationship { contacts_engaged: 0 meetings_last_90_days: 0 }
  )pb");
}

TEST(WhatIfTest, ANewRelationshipNeedsAChampionASponsorAndAContact) {
  const CompiledRuleset& rules = DefaultRules();
  v1::Opportunity opp = NewRelationship();
  *opp.mutable_relationship()->mutable_last_interaction_time() =
      testutil::FromNow(-testutil::Days(3));
  v1::WhatIfResponse r = WhatIf(opp, rules, TestNow(), "KEY", {});
  ASSERT_EQ(r.current().cell(), "DEVELOP");
  ASSERT_EQ(r.options_size(), 3);
  const v1::WhatIfOption& first = r.options(0);
  EXPECT_EQ(first.changes_size(), 3);
  EXPECT_EQ(first.steps(), 3);
  EXPECT_EQ(first.result().cell(), "KEY");
  std::vector<v1::Lever> levers;
  for (const v1::LeverChange& c : first.changes()) levers.push_back(c.lever());
  EXPECT_TRUE(std::find(levers.begin(), levers.end(), v1::LEVER_CHAMPION) !=
              levers.end());
  EXPECT_TRUE(std::find(levers.begin(), levers.end(),
                        v1::LEVER_EXECUTIVE_SPONSOR) != levers.end());
  // No option is a part of another with changes no larger.
  for (int i = 0; i < r.options_size(); ++i) {
    for (int j = 0; j < r.options_size(); ++j) {
      if (i == j) continue;
      bool part = true;
      for (const v1::LeverChange& a : r.options(i).changes()) {
        bool covered = false;
        for (const v1::LeverChange& b : r.options(j).changes()) {
          covered |= a.lever() == b.lever() && a.steps() <= b.steps();
        }
        part &= covered;
      }
      EXPECT_FALSE(part) << i << " is a part of " << j;
    }
  }
}

TEST(WhatIfTest, OnlyTheGivenLeversChange) {
  const CompiledRuleset& rules = DefaultRules();
  v1::WhatIfResponse r = WhatIf(
      NewRelationship(), rules, TestNow(), "KEY",
      {.levers = {v1::LEVER_MEETINGS, v1::LEVER_CONTACTS, v1::LEVER_CHAMPION}});
  ASSERT_GT(r.options_size(), 0);
  for (const v1::WhatIfOption& o : r.options()) {
    for (const v1::LeverChange& c : o.changes()) {
      EXPECT_NE(c.lever(), v1::LEVER_EXECUTIVE_SPONSOR);
      EXPECT_NE(c.lever(), v1::LEVER_STAGE);
    }
  }
  // The champion alone cannot do it.
  r = WhatIf(NewRelationship(), rules, TestNow(), "KEY",
             {.levers = {v1::LEVER_CHAMPION}});
  EXPECT_EQ(r.options_size(), 0);
  EXPECT_EQ(r.note(), "no change of champion reaches KEY");
}

TEST(WhatIfTest, AClosedDealKeepsItsStage) {
  const CompiledRuleset& rules = DefaultRules();
  v1::Opportunity opp = NewRelationship();
  opp.set_stage("Closed Lost");
  for (const std::string& cell : CellIds(rules)) {
    v1::WhatIfResponse r = WhatIf(opp, rules, TestNow(), cell, {});
    for (const v1::WhatIfOption& o : r.options()) {
      for (const v1::LeverChange& c : o.changes()) {
        EXPECT_NE(c.lever(), v1::LEVER_STAGE);
      }
    }
    if (r.options().empty() && r.current().cell() != cell) {
      EXPECT_NE(r.note().find("the deal is closed"), std::string::npos)
          << r.note();
    }
  }
}

// A small deal early on (EXIT) reaches MAINTAIN by its relationship, and
// DEVELOP only with a later stage, set by a name the ruleset maps.
TEST(WhatIfTest, AStageIsSetByANameTheRulesetMaps) {
  const CompiledRuleset& rules = DefaultRules();
  v1::Opportunity opp = testutil::ParseOpportunity(R"pb(
    id: "opp-2"
    tenant_id: "t"
    stage: "Prospecting"
    amount { currency_code: "USD" units: 60000 }
    budget_status: BUDGET_STATUS_PLANNED
    need_urgency: NEED_URGENCY_GENERAL
    account { customer_type: CUSTOMER_TYPE_SME industry: "Retail" }
  )pb");
  v1::WhatIfResponse r =
      WhatIf(opp, rules, TestNow(), "DEVELOP",
             {.levers = {v1::LEVER_STAGE}, .max_options = 10});
  ASSERT_EQ(r.current().cell(), "EXIT");
  ASSERT_GT(r.options_size(), 0) << r.note();
  for (const v1::WhatIfOption& o : r.options()) {
    ASSERT_EQ(o.changes_size(), 1);
    EXPECT_EQ(o.changes(0).lever(), v1::LEVER_STAGE);
    EXPECT_EQ(o.changes(0).from(), "Prospecting");
    EXPECT_NE(rules.LookupStage(o.changes(0).to()),
              v1::BUYING_STAGE_UNSPECIFIED);
    EXPECT_EQ(o.result().cell(), "DEVELOP");
  }
  // One stage on is enough; two on is the same change, only larger.
  ASSERT_EQ(r.options_size(), 1);
  EXPECT_EQ(r.options(0).changes(0).to(), "Needs Analysis");
  EXPECT_EQ(r.options(0).steps(), 1);
}

// Curves that end far out: a count is searched every step up to
// kWhatIfMaxCountSteps away, and beyond that at the curves' ends.
TEST(WhatIfTest, ALongCurveIsSearchedWithinItsBound) {
  v1::Ruleset proto = testutil::DefaultRulesetProto();
  for (v1::Factor& f : *proto.mutable_relationship()->mutable_factors()) {
    if (f.signal() == v1::SIGNAL_MEETINGS_LAST_90_DAYS ||
        f.signal() == v1::SIGNAL_CONTACTS_ENGAGED) {
      f.clear_curve();
      f.add_curve()->set_at(0);
      v1::CurvePoint* end = f.add_curve();
      end->set_at(100);
      end->set_score(1);
    }
  }
  std::shared_ptr<const CompiledRuleset> rules =
      testutil::CompileOrFail(std::move(proto));
  ASSERT_NE(rules, nullptr);
  v1::Opportunity opp = NewRelationship();
  opp.mutable_relationship()->set_meetings_last_90_days(20);
  v1::WhatIfResponse r = WhatIf(
      opp, *rules, TestNow(), "KEY",
      {.levers = {v1::LEVER_MEETINGS, v1::LEVER_CONTACTS, v1::LEVER_CHAMPION,
                  v1::LEVER_CHAMPION, v1::LEVER_EXECUTIVE_SPONSOR},
       .max_options = 10});
  ASSERT_EQ(r.current().cell(), "DEVELOP");
  for (const v1::WhatIfOption& o : r.options()) {
    v1::Opportunity changed = opp;
    for (const v1::LeverChange& c : o.changes()) {
      EXPECT_TRUE(c.steps() <= kWhatIfMaxCountSteps || c.to() == "100" ||
                  c.to() == "0")
          << c.ShortDebugString();
      Set(changed, c.field(), c.to());
    }
    EXPECT_EQ(ClassifyValidated(changed, *rules, TestNow(), {}).cell(), "KEY");
  }
  // Within 50 steps both counts and both flags are needed; the curves'
  // end, 100 meetings, does with three levers.
  ASSERT_GT(r.options_size(), 0);
  EXPECT_EQ(r.options(0).changes_size(), 3);
  EXPECT_EQ(r.options(0).changes(0).to(), "100");
  EXPECT_TRUE(std::any_of(
      r.options().begin(), r.options().end(),
      [](const v1::WhatIfOption& o) { return o.changes_size() == 4; }));
  // A lever given twice is searched once.
  for (const v1::WhatIfOption& o : r.options()) {
    EXPECT_LE(o.changes_size(), 4);
  }
}

}  // namespace
}  // namespace oppmatrix
