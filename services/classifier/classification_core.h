// The request-level work of the classification RPCs, with no gRPC: request
// validation with field paths, batch limits and per-item results. The service
// glue calls these; tests can too.
//
//   absl::StatusOr<v1::ClassifyResponse> r =
//       ClassifyOne(request, *rules, now);
#ifndef OPPMATRIX_SERVICES_CLASSIFIER_CLASSIFICATION_CORE_H_
#define OPPMATRIX_SERVICES_CLASSIFIER_CLASSIFICATION_CORE_H_

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "oppmatrix/v1/classification_service.pb.h"
#include "services/engine/ruleset.h"

namespace oppmatrix {

// Classify: INVALID_ARGUMENT (with BadRequest) for a missing or bad
// opportunity.
absl::StatusOr<v1::ClassifyResponse> ClassifyOne(
    const v1::ClassifyRequest& request, const CompiledRuleset& rules,
    absl::Time now);

// One item of ClassifyStream: the status travels inside the result.
v1::ClassifyResult ClassifyStreamItem(const v1::ClassifyRequest& request,
                                      const CompiledRuleset& rules,
                                      absl::Time now);

// BatchClassify: INVALID_ARGUMENT only for a batch over `max_batch_size`;
// bad items get their own status ("opportunities[3].id: is required").
absl::StatusOr<v1::BatchClassifyResponse> ClassifyBatch(
    const v1::BatchClassifyRequest& request, const CompiledRuleset& rules,
    absl::Time now, int max_batch_size);

}  // namespace oppmatrix

#endif  // OPPMATRIX_SERVICES_CLASSIFIER_CLASSIFICATION_CORE_H_
