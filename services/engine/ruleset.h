// The classification criteria: parsing a YAML ruleset onto the `Ruleset`
// proto, validating it as a whole, and compiling it into lookup tables the
// engine reads without allocating. A compiled ruleset is immutable, so one
// can be shared by every serving thread and swapped atomically on reload.
//
//   absl::StatusOr<std::shared_ptr<const CompiledRuleset>> rules =
//       LoadRulesetFile("rules/default.yaml");
//   if (!rules.ok()) { /* "rules/x.yaml: matrix.cells[2].action: ..." */ }
//   std::cout << (*rules)->version;  // "default@3f2a9c0d81b4"
#ifndef OPPMATRIX_SERVICES_ENGINE_RULESET_H_
#define OPPMATRIX_SERVICES_ENGINE_RULESET_H_

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/type/money.pb.h"
#include "oppmatrix/v1/opportunity.pb.h"
#include "oppmatrix/v1/ruleset.pb.h"
#include "services/common/enum_names.h"

namespace oppmatrix {

// Largest number of bands per matrix axis (thresholds + 1).
inline constexpr int kMaxMatrixBands = 10;
// Largest ruleset file read.
inline constexpr size_t kMaxRulesetFileBytes = 4 << 20;

// A factor ready to evaluate.
struct CompiledFactor {
  v1::Signal signal = v1::SIGNAL_UNSPECIFIED;
  double weight = 0;
  std::string label;
  // Numeric signals: the curve points (at, score), at strictly increasing.
  std::vector<std::pair<double, double>> curve;
  // Categorical signals: score by enum number (booleans: [false, true]).
  std::vector<double> by_value;
  // Enum signals: the short value name by enum number, for reasons.
  std::vector<std::string> value_names;
  // The country signal: score by alpha-2 code (regions expanded).
  absl::flat_hash_map<std::string, double> by_country;
  double missing = 0;
  // Decay (Factor.half_life_days): 0 none, else the half-life and the
  // field of SignalTimes the signal's age counts from.
  double half_life_days = 0;
  const google::protobuf::FieldDescriptor* decay_time = nullptr;
};

// The field of SignalTimes that holds `signal`'s own time ("<label>_time"),
// or null when the signal cannot decay.
const google::protobuf::FieldDescriptor* SignalTimeField(v1::Signal signal);

// Longest half-life a factor may have, in days.
inline constexpr double kMaxHalfLifeDays = 3650;

// One axis of factors and the sum of their weights (> 0).
struct CompiledAxis {
  std::vector<CompiledFactor> factors;
  double total_weight = 0;
};

// A validated ruleset with its lookup tables.
struct CompiledRuleset {
  v1::Ruleset proto;
  // "<name>@<first 12 hex digits of SHA-256 of the deterministic encoding>".
  std::string version;
  CompiledAxis potential;
  CompiledAxis relationship;
  // The factors' labels in order, potential then relationship, as a store
  // keeps them beside contributions (EncodeFactorNames).
  std::string factor_names;
  // Normalised alias -> enum number.
  absl::flat_hash_map<std::string, v1::BuyingStage> stages;
  absl::flat_hash_map<std::string, v1::Industry> industries;
  // CountryKey(alias) -> alpha-2 code, from country_aliases.
  absl::flat_hash_map<std::string, std::string> countries;
  // Priority bonus by NeedUrgency / BuyingStage number.
  std::vector<double> urgency_bonus;
  std::vector<double> stage_bonus;
  double priority_potential_share = 0;  // potential_weight / (sum)
  // Cells by band: cells[potential_band * relationship_bands + rel_band].
  int potential_bands = 0;
  int relationship_bands = 0;
  std::vector<const v1::Cell*> cells;

  // The CRM stage name's buying stage; UNSPECIFIED when empty or unknown.
  v1::BuyingStage LookupStage(absl::string_view crm_stage) const;
  // The CRM industry string's industry; UNSPECIFIED when empty or unknown.
  v1::Industry LookupIndustry(absl::string_view crm_industry) const;
  // The account's country as an alpha-2 code: the ruleset's aliases, then
  // the ISO tables (NormalizeCountry); nullopt when empty or unknown.
  std::optional<std::string> LookupCountry(absl::string_view crm_country) const;
  // `money` in the base currency; nullopt when its currency is missing,
  // not a currency (NormalizeCurrency), or has no rate.
  std::optional<double> ToBaseCurrency(const google::type::Money& money) const;
  // The band of `score` given strictly increasing cut points.
  static int Band(double score,
                  const google::protobuf::RepeatedField<double>& thresholds);
  // The cell of (rounded) scores: their bands on the matrix's two axes.
  const v1::Cell* CellAt(double potential, double relationship) const;
};

// Alias matching key: ASCII letters lowercased, ASCII digits kept, every
// other ASCII character dropped, non-ASCII bytes (e.g. Chinese) kept.
// "Closed Won" and "closed_won" both give "closedwon".
std::string NormalizeAlias(absl::string_view text);

// Parses YAML onto a Ruleset. Unknown keys and mistyped values are
// INVALID_ARGUMENT naming the key path.
absl::StatusOr<v1::Ruleset> ParseRulesetYaml(absl::string_view yaml);

// Checks the whole ruleset; every problem is one line "path: what" in the
// INVALID_ARGUMENT message, in document order.
absl::Status ValidateRuleset(const v1::Ruleset& rules);

// The version string of a ruleset (see CompiledRuleset::version).
std::string RulesetVersion(const v1::Ruleset& rules);

// Validates and compiles.
absl::StatusOr<std::shared_ptr<const CompiledRuleset>> CompileRuleset(
    v1::Ruleset rules);

// Parses, validates and compiles YAML text.
absl::StatusOr<std::shared_ptr<const CompiledRuleset>> LoadRulesetYaml(
    absl::string_view yaml);

// Reads, parses, validates and compiles a file; errors are prefixed with
// the path.
absl::StatusOr<std::shared_ptr<const CompiledRuleset>> LoadRulesetFile(
    const std::string& path);

}  // namespace oppmatrix

#endif  // OPPMATRIX_SERVICES_ENGINE_RULESET_H_
