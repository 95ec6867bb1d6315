// An account's position on the sales opportunity matrix (seed 004 places
// customers, not single deals): the scores of its open opportunities
// aggregated as the ruleset's `account.aggregation` says, then banded into
// a cell by the ruleset's thresholds. Pure, like the engine.
//
//   v1::GetAccountResponse a = RollUp(stored_results, *rules);
//   if (!a.cell().empty()) std::cout << a.cell();
#ifndef OPPMATRIX_SERVICES_ENGINE_ACCOUNT_H_
#define OPPMATRIX_SERVICES_ENGINE_ACCOUNT_H_

#include "absl/types/span.h"
#include "oppmatrix/v1/classification.pb.h"
#include "oppmatrix/v1/classification_service.pb.h"
#include "services/engine/ruleset.h"

namespace oppmatrix {

// Most results one account is aggregated over.
inline constexpr int kMaxAccountResults = 1000;

// Whether a result counts for its account: its deal is neither won nor
// lost.
bool IsOpenResult(const v1::Classification& c);

// The position of the account whose stored results are `results`: the
// cell, label, action (the cell's own), aggregated scores, counts, open
// amount, the open results by priority, the aggregation and the ruleset
// version. No cell when none is open. Scores stored under older rulesets
// are banded by `rules`; an amount in another currency than its base
// counts as none (no weight, not in the open amount). Tenant and account
// ids are the caller's to set.
v1::GetAccountResponse RollUp(absl::Span<const v1::Classification> results,
                              const CompiledRuleset& rules);

}  // namespace oppmatrix

#endif  // OPPMATRIX_SERVICES_ENGINE_ACCOUNT_H_
