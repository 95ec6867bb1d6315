#include "clients/oppctl/rules_diff.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "services/engine/engine.h"

namespace oppmatrix {

RulesDiff DiffRulesets(const CompiledRuleset& old_rules,
                       const CompiledRuleset& new_rules,
                       absl::Span<const v1::Opportunity> opportunities,
                       absl::Time now) {
  RulesDiff diff;
  diff.old_version = old_rules.version;
  diff.new_version = new_rules.version;
  const ClassifyOptions options{.with_reasons = false};
  for (const v1::Opportunity& o : opportunities) {
    absl::StatusOr<v1::Classification> before =
        Classify(o, old_rules, now, options);
    absl::StatusOr<v1::Classification> after =
        Classify(o, new_rules, now, options);
    if (!before.ok() || !after.ok()) {
      if (diff.invalid++ == 0) {
        diff.first_invalid = absl::StrCat(
            o.id().empty() ? "(no id)" : o.id(), ": ",
            (before.ok() ? after.status() : before.status()).message());
      }
      continue;
    }
    ++diff.compared;
    ++diff.old_counts[before->cell()];
    ++diff.new_counts[after->cell()];
    if (before->cell() != after->cell()) {
      ++diff.changed_cell;
      ++diff.moves[{before->cell(), after->cell()}];
      diff.moved.push_back({.opportunity_id = o.id(),
                            .from_cell = before->cell(),
                            .to_cell = after->cell(),
                            .old_potential = before->potential_score(),
                            .new_potential = after->potential_score(),
                            .old_relationship = before->relationship_score(),
                            .new_relationship = after->relationship_score(),
                            .new_priority = after->priority_score()});
    } else if (before->action().code() != after->action().code()) {
      ++diff.changed_action_only;
    } else if (before->grade() != after->grade()) {
      ++diff.changed_grade_only;
    }
  }
  for (const auto& [cell, n] : diff.old_counts)
    diff.new_counts.try_emplace(cell, 0);
  for (const auto& [cell, n] : diff.new_counts)
    diff.old_counts.try_emplace(cell, 0);
  std::stable_sort(diff.moved.begin(), diff.moved.end(),
                   [](const RulesDiff::Move& a, const RulesDiff::Move& b) {
                     if (a.new_priority != b.new_priority) {
                       return a.new_priority > b.new_priority;
                     }
                     return a.opportunity_id < b.opportunity_id;
                   });
  return diff;
}

namespace {

// Moves ordered by count, largest first, then by name.
std::vector<std::pair<std::pair<std::string, std::string>, int64_t>>
MovesByCount(const RulesDiff& diff) {
  std::vector<std::pair<std::pair<std::string, std::string>, int64_t>> out(
      diff.moves.begin(), diff.moves.end());
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.second > b.second;
  });
  return out;
}

}  // namespace

std::string FormatRulesDiff(const RulesDiff& diff, int max_listed) {
  std::string out = absl::StrFormat("old ruleset %s\nnew ruleset %s\n\n",
                                    diff.old_version, diff.new_version);
  absl::StrAppendFormat(&out, "%d opportunities change cell",
                        diff.changed_cell);
  for (const auto& [move, n] : MovesByCount(diff)) {
    absl::StrAppendFormat(&out, ", %d %s->%s", n, move.first, move.second);
  }
  absl::StrAppendFormat(&out, " (of %d compared)\n", diff.compared);
  if (diff.changed_action_only > 0 || diff.changed_grade_only > 0) {
    absl::StrAppendFormat(&out,
                          "%d keep their cell but change action, %d change "
                          "grade only\n",
                          diff.changed_action_only, diff.changed_grade_only);
  }
  if (diff.invalid > 0) {
    absl::StrAppendFormat(&out, "%d invalid, not compared (first: %s)\n",
                          diff.invalid, diff.first_invalid);
  }
  absl::StrAppendFormat(&out, "\n%-12s %8s %8s %8s\n", "cell", "old", "new",
                        "change");
  for (const auto& [cell, before] : diff.old_counts) {
    int64_t after = diff.new_counts.at(cell);
    absl::StrAppendFormat(&out, "%-12s %8d %8d %+8d\n", cell, before, after,
                          after - before);
  }
  if (!diff.moved.empty() && max_listed > 0) {
    absl::StrAppendFormat(&out, "\nmoved, highest new priority first:\n");
    int listed = 0;
    for (const RulesDiff::Move& m : diff.moved) {
      if (listed++ == max_listed) {
        absl::StrAppendFormat(&out, "  ... and %d more\n",
                              diff.moved.size() - max_listed);
        break;
      }
      absl::StrAppendFormat(
          &out,
          "  %-14s %8s -> %-8s potential %6.2f -> %6.2f  relationship "
          "%6.2f -> %6.2f\n",
          m.opportunity_id, m.from_cell, m.to_cell, m.old_potential,
          m.new_potential, m.old_relationship, m.new_relationship);
    }
  }
  return out;
}

google::protobuf::Struct RulesDiffToStruct(const RulesDiff& diff,
                                           int max_listed) {
  google::protobuf::Struct s;
  auto& f = *s.mutable_fields();
  f["old_version"].set_string_value(diff.old_version);
  f["new_version"].set_string_value(diff.new_version);
  f["compared"].set_number_value(static_cast<double>(diff.compared));
  f["invalid"].set_number_value(static_cast<double>(diff.invalid));
  f["changed_cell"].set_number_value(static_cast<double>(diff.changed_cell));
  f["changed_action_only"].set_number_value(
      static_cast<double>(diff.changed_action_only));
  f["changed_grade_only"].set_number_value(
      static_cast<double>(diff.changed_grade_only));
  auto* moves = f["moves"].mutable_list_value();
  for (const auto& [move, n] : MovesByCount(diff)) {
    auto& m = *moves->add_values()->mutable_struct_value()->mutable_fields();
    m["from"].set_string_value(move.first);
    m["to"].set_string_value(move.second);
    m["count"].set_number_value(static_cast<double>(n));
  }
  auto* cells = f["cells"].mutable_struct_value()->mutable_fields();
  for (const auto& [cell, before] : diff.old_counts) {
    auto& c = *(*cells)[cell].mutable_struct_value()->mutable_fields();
    c["old"].set_number_value(static_cast<double>(before));
    c["new"].set_number_value(static_cast<double>(diff.new_counts.at(cell)));
  }
  auto* moved = f["moved"].mutable_list_value();
  for (size_t i = 0; i < diff.moved.size() && static_cast<int>(i) < max_listed;
       ++i) {
    const RulesDiff::Move& m = diff.moved[i];
    auto& o = *moved->add_values()->mutable_struct_value()->mutable_fields();
    o["opportunity_id"].set_string_value(m.opportunity_id);
    o["from"].set_string_value(m.from_cell);
    o["to"].set_string_value(m.to_cell);
    o["old_potential"].set_number_value(m.old_potential);
    o["new_potential"].set_number_value(m.new_potential);
    o["old_relationship"].set_number_value(m.old_relationship);
    o["new_relationship"].set_number_value(m.new_relationship);
  }
  return s;
}

}  // namespace oppmatrix
