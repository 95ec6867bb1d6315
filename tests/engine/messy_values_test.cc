// The messy-values corpus (testdata/messy_values.yaml) through Classify:
// every value is classified, the dimension it feeds is what the corpus
// expects, and where that is unspecified a reason names the raw value.
#include "tests/engine/messy_values.h"

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "oppmatrix/v1/opportunity.pb.h"
#include "services/common/enum_names.h"
#include "services/engine/engine.h"
#include "tests/engine/engine_test_util.h"

namespace oppmatrix {
namespace {

using ::oppmatrix::testutil::Corpus;
using ::oppmatrix::testutil::DefaultRules;
using ::oppmatrix::testutil::MessyBase;
using ::oppmatrix::testutil::MessyValue;
using ::oppmatrix::testutil::SetMessyValue;
using ::oppmatrix::testutil::TestNow;

// True when a reason's detail names `raw`.
bool ReasonNames(const v1::Classification& c, const std::string& factor,
                 const std::string& raw) {
  for (const v1::Reason& r : c.reasons()) {
    if (r.factor() == factor && absl::StrContains(r.detail(), raw)) {
      return true;
    }
  }
  return false;
}

TEST(MessyValuesTest, CorpusHasFortyValuesWithTheirSources) {
  std::vector<MessyValue> corpus = Corpus();
  EXPECT_GE(corpus.size(), 40u);
  for (const MessyValue& m : corpus) EXPECT_FALSE(m.source.empty()) << m.value;
}

TEST(MessyValuesTest, EveryValueIsClassifiedAsExpected) {
  for (const MessyValue& m : Corpus()) {
    SCOPED_TRACE(m.field + " = \"" + m.value + "\" (" + m.source + ")");
    v1::Opportunity opp = MessyBase();
    SetMessyValue(opp, m);
    absl::StatusOr<v1::Classification> c =
        Classify(opp, DefaultRules(), TestNow(), {}, "opportunity");
    ASSERT_TRUE(c.ok()) << c.status();
    if (m.field == "stage") {
      EXPECT_EQ(ShortEnumName(v1::BuyingStage_descriptor()->FindValueByNumber(
                    c->buying_stage())),
                m.expect);
      if (m.expect == "UNSPECIFIED") {
        EXPECT_TRUE(ReasonNames(*c, "stage", m.value));
      }
    } else if (m.field == "account.industry") {
      EXPECT_EQ(ShortEnumName(v1::Industry_descriptor()->FindValueByNumber(
                    c->industry())),
                m.expect);
      if (m.expect == "UNSPECIFIED") {
        EXPECT_TRUE(ReasonNames(*c, "industry", m.value));
      }
    } else if (m.field == "account.country") {
      EXPECT_EQ(c->country(), m.expect);
      if (m.expect.empty()) {
        EXPECT_TRUE(ReasonNames(*c, "country", m.value));
      }
    } else if (m.field == "amount.currency_code") {
      EXPECT_EQ(c->has_amount(), m.expect == "known");
      if (m.expect == "unknown") {
        EXPECT_TRUE(ReasonNames(
            *c, "amount",
            m.value.empty() ? "has no currency code" : "\"" + m.value + "\""));
      }
    } else if (m.field == "account.annual_revenue.currency_code") {
      EXPECT_EQ(ReasonNames(*c, "annual_revenue", "\"" + m.value + "\""),
                m.expect == "unknown");
    } else {
      EXPECT_EQ(m.expect, "ok");
    }
  }
}

}  // namespace
}  // namespace oppmatrix
