#include "services/engine/account.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "services/engine/engine.h"

namespace oppmatrix {
namespace {

// The result's amount when it is in `base` (a result stored under a
// ruleset of another base currency counts as unpriced), else 0.
double Amount(const v1::Classification& c, const std::string& base) {
  if (!c.has_amount() || c.amount().currency_code() != base) return 0;
  return static_cast<double>(c.amount().units()) + c.amount().nanos() * 1e-9;
}

// The aggregate of `score` over `open` by `how`.
template <typename Score>
double Aggregate(const std::vector<const v1::Classification*>& open,
                 v1::Aggregation how, const std::string& base, Score score) {
  if (how == v1::AGGREGATION_MAX) {
    double best = 0;
    for (const v1::Classification* c : open) best = std::max(best, score(*c));
    return best;
  }
  double weights = 0, sum = 0;
  if (how == v1::AGGREGATION_AMOUNT_WEIGHTED) {
    for (const v1::Classification* c : open) {
      weights += Amount(*c, base);
      sum += Amount(*c, base) * score(*c);
    }
  }
  if (weights <= 0) {  // the mean, or no amounts to weigh by
    weights = static_cast<double>(open.size());
    sum = 0;
    for (const v1::Classification* c : open) sum += score(*c);
  }
  return sum / weights;
}

}  // namespace

bool IsOpenResult(const v1::Classification& c) {
  return c.buying_stage() != v1::BUYING_STAGE_CLOSED_WON &&
         c.buying_stage() != v1::BUYING_STAGE_CLOSED_LOST;
}

v1::GetAccountResponse RollUp(absl::Span<const v1::Classification> results,
                              const CompiledRuleset& rules) {
  v1::GetAccountResponse out;
  const v1::Ruleset& r = rules.proto;
  v1::Aggregation how = r.account().aggregation();
  if (how == v1::AGGREGATION_UNSPECIFIED) how = v1::AGGREGATION_AMOUNT_WEIGHTED;
  out.set_aggregation(how);
  out.set_ruleset_version(rules.version);
  out.set_opportunities(static_cast<int32_t>(results.size()));
  std::vector<const v1::Classification*> open;
  // The open amount, summed exactly: whole units and nanos apart.
  int64_t units = 0, nanos = 0;
  for (const v1::Classification& c : results) {
    if (!IsOpenResult(c)) continue;
    open.push_back(&c);
    if (Amount(c, r.base_currency()) > 0) {
      units += c.amount().units();
      nanos += c.amount().nanos();
      units += nanos / 1000000000;
      nanos %= 1000000000;
    }
  }
  out.set_open_opportunities(static_cast<int32_t>(open.size()));
  if (open.empty()) return out;
  std::sort(open.begin(), open.end(),
            [](const v1::Classification* a, const v1::Classification* b) {
              if (a->priority_score() != b->priority_score()) {
                return a->priority_score() > b->priority_score();
              }
              return a->opportunity_id() < b->opportunity_id();
            });
  for (const v1::Classification* c : open) *out.add_open() = *c;
  const std::string& base = r.base_currency();
  const double potential =
      RoundScore(Aggregate(open, how, base, [](const v1::Classification& c) {
        return c.potential_score();
      }));
  const double relationship =
      RoundScore(Aggregate(open, how, base, [](const v1::Classification& c) {
        return c.relationship_score();
      }));
  out.set_potential_score(potential);
  out.set_relationship_score(relationship);
  google::type::Money* total = out.mutable_open_amount();
  total->set_currency_code(base);
  total->set_units(units);
  total->set_nanos(static_cast<int32_t>(nanos));
  const v1::Cell* cell = rules.CellAt(potential, relationship);
  out.set_cell(cell->id());
  out.set_cell_label(cell->label());
  *out.mutable_action() = cell->action();
  return out;
}

}  // namespace oppmatrix
