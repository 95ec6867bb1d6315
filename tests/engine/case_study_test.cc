// The seed case study (DESIGN §1.1) as a table: a company entering a new
// market classifies its prospects with the default ruleset. Large
// enterprises are high value and get a dedicated team, SMEs get online
// promotion and phone sales, small businesses are left to low-touch
// coverage. The expected scores are worked out by hand from
// rules/default.yaml in the comment of each row.
#include <optional>
#include <ostream>
#include <string>

#include "gtest/gtest.h"
#include "oppmatrix/v1/classification.pb.h"
#include "oppmatrix/v1/dimensions.pb.h"
#include "oppmatrix/v1/opportunity.pb.h"
#include "services/engine/engine.h"
#include "tests/engine/engine_test_util.h"

namespace oppmatrix {
namespace {

using ::oppmatrix::testutil::Days;
using ::oppmatrix::testutil::DefaultRules;
using ::oppmatrix::testutil::FromNow;
using ::oppmatrix::testutil::ParseOpportunity;
using ::oppmatrix::testutil::TestNow;

struct CaseStudyRow {
  std::string name;
  std::string opportunity;                 // text proto
  std::optional<double> last_interaction;  // days before now
  v1::CustomerType customer_type;
  v1::ValueTier value_tier;
  v1::BuyingStage buying_stage;
  v1::NeedUrgency need_urgency;
  v1::Industry industry;
  std::string cell;
  std::string action;
  v1::Grade grade;
  double potential;
  double relationship;
  double priority;
};

void PrintTo(const CaseStudyRow& c, std::ostream* os) { *os << c.name; }

class CaseStudyTest : public ::testing::TestWithParam<CaseStudyRow> {};

TEST_P(CaseStudyTest, ClassifiesAsTheSeedSays) {
  const CaseStudyRow& row = GetParam();
  v1::Opportunity opp = ParseOpportunity(row.opportunity);
  if (row.last_interaction) {
    *opp.mutable_relationship()->mutable_last_interaction_time() =
        FromNow(-Days(*row.last_interaction));
  }
  absl::StatusOr<v1::Classification> result =
      Classify(opp, DefaultRules(), TestNow(), {});
  ASSERT_TRUE(result.ok()) << result.status();
  const v1::Classification& c = *result;
  SCOPED_TRACE(c.DebugString());

  EXPECT_EQ(c.customer_type(), row.customer_type)
      << v1::CustomerType_Name(c.customer_type());
  EXPECT_EQ(c.value_tier(), row.value_tier)
      << v1::ValueTier_Name(c.value_tier());
  EXPECT_EQ(c.buying_stage(), row.buying_stage)
      << v1::BuyingStage_Name(c.buying_stage());
  EXPECT_EQ(c.need_urgency(), row.need_urgency)
      << v1::NeedUrgency_Name(c.need_urgency());
  EXPECT_EQ(c.industry(), row.industry) << v1::Industry_Name(c.industry());
  EXPECT_EQ(c.cell(), row.cell);
  EXPECT_EQ(c.action().code(), row.action);
  EXPECT_EQ(c.grade(), row.grade) << v1::Grade_Name(c.grade());
  EXPECT_DOUBLE_EQ(c.potential_score(), row.potential);
  EXPECT_DOUBLE_EQ(c.relationship_score(), row.relationship);
  EXPECT_DOUBLE_EQ(c.priority_score(), row.priority);
  EXPECT_EQ(c.ruleset_version(), DefaultRules().version);
}

INSTANTIATE_TEST_SUITE_P(
    Seed, CaseStudyTest,
    ::testing::Values(
        // (a) Large enterprise, deciding, urgent, budget approved, warm.
        // Potential: amount 1.2M on 500k..2M (0.85..1) = 0.92 -> 27.6;
        // LARGE_ENTERPRISE 20; URGENT 15; DECISION 15; APPROVED 10;
        // TECHNOLOGY 0.9 -> 9: 96.6. Relationship: 6 contacts 15;
        // champion 20; sponsor 15; 5 meetings 0.9 -> 13.5; 3 days
        // 1 - 0.1 * 3/7 -> 14.36; existing 10; 2 won deals 0.8 -> 8: 95.86.
        // Priority 0.6 * 96.6 + 0.4 * 95.86 + 10 + 5 > 100 -> 100.
        CaseStudyRow{"LargeEnterprise",
                     R"pb(
                       id: "opp-a"
                       tenant_id: "newmarket"
                       stage: "Negotiation/Review"
                       amount { currency_code: "USD" units: 1200000 }
                       need_urgency: NEED_URGENCY_URGENT
                       budget_status: BUDGET_STATUS_APPROVED
                       account {
                         name: "Globex Corporation"
                         employees: 2500
                         industry: "technology"
                       }
                       relationship {
                         contacts_engaged: 6
                         has_champion: true
                         executive_sponsor: true
                         meetings_last_90_days: 5
                         existing_customer: true
                         won_deals_with_account: 2
                       }
                     )pb",
                     3, v1::CUSTOMER_TYPE_LARGE_ENTERPRISE, v1::VALUE_TIER_HIGH,
                     v1::BUYING_STAGE_DECISION, v1::NEED_URGENCY_URGENT,
                     v1::INDUSTRY_TECHNOLOGY, "KEY", "DEDICATED_TEAM",
                     v1::GRADE_A, 96.6, 95.86, 100},
        // (b) SME, considering (HubSpot), general need, budget planned.
        // Potential: 60k EUR = 64.8k USD on 20k..100k (0.3..0.6) = 0.468 ->
        // 14.04; SME 0.55 -> 11; GENERAL 0.6 -> 9; CONSIDERATION 0.6 -> 9;
        // PLANNED 0.6 -> 6; MANUFACTURING 0.8 -> 8: 57.04 (MEDIUM, band 1).
        // Relationship: 2 contacts 0.5 -> 7.5; 1 meeting 0.3 -> 4.5;
        // 20 days 0.9 - 0.3 * 13/23 -> 10.96: 22.96 (band 0).
        // Priority 0.6 * 57.04 + 0.4 * 22.96 = 43.41 (C).
        CaseStudyRow{
            "Sme",
            R"pb(
              id: "opp-b"
              tenant_id: "newmarket"
              stage: "qualifiedtobuy"
              amount { currency_code: "EUR" units: 60000 }
              need_urgency: NEED_URGENCY_GENERAL
              budget_status: BUDGET_STATUS_PLANNED
              account {
                name: "Initech Fertigung GmbH"
                employees: 120
                industry: "manufactoring"
                country: "DE"
              }
              relationship { contacts_engaged: 2 meetings_last_90_days: 1 }
            )pb",
            20, v1::CUSTOMER_TYPE_SME, v1::VALUE_TIER_MEDIUM,
            v1::BUYING_STAGE_CONSIDERATION, v1::NEED_URGENCY_GENERAL,
            v1::INDUSTRY_MANUFACTURING, "DEVELOP", "ONLINE_AND_PHONE",
            v1::GRADE_C, 57.04, 22.96, 43.41},
        // (c) Small business, just aware, latent need, no budget, cold.
        // Potential: 3000 USD on 0..5k (0..0.1) = 0.06 -> 1.8;
        // SMALL_BUSINESS 0.2 -> 4; LATENT 0.25 -> 3.75; AWARENESS 0.3 ->
        // 4.5; NONE 0; RETAIL 0.5 -> 5: 19.05. Relationship 0.
        // Priority 0.6 * 19.05 - 5 = 6.43 (D).
        CaseStudyRow{
            "SmallBusiness",
            R"pb(
              id: "opp-c"
              tenant_id: "newmarket"
              stage: "Prospecting"
              amount { currency_code: "USD" units: 3000 }
              need_urgency: NEED_URGENCY_LATENT
              budget_status: BUDGET_STATUS_NONE
              account { name: "Corner Shop" employees: 3 industry: "Retail" }
            )pb",
            std::nullopt, v1::CUSTOMER_TYPE_SMALL_BUSINESS, v1::VALUE_TIER_LOW,
            v1::BUYING_STAGE_AWARENESS, v1::NEED_URGENCY_LATENT,
            v1::INDUSTRY_RETAIL, "EXIT", "LOW_TOUCH_OR_LEAVE", v1::GRADE_D,
            19.05, 0, 6.43},
        // (d) Government tender, no relationship at all.
        // Potential: 3M USD (>= 2M) -> 30; GOVERNMENT 0.9 -> 18; GENERAL
        // 0.6 -> 9; CONSIDERATION 0.6 -> 9; APPROVED 10; PUBLIC_SECTOR 0.8
        // -> 8: 84 (HIGH). Relationship 0. Priority 0.6 * 84 = 50.4 (C).
        CaseStudyRow{"GovernmentTender",
                     R"pb(
                       id: "opp-d"
                       tenant_id: "newmarket"
                       stage: "Develop"
                       amount { currency_code: "USD" units: 3000000 }
                       need_urgency: NEED_URGENCY_GENERAL
                       budget_status: BUDGET_STATUS_APPROVED
                       account {
                         name: "Ministry of Transport"
                         customer_type: CUSTOMER_TYPE_GOVERNMENT
                         industry: "Government"
                       }
                     )pb",
                     std::nullopt, v1::CUSTOMER_TYPE_GOVERNMENT,
                     v1::VALUE_TIER_HIGH, v1::BUYING_STAGE_CONSIDERATION,
                     v1::NEED_URGENCY_GENERAL, v1::INDUSTRY_PUBLIC_SECTOR,
                     "DEVELOP", "DEDICATED_TEAM_VISITS", v1::GRADE_C, 84, 0,
                     50.4},
        // (e) An existing small customer we know well, small new deal.
        // Potential: 2000 USD -> 0.04 -> 1.2; SMALL_BUSINESS 4; LATENT 3.75;
        // AWARENESS 4.5; budget unknown 0.3 -> 3; RETAIL 5: 21.45 (LOW).
        // Relationship: 4 contacts 0.8 -> 12; champion 20; no sponsor;
        // 6 meetings 15; 5 days 1 - 0.1 * 5/7 -> 13.93; existing 10;
        // 3 won deals 10: 80.93. Priority 12.87 + 32.37 - 5 = 40.24 (C).
        CaseStudyRow{
            "MaintainSmallCustomer",
            R"pb(
              id: "opp-e"
              tenant_id: "newmarket"
              stage: "Qualification"
              amount { currency_code: "USD" units: 2000 }
              need_urgency: NEED_URGENCY_LATENT
              account { name: "Family Bakery" employees: 5 industry: "Retail" }
              relationship {
                contacts_engaged: 4
                has_champion: true
                meetings_last_90_days: 6
                existing_customer: true
                won_deals_with_account: 3
              }
            )pb",
            5, v1::CUSTOMER_TYPE_SMALL_BUSINESS, v1::VALUE_TIER_LOW,
            v1::BUYING_STAGE_AWARENESS, v1::NEED_URGENCY_LATENT,
            v1::INDUSTRY_RETAIL, "MAINTAIN", "MAINTAIN_LOW_COST", v1::GRADE_C,
            21.45, 80.93, 40.24}),
    [](const ::testing::TestParamInfo<CaseStudyRow>& info) {
      return info.param.name;
    });

}  // namespace
}  // namespace oppmatrix
