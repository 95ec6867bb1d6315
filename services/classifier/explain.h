// Why an opportunity's classification changed: two states of its stored
// history compared, factor by factor. Pure: the history in, the answer out.
//
//   absl::StatusOr<v1::ExplainResponse> why =
//       ExplainChange(history.entries, /*to_entry=*/0, /*from_entry=*/1);
#ifndef OPPMATRIX_SERVICES_CLASSIFIER_EXPLAIN_H_
#define OPPMATRIX_SERVICES_CLASSIFIER_EXPLAIN_H_

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "oppmatrix/v1/classification.pb.h"
#include "oppmatrix/v1/classification_service.pb.h"

namespace oppmatrix {

// Most factors a summary sentence names per score.
inline constexpr int kExplainFactorsPerScore = 3;

// Compares entries[from_entry] (earlier) with entries[to_entry] (later) of
// a newest-first history; from_entry 0 means to_entry + 1. The indexes must
// be in range (0 <= to_entry < from_entry): FAILED_PRECONDITION naming
// how many states the history holds otherwise.
absl::StatusOr<v1::ExplainResponse> ExplainChange(
    absl::Span<const v1::HistoryEntry> newest_first, int to_entry,
    int from_entry);

}  // namespace oppmatrix

#endif  // OPPMATRIX_SERVICES_CLASSIFIER_EXPLAIN_H_
