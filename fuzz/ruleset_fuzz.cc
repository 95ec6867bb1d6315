// Fuzzes ruleset loading: the input is a YAML ruleset for LoadRulesetYaml
// (ParseRulesetYaml, ValidateRuleset, CompileRuleset). Checked, beyond "no
// crash and no sanitizer report":
//   - every error is INVALID_ARGUMENT with a message;
//   - parsing is deterministic, and a loaded ruleset's version is
//     RulesetVersion of its proto, "<name>@<12 hex digits>";
//   - whatever a valid ruleset says, it classifies each of a few fixed
//     opportunities (a complete one, a bare one, one at every field's
//     extreme, a messy one) within the promised ranges (CheckClassification),
//     the same way twice.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "fuzz/fuzz_util.h"
#include "google/protobuf/text_format.h"
#include "services/engine/engine.h"
#include "services/engine/ruleset.h"

namespace oppmatrix {
namespace {

constexpr const char* kOpportunities[] = {
    // examples/case-study/1-large-enterprise-decision.yaml
    R"pb(
      id: "opp-hanwei-erp"
      tenant_id: "demo"
      version: 7
      name: "Hanwei Group ERP rollout"
      stage: "Negotiation/Review"
      amount { currency_code: "USD" units: 1200000 }
      need_urgency: NEED_URGENCY_URGENT
      budget_status: BUDGET_STATUS_APPROVED
      expected_close_time { seconds: 1797292800 }
      owner: "li.na"
      product: "ERP Suite"
      account {
        id: "acc-hanwei"
        name: "Hanwei Group"
        industry: "Technology"
        employees: 2500
        country: "CN"
      }
      relationship {
        contacts_engaged: 6
        has_champion: true
        executive_sponsor: true
        meetings_last_90_days: 5
        last_interaction_time { seconds: 1795167000 }
        existing_customer: true
        won_deals_with_account: 2
      }
    )pb",
    R"pb(id: "bare" tenant_id: "t")pb",
    // Every number at its largest valid value, every time at an end of the
    // valid range.
    R"pb(
      id: "extreme"
      tenant_id: "t"
      version: 9223372036854775807
      stage: "CLOSED_WON"
      amount {
        currency_code: "JPY"
        units: 9223372036854775807
        nanos: 999999999
      }
      created_time { seconds: -62135596800 }
      expected_close_time { seconds: 253402300799 nanos: 999999999 }
      need_by_time { seconds: -62135596800 }
      probability: 100
      account {
        employees: 9223372036854775807
        annual_revenue { currency_code: "EUR" units: 9223372036854775807 }
        country: "US"
        customer_type: CUSTOMER_TYPE_LARGE_ENTERPRISE
      }
      relationship {
        contacts_engaged: 2147483647
        meetings_last_90_days: 2147483647
        won_deals_with_account: 2147483647
        last_interaction_time { seconds: 253402300799 }
      }
    )pb",
    // What people type: names for codes, odd case, a symbol for a currency.
    R"pb(
      id: "messy"
      tenant_id: "t"
      version: 1
      stage: "  closed won (paid) "
      amount { currency_code: "€" units: 60000 nanos: 500000000 }
      probability: 0.5
      account {
        industry: "Hospital & Health Care"
        country: "Deutschland"
        annual_revenue { currency_code: "usd" units: 1 }
      }
      relationship { meetings_last_90_days: 1 }
      attributes { key: "region" value: "東" }
    )pb",
};

// 2026-11-23 12:00:00 UTC, the engine tests' clock.
absl::Time Now() {
  return absl::FromCivil(absl::CivilSecond(2026, 11, 23, 12, 0, 0),
                         absl::UTCTimeZone());
}

const std::vector<v1::Opportunity>& Opportunities() {
  static const std::vector<v1::Opportunity>* const opps = [] {
    auto* out = new std::vector<v1::Opportunity>();
    for (const char* text : kOpportunities) {
      v1::Opportunity& o = out->emplace_back();
      FUZZ_CHECK(google::protobuf::TextFormat::ParseFromString(text, &o), "%s",
                 text);
    }
    return out;
  }();
  return *opps;
}

void CheckRuleset(const CompiledRuleset& rules) {
  FUZZ_CHECK(rules.version == RulesetVersion(rules.proto));
  FUZZ_CHECK(absl::StartsWith(rules.version, rules.proto.name() + "@") &&
             rules.version.size() == rules.proto.name().size() + 13);
  FUZZ_CHECK(rules.potential_bands >= 1 && rules.relationship_bands >= 1);
  FUZZ_CHECK(static_cast<int>(rules.cells.size()) ==
             rules.potential_bands * rules.relationship_bands);
  for (const v1::Opportunity& o : Opportunities()) {
    absl::StatusOr<v1::Classification> c = Classify(o, rules, Now(), {});
    FUZZ_CHECK(c.ok(), "%s: %s", o.id().c_str(), c.status().ToString().c_str());
    fuzz::CheckClassification(*c, o, rules);
    absl::StatusOr<v1::Classification> again = Classify(o, rules, Now(), {});
    FUZZ_CHECK(again.ok() && fuzz::Bytes(*again) == fuzz::Bytes(*c));
  }
}

}  // namespace
}  // namespace oppmatrix

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace oppmatrix;
  const absl::string_view yaml = fuzz::Text(data, size);
  absl::StatusOr<v1::Ruleset> parsed = ParseRulesetYaml(yaml);
  if (!parsed.ok()) {
    FUZZ_CHECK(parsed.status().code() == absl::StatusCode::kInvalidArgument,
               "%s", parsed.status().ToString().c_str());
    FUZZ_CHECK(!parsed.status().message().empty());
    return 0;
  }
  absl::StatusOr<v1::Ruleset> reparsed = ParseRulesetYaml(yaml);
  FUZZ_CHECK(reparsed.ok() && fuzz::Bytes(*reparsed) == fuzz::Bytes(*parsed));
  absl::StatusOr<std::shared_ptr<const CompiledRuleset>> rules =
      LoadRulesetYaml(yaml);
  const absl::Status valid = ValidateRuleset(*parsed);
  FUZZ_CHECK(rules.ok() == valid.ok(), "load: %s, validate: %s",
             rules.status().ToString().c_str(), valid.ToString().c_str());
  if (!rules.ok()) {
    FUZZ_CHECK(rules.status().code() == absl::StatusCode::kInvalidArgument,
               "%s", rules.status().ToString().c_str());
    FUZZ_CHECK(!rules.status().message().empty());
    return 0;
  }
  CheckRuleset(**rules);
  return 0;
}
