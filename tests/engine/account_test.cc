// The account roll-up: each aggregation, closed deals left out, and the
// cell from the ruleset's bands.
#include "services/engine/account.h"

#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/engine/engine_test_util.h"

namespace oppmatrix {
namespace {

v1::Classification Result(double potential, double relationship, int64_t amount,
                          v1::BuyingStage stage = v1::BUYING_STAGE_DECISION) {
  v1::Classification c;
  c.set_potential_score(potential);
  c.set_relationship_score(relationship);
  c.set_priority_score(potential);
  c.set_buying_stage(stage);
  if (amount > 0) {
    c.mutable_amount()->set_currency_code("USD");
    c.mutable_amount()->set_units(amount);
  }
  return c;
}

std::shared_ptr<const CompiledRuleset> With(v1::Aggregation how) {
  v1::Ruleset r = testutil::DefaultRulesetProto();
  r.mutable_account()->set_aggregation(how);
  return testutil::CompileOrFail(std::move(r));
}

// A big deal with a strong relationship, a small one with none, and a
// lost one that does not count.
std::vector<v1::Classification> Account() {
  return {Result(80, 90, 900000), Result(40, 10, 100000),
          Result(100, 100, 5000000, v1::BUYING_STAGE_CLOSED_LOST)};
}

TEST(AccountTest, AmountWeightedIsTheDefault) {
  const CompiledRuleset& rules = testutil::DefaultRules();
  v1::GetAccountResponse a = RollUp(Account(), rules);
  EXPECT_EQ(a.aggregation(), v1::AGGREGATION_AMOUNT_WEIGHTED);
  EXPECT_EQ(a.opportunities(), 3);
  EXPECT_EQ(a.open_opportunities(), 2);
  EXPECT_DOUBLE_EQ(a.potential_score(), 76);     // (0.9*80 + 0.1*40)
  EXPECT_DOUBLE_EQ(a.relationship_score(), 82);  // (0.9*90 + 0.1*10)
  EXPECT_EQ(a.cell(), "KEY");
  EXPECT_FALSE(a.action().code().empty());
  EXPECT_EQ(a.open_amount().units(), 1000000);
  EXPECT_EQ(a.open_amount().currency_code(), "USD");
  ASSERT_EQ(a.open_size(), 2);
  EXPECT_EQ(a.open(0).potential_score(), 80);  // by priority
  EXPECT_EQ(a.ruleset_version(), rules.version);
}

TEST(AccountTest, MeanAndMax) {
  v1::GetAccountResponse mean = RollUp(Account(), *With(v1::AGGREGATION_MEAN));
  EXPECT_DOUBLE_EQ(mean.potential_score(), 60);
  EXPECT_DOUBLE_EQ(mean.relationship_score(), 50);
  EXPECT_EQ(mean.cell(), "KEY");
  // The lost deal's 100s are not the maximum: it is not open.
  v1::GetAccountResponse max = RollUp(Account(), *With(v1::AGGREGATION_MAX));
  EXPECT_DOUBLE_EQ(max.potential_score(), 80);
  EXPECT_DOUBLE_EQ(max.relationship_score(), 90);
  std::vector<v1::Classification> weak = {Result(30, 20, 0), Result(45, 35, 0)};
  EXPECT_EQ(RollUp(weak, *With(v1::AGGREGATION_MEAN)).cell(), "EXIT");
}

TEST(AccountTest, NoAmountsWeighEqually) {
  std::vector<v1::Classification> unpriced = {Result(70, 60, 0),
                                              Result(30, 20, 0)};
  v1::GetAccountResponse a = RollUp(unpriced, testutil::DefaultRules());
  EXPECT_DOUBLE_EQ(a.potential_score(), 50);
  EXPECT_DOUBLE_EQ(a.relationship_score(), 40);
  EXPECT_EQ(a.cell(), "DEVELOP");
}

TEST(AccountTest, AmountsAddUpExactlyAndOnlyInTheBaseCurrency) {
  std::vector<v1::Classification> deals = {Result(80, 80, 0), Result(20, 20, 0),
                                           Result(50, 50, 0)};
  deals[0].mutable_amount()->set_currency_code("USD");
  deals[0].mutable_amount()->set_units(300);
  deals[0].mutable_amount()->set_nanos(999999999);
  deals[1].mutable_amount()->set_currency_code("USD");
  deals[1].mutable_amount()->set_nanos(1);
  // Stored under a ruleset whose base was EUR: no weight, not summed.
  deals[2].mutable_amount()->set_currency_code("EUR");
  deals[2].mutable_amount()->set_units(1000000);
  v1::GetAccountResponse a = RollUp(deals, testutil::DefaultRules());
  EXPECT_EQ(a.open_amount().units(), 301);
  EXPECT_EQ(a.open_amount().nanos(), 0);
  // 300.999999999 and 0.000000001 of weight: the first decides.
  EXPECT_NEAR(a.potential_score(), 80, 0.01);
  EXPECT_EQ(a.open_opportunities(), 3);
}

TEST(AccountTest, AnUnpricedDealHasNoWeightBesidePricedOnes) {
  std::vector<v1::Classification> deals = {Result(80, 70, 100000),
                                           Result(10, 10, 0)};
  v1::GetAccountResponse a = RollUp(deals, testutil::DefaultRules());
  EXPECT_DOUBLE_EQ(a.potential_score(), 80);
  EXPECT_EQ(a.open_opportunities(), 2);
  ASSERT_EQ(a.open_size(), 2);
}

TEST(AccountTest, WithNothingOpenThereIsNoCell) {
  std::vector<v1::Classification> closed = {
      Result(90, 90, 1000, v1::BUYING_STAGE_CLOSED_WON)};
  v1::GetAccountResponse a = RollUp(closed, testutil::DefaultRules());
  EXPECT_EQ(a.opportunities(), 1);
  EXPECT_EQ(a.open_opportunities(), 0);
  EXPECT_TRUE(a.cell().empty());
  EXPECT_EQ(a.open_size(), 0);
}

TEST(AccountTest, TheRulesetNamesItsAggregation) {
  absl::StatusOr<v1::Ruleset> parsed =
      ParseRulesetYaml(testutil::ReadFileOrDie(testutil::kDefaultRulesPath) +
                       "\naccount: {aggregation: MAX}\n");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->account().aggregation(), v1::AGGREGATION_MAX);
  EXPECT_FALSE(
      ParseRulesetYaml(testutil::ReadFileOrDie(testutil::kDefaultRulesPath) +
                       "\naccount: {aggregation: MEDIAN}\n")
          .ok());
}

}  // namespace
}  // namespace oppmatrix
