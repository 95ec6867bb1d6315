// What a new ruleset would move: classifies the same opportunities with two
// rulesets (at the same `now`) and counts the cell moves, e.g. "312 of 500
// opportunities change cell, 40 KEY -> DEVELOP".
//
//   RulesDiff diff = DiffRulesets(*old_rules, *new_rules, opportunities, now);
//   std::cout << FormatRulesDiff(diff, /*max_listed=*/20);
#ifndef OPPMATRIX_CLIENTS_OPPCTL_RULES_DIFF_H_
#define OPPMATRIX_CLIENTS_OPPCTL_RULES_DIFF_H_

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "absl/types/span.h"
#include "google/protobuf/struct.pb.h"
#include "oppmatrix/v1/opportunity.pb.h"
#include "services/engine/ruleset.h"

namespace oppmatrix {

struct RulesDiff {
  std::string old_version;
  std::string new_version;
  // Opportunities compared (valid under both rulesets).
  int64_t compared = 0;
  // Rejected by validation (the same under both rulesets), with the first
  // error.
  int64_t invalid = 0;
  std::string first_invalid;
  // Opportunities whose cell changes.
  int64_t changed_cell = 0;
  // Same cell, another action code (e.g. another playbook).
  int64_t changed_action_only = 0;
  // Same cell, another grade.
  int64_t changed_grade_only = 0;
  // (from cell, to cell) -> count, for changed cells only.
  std::map<std::pair<std::string, std::string>, int64_t> moves;
  // Cell -> count under each ruleset (cells of both).
  std::map<std::string, int64_t> old_counts;
  std::map<std::string, int64_t> new_counts;

  struct Move {
    std::string opportunity_id;
    std::string from_cell, to_cell;
    double old_potential = 0, new_potential = 0;
    double old_relationship = 0, new_relationship = 0;
    double new_priority = 0;
  };
  // Every cell move, highest new priority first.
  std::vector<Move> moved;
};

RulesDiff DiffRulesets(const CompiledRuleset& old_rules,
                       const CompiledRuleset& new_rules,
                       absl::Span<const v1::Opportunity> opportunities,
                       absl::Time now);

// For people: the headline, moves by count, the cell counts before and
// after, and the first `max_listed` moved opportunities.
std::string FormatRulesDiff(const RulesDiff& diff, int max_listed);

// For scripts: the same as a JSON-able Struct (moves as a list of
// {from, to, count}; `moved` capped at `max_listed`).
google::protobuf::Struct RulesDiffToStruct(const RulesDiff& diff,
                                           int max_listed);

}  // namespace oppmatrix

#endif  // OPPMATRIX_CLIENTS_OPPCTL_RULES_DIFF_H_
