// ExplainChange on histories as the store keeps them: which states are
// compared, the causes and fields on the way, and the factors behind each
// score's change.
#include "services/classifier/explain.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace oppmatrix {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

v1::HistoryEntry State(const std::string& cell, double potential,
                       double relationship, const std::string& cause,
                       std::vector<std::pair<std::string, double>> rel = {},
                       std::vector<std::string> fields = {},
                       const std::string& ruleset = "default@aaaaaaaaaaaa") {
  v1::HistoryEntry e;
  e.set_cell(cell);
  e.set_potential_score(potential);
  e.set_relationship_score(relationship);
  e.set_priority_score((potential + relationship) / 2);
  e.set_cause(cause);
  e.set_ruleset_version(ruleset);
  v1::Reason* amount = e.add_contributions();
  amount->set_factor("amount");
  amount->set_axis(v1::AXIS_POTENTIAL);
  amount->set_contribution(potential - 50);
  for (const auto& [name, points] : rel) {
    v1::Reason* r = e.add_contributions();
    r->set_factor(name);
    r->set_axis(v1::AXIS_RELATIONSHIP);
    r->set_contribution(points);
  }
  for (const std::string& f : fields) e.add_changed_fields(f);
  return e;
}

TEST(ExplainChangeTest, TheLastChangeFactorByFactor) {
  const std::vector<v1::HistoryEntry> h = {
      State("DEVELOP", 80, 35, "data",
            {{"has_champion", -10}, {"days_since_last_interaction", -5}},
            {"relationship.has_champion"}),
      State("KEY", 80, 55, "first",
            {{"has_champion", 10}, {"days_since_last_interaction", -5}}),
  };
  absl::StatusOr<v1::ExplainResponse> why = ExplainChange(h, 0, 0);
  ASSERT_TRUE(why.ok()) << why.status();
  EXPECT_EQ(why->from_entry(), 1);
  EXPECT_THAT(why->causes(), ElementsAre("data"));
  EXPECT_THAT(why->changed_fields(), ElementsAre("relationship.has_champion"));
  EXPECT_EQ(why->relationship_delta(), -20);
  EXPECT_EQ(why->potential_delta(), 0);
  ASSERT_EQ(why->factors_size(), 3);
  // The changed factor first, then the unchanged by size.
  EXPECT_EQ(why->factors(0).factor(), "has_champion");
  EXPECT_EQ(why->factors(0).delta(), -20);
  EXPECT_EQ(why->factors(1).factor(), "amount");
  EXPECT_EQ(why->factors(2).factor(), "days_since_last_interaction");
  EXPECT_THAT(why->summary(),
              ElementsAre("Moved from KEY to DEVELOP",
                          "Relationship 55 → 35 (-20): has_champion -20",
                          "Priority 67.5 → 57.5 (-10)",
                          "Changed in the CRM: relationship.has_champion"));
}

TEST(ExplainChangeTest, AcrossSeveralStatesTheCausesAndFieldsAddUp) {
  const std::vector<v1::HistoryEntry> h = {
      State("DEVELOP", 70, 40, "time", {{"days_since_last_interaction", -10}}),
      State("KEY", 70, 50, "ruleset", {{"days_since_last_interaction", 0}}, {},
            "strict@bbbbbbbbbbbb"),
      State("KEY", 60, 50, "data", {{"days_since_last_interaction", 0}},
            {"amount", "stage"}),
      State("MAINTAIN", 40, 50, "first", {{"days_since_last_interaction", 0}}),
  };
  absl::StatusOr<v1::ExplainResponse> why = ExplainChange(h, 0, 3);
  ASSERT_TRUE(why.ok()) << why.status();
  EXPECT_THAT(why->causes(), ElementsAre("data", "ruleset", "time"));
  EXPECT_THAT(why->changed_fields(), ElementsAre("amount", "stage"));
  EXPECT_THAT(
      why->summary(),
      Contains("Ruleset default@aaaaaaaaaaaa → default@aaaaaaaaaaaa").Times(0));
  EXPECT_THAT(why->summary(), Contains("Potential 40 → 70 (+30): amount +30"));
  EXPECT_THAT(why->summary(), Contains(HasSubstr("Time passed")));
  // Between the ruleset's state and the newest: time alone.
  why = ExplainChange(h, 0, 0);
  ASSERT_TRUE(why.ok());
  EXPECT_THAT(why->causes(), ElementsAre("time"));
  EXPECT_THAT(why->summary(),
              Contains("Ruleset strict@bbbbbbbbbbbb → default@aaaaaaaaaaaa"));
  EXPECT_THAT(why->changed_fields(), IsEmpty());
}

TEST(ExplainChangeTest, UnknownContributionsAreSaidSo) {
  std::vector<v1::HistoryEntry> h = {State("KEY", 80, 60, "data"),
                                     State("DEVELOP", 40, 60, "first")};
  h[1].clear_contributions();
  absl::StatusOr<v1::ExplainResponse> why = ExplainChange(h, 0, 0);
  ASSERT_TRUE(why.ok());
  EXPECT_THAT(why->factors(), IsEmpty());
  EXPECT_THAT(why->summary(), Contains("Potential 40 → 80 (+40)"));
  EXPECT_THAT(why->summary(), Contains(HasSubstr("not known")));
}

TEST(ExplainChangeTest, OutOfRangeIsAPrecondition) {
  const std::vector<v1::HistoryEntry> one = {State("KEY", 80, 60, "first")};
  absl::StatusOr<v1::ExplainResponse> why = ExplainChange(one, 0, 0);
  EXPECT_EQ(why.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(why.status().message(), HasSubstr("holds 1 state"));
  EXPECT_THAT(why.status().message(), HasSubstr("a change needs two"));
  EXPECT_EQ(ExplainChange({}, 0, 0).status().code(),
            absl::StatusCode::kFailedPrecondition);
  const std::vector<v1::HistoryEntry> two = {State("KEY", 80, 60, "data"),
                                             State("KEY", 70, 60, "first")};
  EXPECT_EQ(ExplainChange(two, 1, 0).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ExplainChange(two, 1, 1).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(ExplainChange(two, 0, 1).ok());
}

}  // namespace
}  // namespace oppmatrix
