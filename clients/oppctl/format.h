// Renders classifications for people (an aligned table) and for scripts
// (canonical JSON with the proto field names).
//
//   std::cout << FormatClassificationTable(c);
#ifndef OPPMATRIX_CLIENTS_OPPCTL_FORMAT_H_
#define OPPMATRIX_CLIENTS_OPPCTL_FORMAT_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "google/protobuf/message.h"
#include "oppmatrix/v1/classification.pb.h"
#include "oppmatrix/v1/classification_service.pb.h"
#include "oppmatrix/v1/ruleset_service.pb.h"

namespace oppmatrix {

// A readable multi-line table of one classification.
std::string FormatClassificationTable(const v1::Classification& c);

// The classified opportunities placed on the matrix: one box per
// (potential band, relationship band) seen, relationship rising upwards,
// potential rising to the right, with the cell id and the opportunity ids
// in priority order.
std::string FormatMatrixSummary(const std::vector<v1::Classification>& results);

// A tenant's stored matrix as a boxed grid, relationship rising upwards and
// potential to the right: per cell its id and label, count, total amount,
// action, and the top opportunities.
std::string FormatStoredMatrix(const v1::GetMatrixResponse& matrix);

// The same as plain text for pipes and files: a header line, then one
// block per cell (id, label, count, amount, action, top opportunities).
std::string FormatStoredMatrixPlain(const v1::GetMatrixResponse& matrix);

// "1.25M USD": an amount for people, three significant digits.
std::string FormatMoney(const google::type::Money& money);

// One line per classification: id, grade, priority, scores, amount.
std::string FormatClassificationLine(const v1::Classification& c);

// A GetAccount answer: the account's cell, scores and counts, then its
// open opportunities, one line each.
std::string FormatAccount(const v1::GetAccountResponse& a);

// A GetHistory answer: the result, its trend, then one line per state,
// newest first: time, cell, grade, scores, ruleset, version and cause.
std::string FormatHistory(const v1::GetHistoryResponse& r);
// Explain's answer: the two states, the summary, and a table of the
// factors (before, after, change).
std::string FormatExplain(const v1::ExplainResponse& r);

// A WhatIf answer: where the opportunity is, then each option's changes
// and the result they give.
std::string FormatWhatIf(const v1::WhatIfResponse& r);

// Changed fields a transition line names; the rest are counted.
inline constexpr int kTransitionFieldsShown = 3;

// One line per cell move: time, opportunity, from -> to, priority, ruleset,
// cause and the first changed fields.
std::string FormatTransitionLine(const v1::Transition& t);

// One line of JSON with proto field names (snake_case); with_defaults
// prints the fields at their zero value too (scripts read them).
std::string FormatJson(const google::protobuf::Message& message,
                       bool with_defaults = false);

// An error for people: the status, then one line per field violation.
std::string FormatError(const absl::Status& status);

// A tenant's rulesets (ListRulesets): the one in force, the versions
// (in force marked "*") and the publications, newest first.
std::string FormatRulesetList(const v1::ListRulesetsResponse& r);

// What publishing a version would move (PreviewRuleset): the headline,
// the (from, to) pairs with counts and amounts, then the moved
// opportunities.
std::string FormatRulesetPreview(const v1::PreviewRulesetResponse& r);

// One publication or rollback, e.g. "2026-11-23T12:00:01Z  publish
// strict@3f2a9c0d81b4 (was the default) by ana".
std::string FormatRulesetPublication(const v1::RulesetPublication& p);

// A rescore's progress, one line: "rescore 3 to strict@3f2a9c0d81b4:
// running, 1400 of 5000 (28 %), 230 moved, 0 skipped, since
// 2026-11-23T12:00:01Z on host:12:ab12cd34", or "... done: ...".
std::string FormatRescoreStatus(const v1::RescoreStatus& r);

}  // namespace oppmatrix

#endif  // OPPMATRIX_CLIENTS_OPPCTL_FORMAT_H_
