// Micro-benchmarks of the scoring engine: classifying one opportunity with
// and without reasons (into a heap message, and onto an arena), validating
// one, and loading the default ruleset.
// Items per second is opportunities (or loads) per second, so the time per
// iteration is the time per opportunity.
//
//   build/bench/oppmatrix-engine-bench --benchmark_min_time=0.2
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "benchmark/benchmark.h"
#include "google/protobuf/arena.h"
#include "google/protobuf/text_format.h"
#include "oppmatrix/v1/opportunity.pb.h"
#include "services/common/status_util.h"
#include "services/engine/engine.h"
#include "services/engine/opportunity_validator.h"
#include "services/engine/ruleset.h"
#include "services/engine/whatif.h"

namespace oppmatrix {
namespace {

constexpr char kDefaultRules[] = OPPMATRIX_SOURCE_DIR "/rules/default.yaml";

absl::Time Now() {
  return absl::FromCivil(absl::CivilSecond(2026, 11, 23, 12, 0, 0),
                         absl::UTCTimeZone());
}

const CompiledRuleset& Rules() {
  static const std::shared_ptr<const CompiledRuleset>* const rules = [] {
    absl::StatusOr<std::shared_ptr<const CompiledRuleset>> loaded =
        LoadRulesetFile(kDefaultRules);
    if (!loaded.ok()) {
      std::fprintf(stderr, "%s\n", loaded.status().ToString().c_str());
      std::abort();
    }
    return new std::shared_ptr<const CompiledRuleset>(*std::move(loaded));
  }();
  return **rules;
}

google::protobuf::Timestamp DaysFromNow(double days) {
  const int64_t nanos = absl::ToUnixNanos(Now() + absl::Hours(24 * days));
  google::protobuf::Timestamp ts;
  ts.set_seconds(nanos / 1000000000);
  ts.set_nanos(static_cast<int32_t>(nanos % 1000000000));
  return ts;
}

// The five kinds of the seed case study.
constexpr const char* kKinds[] = {
    // Large enterprise, deciding, warm.
    R"pb(need_urgency: NEED_URGENCY_URGENT
         budget_status: BUDGET_STATUS_APPROVED
         account { employees: 2500 }
         relationship {
           contacts_engaged: 6
           has_champion: true
           executive_sponsor: true
           meetings_last_90_days: 5
           existing_customer: true
           won_deals_with_account: 2
         })pb",
    // SME, general need, some contact.
    R"pb(need_urgency: NEED_URGENCY_GENERAL
         budget_status: BUDGET_STATUS_PLANNED
         account { employees: 120 country: "DE" }
         relationship { contacts_engaged: 2 meetings_last_90_days: 1 })pb",
    // Small business, latent need, cold.
    R"pb(need_urgency: NEED_URGENCY_LATENT
         budget_status: BUDGET_STATUS_NONE
         account { employees: 3 })pb",
    // Government tender, no relationship.
    R"pb(budget_status: BUDGET_STATUS_APPROVED
         account { customer_type: CUSTOMER_TYPE_GOVERNMENT })pb",
    // Small existing customer we know well.
    R"pb(account {
           employees: 5
           annual_revenue { currency_code: "EUR" units: 800000 }
         }
         relationship {
           contacts_engaged: 4
           has_champion: true
           meetings_last_90_days: 6
           existing_customer: true
           won_deals_with_account: 3
         }
         attributes { key: "source" value: "referral" })pb",
};

constexpr const char* kStages[] = {"Prospecting",
                                   "Needs Analysis",
                                   "Negotiation/Review",
                                   "qualifiedtobuy",
                                   "contractsent",
                                   "Propose",
                                   "Develop",
                                   "Proposition",
                                   "New",
                                   "商务谈判",
                                   "Closed Won",
                                   "closed_lost",
                                   "Stage 7",
                                   "Pilot",
                                   "Verhandlung",
                                   ""};

constexpr const char* kIndustries[] = {
    "Technology", "technolgy", "manufactoring", "Retail", "Government",
    "医疗",       "Banking",   "Oil & Gas",     "Hotels", "Basket Weaving",
    "",           "IT"};

constexpr const char* kCurrencies[] = {"USD", "EUR", "GBP",
                                       "CNY", "JPY", "XYZ"};

// 64 varied, valid opportunities: every kind, stage (some unknown),
// industry (some unknown or misspelt), currency (one unknown) and date mix.
std::vector<v1::Opportunity> MakeOpportunities() {
  std::vector<v1::Opportunity> out;
  for (int i = 0; i < 64; ++i) {
    v1::Opportunity opp;
    if (!google::protobuf::TextFormat::ParseFromString(kKinds[i % 5], &opp)) {
      std::abort();
    }
    opp.set_id(absl::StrCat("opp-", i));
    opp.set_tenant_id(i % 3 == 0 ? "acme" : "globex");
    opp.set_version(i + 1);
    opp.set_name(absl::StrCat("Opportunity ", i));
    opp.set_stage(kStages[i % 16]);
    opp.mutable_account()->set_industry(kIndustries[(i * 7) % 12]);
    opp.mutable_amount()->set_currency_code(kCurrencies[(i * 5) % 6]);
    opp.mutable_amount()->set_units(1000 + (i * 7919 % 64) * 40000);
    if (i % 4 == 0) *opp.mutable_need_by_time() = DaysFromNow(i * 3 - 20);
    if (i % 3 == 0) *opp.mutable_expected_close_time() = DaysFromNow(i * 5);
    if (i % 2 == 0) {
      *opp.mutable_relationship()->mutable_last_interaction_time() =
          DaysFromNow(-(i % 120));
    }
    opp.set_probability((i * 13) % 101);
    out.push_back(std::move(opp));
  }
  return out;
}

const std::vector<v1::Opportunity>& Opportunities() {
  static const std::vector<v1::Opportunity>* const opps = [] {
    auto* v = new std::vector<v1::Opportunity>(MakeOpportunities());
    for (const v1::Opportunity& opp : *v) {
      std::vector<FieldViolation> violations;
      ValidateOpportunity(opp, "opportunity", violations);
      if (!violations.empty()) {
        std::fprintf(stderr, "invalid benchmark opportunity %s: %s\n",
                     opp.id().c_str(), violations[0].DebugString().c_str());
        std::abort();
      }
    }
    return v;
  }();
  return *opps;
}

void ClassifyAll(benchmark::State& state, bool with_reasons) {
  const CompiledRuleset& rules = Rules();
  const std::vector<v1::Opportunity>& opps = Opportunities();
  const absl::Time now = Now();
  ClassifyOptions options;
  options.with_reasons = with_reasons;
  size_t i = 0;
  for (auto _ : state) {
    absl::StatusOr<v1::Classification> c =
        Classify(opps[i], rules, now, options);
    benchmark::DoNotOptimize(c);
    if (++i == opps.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
}

// Validation, then classification into a message on an arena, as the
// service's handlers do: the arena is reset after each opportunity, so
// its blocks are reused and nothing goes back to malloc.
void ClassifyAllOnArena(benchmark::State& state, bool with_reasons) {
  const CompiledRuleset& rules = Rules();
  const std::vector<v1::Opportunity>& opps = Opportunities();
  const absl::Time now = Now();
  ClassifyOptions options;
  options.with_reasons = with_reasons;
  google::protobuf::Arena arena;
  std::vector<FieldViolation> violations;
  size_t i = 0;
  for (auto _ : state) {
    violations.clear();
    ValidateOpportunity(opps[i], "opportunity", violations);
    auto* c =
        google::protobuf::Arena::CreateMessage<v1::Classification>(&arena);
    ClassifyValidatedInto(opps[i], rules, now, options, c);
    benchmark::DoNotOptimize(c);
    arena.Reset();
    if (++i == opps.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_ClassifyOnArena_WithReasons(benchmark::State& state) {
  ClassifyAllOnArena(state, true);
}
BENCHMARK(BM_ClassifyOnArena_WithReasons);

void BM_ClassifyOnArena_NoReasons(benchmark::State& state) {
  ClassifyAllOnArena(state, false);
}
BENCHMARK(BM_ClassifyOnArena_NoReasons);

// Validation and classification, as the service calls it.
void BM_Classify_WithReasons(benchmark::State& state) {
  ClassifyAll(state, true);
}
BENCHMARK(BM_Classify_WithReasons);

void BM_Classify_NoReasons(benchmark::State& state) {
  ClassifyAll(state, false);
}
BENCHMARK(BM_Classify_NoReasons);

void BM_ValidateOnly(benchmark::State& state) {
  const std::vector<v1::Opportunity>& opps = Opportunities();
  std::vector<FieldViolation> violations;
  size_t i = 0;
  for (auto _ : state) {
    violations.clear();
    ValidateOpportunity(opps[i], "opportunity", violations);
    benchmark::DoNotOptimize(violations.data());
    if (++i == opps.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ValidateOnly);

// WhatIf to the KEY cell over the same opportunities: each lever's values
// measured, every combination summed, the options classified.
void BM_WhatIfToKey(benchmark::State& state) {
  const CompiledRuleset& rules = Rules();
  const std::vector<v1::Opportunity>& opps = Opportunities();
  const absl::Time now = Now();
  size_t i = 0;
  for (auto _ : state) {
    v1::WhatIfResponse r = WhatIf(opps[i], rules, now, "KEY", {});
    benchmark::DoNotOptimize(r);
    if (++i == opps.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_WhatIfToKey)->Unit(benchmark::kMicrosecond);

// Read, parse, validate and compile rules/default.yaml: the cost of a
// reload.
void BM_LoadDefaultRuleset(benchmark::State& state) {
  for (auto _ : state) {
    absl::StatusOr<std::shared_ptr<const CompiledRuleset>> rules =
        LoadRulesetFile(kDefaultRules);
    if (!rules.ok()) {
      state.SkipWithError(std::string(rules.status().message()).c_str());
      break;
    }
    benchmark::DoNotOptimize(rules);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_LoadDefaultRuleset)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace oppmatrix

BENCHMARK_MAIN();
