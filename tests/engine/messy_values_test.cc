// The messy-values corpus (testdata/messy_values.yaml) through Classify:
// every value is classified, the dimension it feeds is what the corpus
// expects, and where that is unspecified a reason names the raw value.
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "oppmatrix/v1/opportunity.pb.h"
#include "services/common/enum_names.h"
#include "services/engine/engine.h"
#include "tests/engine/engine_test_util.h"
#include "yaml-cpp/yaml.h"

namespace oppmatrix {
namespace {

using ::oppmatrix::testutil::DefaultRules;
using ::oppmatrix::testutil::ParseOpportunity;
using ::oppmatrix::testutil::TestNow;

struct MessyValue {
  std::string field;
  std::string value;
  std::string expect;
  std::string source;
};

std::vector<MessyValue> Corpus() {
  YAML::Node root = YAML::LoadFile(OPPMATRIX_SOURCE_DIR
                                   "/tests/engine/testdata/messy_values.yaml");
  std::vector<MessyValue> out;
  for (const YAML::Node& v : root["values"]) {
    out.push_back({v["field"].as<std::string>(), v["value"].as<std::string>(),
                   v["expect"].as<std::string>(),
                   v["source"].as<std::string>()});
  }
  return out;
}

// A complete opportunity whose every dimension is known.
v1::Opportunity Base() {
  return ParseOpportunity(R"pb(
    id: "opp-messy"
    tenant_id: "t"
    version: 1
    name: "ERP rollout"
    stage: "Negotiation/Review"
    amount { currency_code: "EUR" units: 120000 }
    owner: "jane"
    product: "ERP"
    account {
      id: "acc-1"
      name: "Acme"
      industry: "Manufacturing"
      employees: 800
      annual_revenue { currency_code: "EUR" units: 90000000 }
      country: "DE"
    }
  )pb");
}

void Set(v1::Opportunity& o, const MessyValue& m) {
  v1::Account& a = *o.mutable_account();
  if (m.field == "stage") {
    o.set_stage(m.value);
  } else if (m.field == "name") {
    o.set_name(m.value);
  } else if (m.field == "owner") {
    o.set_owner(m.value);
  } else if (m.field == "product") {
    o.set_product(m.value);
  } else if (m.field == "amount.currency_code") {
    o.mutable_amount()->set_currency_code(m.value);
  } else if (m.field == "account.name") {
    a.set_name(m.value);
  } else if (m.field == "account.industry") {
    a.set_industry(m.value);
  } else if (m.field == "account.country") {
    a.set_country(m.value);
  } else if (m.field == "account.annual_revenue.currency_code") {
    a.mutable_annual_revenue()->set_currency_code(m.value);
  } else {
    ADD_FAILURE() << "unknown corpus field " << m.field;
  }
}

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
    v1::Opportunity opp = Base();
    Set(opp, m);
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
      if (m.expect.empty()) EXPECT_TRUE(ReasonNames(*c, "country", m.value));
    } else if (m.field == "amount.currency_code") {
      EXPECT_EQ(c->has_amount(), m.expect == "known");
      if (m.expect == "unknown") {
        EXPECT_TRUE(ReasonNames(*c, "amount", m.value));
      }
    } else if (m.field == "account.annual_revenue.currency_code") {
      EXPECT_EQ(ReasonNames(*c, "annual_revenue", ""), m.expect == "unknown");
    } else {
      EXPECT_EQ(m.expect, "ok");
    }
  }
}

}  // namespace
}  // namespace oppmatrix
