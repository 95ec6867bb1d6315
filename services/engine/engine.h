// The scoring engine: a pure function of (opportunity, ruleset, now). No
// I/O, no clock of its own, no global state; the same inputs give the same
// bytes. It derives the five dimensions of seed 000 (customer type, value
// tier, need urgency, buying stage, industry), scores customer potential and
// relationship quality 0-100 from the ruleset's weighted factors, places the
// opportunity on the sales opportunity matrix, picks the cell's action and
// explains the result with its top reasons.
//
//   absl::StatusOr<v1::Classification> c =
//       Classify(opportunity, *rules, absl::Now(), ClassifyOptions{});
//   if (c.ok()) std::cout << c->cell() << " " << c->action().code();
#ifndef OPPMATRIX_SERVICES_ENGINE_ENGINE_H_
#define OPPMATRIX_SERVICES_ENGINE_ENGINE_H_

#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "oppmatrix/v1/classification.pb.h"
#include "oppmatrix/v1/opportunity.pb.h"
#include "services/engine/ruleset.h"

namespace oppmatrix {

struct ClassifyOptions {
  // Fill Classification.reasons.
  bool with_reasons = true;
  // When not null, set to every factor's contribution (Reason.contribution,
  // 0 for a factor of weight 0), in the ruleset's order: the potential
  // factors, then the relationship ones.
  std::vector<double>* contributions = nullptr;
};

// Validates `opportunity` (INVALID_ARGUMENT with BadRequest details whose
// paths start with `field_path`) and classifies it.
absl::StatusOr<v1::Classification> Classify(
    const v1::Opportunity& opportunity, const CompiledRuleset& rules,
    absl::Time now, const ClassifyOptions& options,
    absl::string_view field_path = "opportunity");

// Classifies an opportunity that ValidateOpportunity accepted. Scores are
// rounded to two decimals.
v1::Classification ClassifyValidated(const v1::Opportunity& opportunity,
                                     const CompiledRuleset& rules,
                                     absl::Time now,
                                     const ClassifyOptions& options);

// A protobuf Timestamp (valid, see IsValidTimestamp) as an absl::Time.
absl::Time ToAbslTime(const google::protobuf::Timestamp& ts);

// Sets `c`'s cell, label, bands and action to `cell`'s, the action refined
// by `c`'s customer type and value tier.
void PlaceInCell(const v1::Cell& cell, v1::Classification* c);

// ClassifyValidated into `out` (which must be empty), so a caller can keep
// the result on an arena: its strings and reasons are allocated there.
void ClassifyValidatedInto(const v1::Opportunity& opportunity,
                           const CompiledRuleset& rules, absl::Time now,
                           const ClassifyOptions& options,
                           v1::Classification* out);

// A score rounded to two decimals, as every result carries it.
double RoundScore(double v);

// The two axis scores of a validated opportunity before rounding (what
// ClassifyValidated rounds to two decimals and bands).
struct AxisScores {
  double potential = 0;
  double relationship = 0;
};
AxisScores ScoreAxes(const v1::Opportunity& opportunity,
                     const CompiledRuleset& rules, absl::Time now);

}  // namespace oppmatrix

#endif  // OPPMATRIX_SERVICES_ENGINE_ENGINE_H_
