// Rulesets and opportunities the tests of tenants' rulesets share: the
// default ruleset's YAML, drafts of it with another potential cut, and two
// kinds of deal.
#ifndef OPPMATRIX_TESTS_CLASSIFIER_RULESET_TESTDATA_H_
#define OPPMATRIX_TESTS_CLASSIFIER_RULESET_TESTDATA_H_

#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "oppmatrix/v1/opportunity.pb.h"

namespace oppmatrix::testing {

inline std::string DefaultYaml() {
  std::ifstream in(OPPMATRIX_SOURCE_DIR "/rules/default.yaml");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The default ruleset renamed, with the potential cut at `cut` instead of
// 50: a higher cut moves high-potential deals to the low-potential cells.
inline std::string DraftYaml(const std::string& name, const std::string& cut) {
  std::string yaml = DefaultYaml();
  yaml = absl::StrReplaceAll(
      yaml, {{"\nname: default\n", absl::StrCat("\nname: ", name, "\n")},
             {"potential_thresholds: [50]",
              absl::StrCat("potential_thresholds: [", cut, "]")}});
  return yaml;
}

// A strong, large account at decision stage: KEY under the default rules.
inline constexpr char kKeyAccount[] = R"pb(
  tenant_id: "acme"
  version: 3
  stage: "Negotiation/Review"
  amount { currency_code: "USD" units: 1200000 }
  need_urgency: NEED_URGENCY_URGENT
  account { industry: "Technology" employees: 2500 }
  relationship {
    contacts_engaged: 6
    has_champion: true
    executive_sponsor: true
    meetings_last_90_days: 5
    existing_customer: true
    won_deals_with_account: 2
    last_interaction_time { seconds: 1795003200 }
  }
)pb";

// A small early deal with no relationship: low potential under any cut.
inline constexpr char kSmallDeal[] = R"pb(
  tenant_id: "acme"
  version: 1
  stage: "Prospecting"
  amount { currency_code: "EUR" units: 900 }
  account { employees: 4 }
)pb";

inline v1::Opportunity Opp(const std::string& tenant, const std::string& id,
                           const char* text = kKeyAccount) {
  v1::Opportunity o;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &o));
  o.set_tenant_id(tenant);
  o.set_id(id);
  return o;
}

}  // namespace oppmatrix::testing

#endif  // OPPMATRIX_TESTS_CLASSIFIER_RULESET_TESTDATA_H_
