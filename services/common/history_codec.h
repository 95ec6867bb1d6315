// What a stored result keeps so that a change of its classification can be
// explained later, in the compact text forms the store's scripts compare
// and the history lines hold:
//
// - field digests: a short hash of each input field of the opportunity it
//   was classified from, "6:Ab3x_Q;12.3:k9Zz0A" (field numbers, so that a
//   script can say which fields changed without knowing protobuf);
// - contributions: every factor's points, in the ruleset's order,
//   "12.5,-3,0;8,-2.25" (potential factors, then relationship);
// - factor names: the labels those points belong to, kept once per
//   ruleset version, "amount,customer_type;has_champion".
//
//   std::string d = FieldDigests(DeterministicBytes(opportunity));
//   std::vector<std::string> f = FieldPathNames("6,12.3");  // amount, ...
#ifndef OPPMATRIX_SERVICES_COMMON_HISTORY_CODEC_H_
#define OPPMATRIX_SERVICES_COMMON_HISTORY_CODEC_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "oppmatrix/v1/classification.pb.h"

namespace oppmatrix {

// The digests of an Opportunity's fields, from its deterministic encoding:
// one per field present, except the id, tenant and version, and one per
// field of `account` and `relationship` (a repeated or map field is one).
// Bytes that do not parse as far as they go give the digests of what did.
std::string FieldDigests(absl::string_view opportunity_bytes);

// Field-number paths ("6,12.3", in any order) as Opportunity field paths
// ("account.industry", "amount"), sorted; a number the schema does not
// know stays as it is, after a '#'.
std::vector<std::string> FieldPathNames(absl::string_view numbers);

// Points of the potential factors, then the relationship ones.
std::string EncodeContributions(absl::Span<const double> potential,
                                absl::Span<const double> relationship);

// The labels of a ruleset's factors, in the same order.
std::string EncodeFactorNames(absl::Span<const std::string> potential,
                              absl::Span<const std::string> relationship);

// Contributions by name (Reason without detail); empty when either text
// does not parse or they do not have the same number of factors per axis.
std::vector<v1::Reason> DecodeContributions(absl::string_view names,
                                            absl::string_view contributions);

}  // namespace oppmatrix

#endif  // OPPMATRIX_SERVICES_COMMON_HISTORY_CODEC_H_
