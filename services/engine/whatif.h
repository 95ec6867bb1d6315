// What would move an opportunity into another cell of the matrix (seed 004:
// develop the customers worth developing): the smallest changes of the
// inputs a sales team can influence that land it in a target cell, each
// with the classification the engine gives it. Pure, like the engine.
//
// Each lever changes one input (a count, a yes/no, the stage), and each
// input feeds only its own factors, so a lever's effect on the two axis
// scores does not depend on the others: the search measures each lever's
// values once with the engine, combines them, and classifies every option
// it answers with the engine again, so an option's result is exact. The
// work is bounded whatever the ruleset: at most about 180,000 sums, and
// max_options + 64 classifications.
//
//   v1::WhatIfResponse r = WhatIf(opportunity, *rules, now, "KEY", {});
//   for (const v1::WhatIfOption& o : r.options()) ...  // o.result().cell()
#ifndef OPPMATRIX_SERVICES_ENGINE_WHATIF_H_
#define OPPMATRIX_SERVICES_ENGINE_WHATIF_H_

#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "oppmatrix/v1/classification.pb.h"
#include "oppmatrix/v1/classification_service.pb.h"
#include "oppmatrix/v1/opportunity.pb.h"
#include "services/engine/ruleset.h"

namespace oppmatrix {

// A count lever (meetings, contacts) is tried at every value up to this
// many steps away, not past the last point of the curves that read it,
// and beyond that at the curves' first and last points, up to
// kWhatIfMaxCountJump away.
inline constexpr int kWhatIfMaxCountSteps = 50;
inline constexpr int kWhatIfMaxCountJump = 1000000;
// Most options one answer carries.
inline constexpr int kWhatIfMaxOptions = 10;
inline constexpr int kWhatIfDefaultOptions = 3;

struct WhatIfOptions {
  // The levers that may change; empty: all.
  std::vector<v1::Lever> levers = {};
  // Most options answered, 1 to kWhatIfMaxOptions.
  int max_options = kWhatIfDefaultOptions;
};

// The opportunity field a lever sets ("relationship.meetings_last_90_days").
absl::string_view LeverField(v1::Lever lever);

// `opportunity` must be valid (ValidateOpportunity) and `target_cell` a
// cell of `rules`.
v1::WhatIfResponse WhatIf(const v1::Opportunity& opportunity,
                          const CompiledRuleset& rules, absl::Time now,
                          absl::string_view target_cell,
                          const WhatIfOptions& options);

}  // namespace oppmatrix

#endif  // OPPMATRIX_SERVICES_ENGINE_WHATIF_H_
