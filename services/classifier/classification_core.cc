#include "services/classifier/classification_core.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "services/common/status_util.h"
#include "services/engine/engine.h"

namespace oppmatrix {
namespace {

absl::StatusOr<v1::Classification> ClassifyRequestItem(
    const v1::ClassifyRequest& request, const CompiledRuleset& rules,
    absl::Time now) {
  if (!request.has_opportunity()) {
    std::vector<FieldViolation> v;
    AddViolation(v, "opportunity", "is required");
    return InvalidArgumentWithViolations("invalid request", v);
  }
  return Classify(request.opportunity(), rules, now,
                  ClassifyOptions{.with_reasons = !request.omit_reasons()});
}

}  // namespace

absl::StatusOr<v1::ClassifyResponse> ClassifyOne(
    const v1::ClassifyRequest& request, const CompiledRuleset& rules,
    absl::Time now) {
  absl::StatusOr<v1::Classification> c =
      ClassifyRequestItem(request, rules, now);
  if (!c.ok()) return c.status();
  v1::ClassifyResponse response;
  *response.mutable_classification() = *std::move(c);
  return response;
}

v1::ClassifyResult ClassifyStreamItem(const v1::ClassifyRequest& request,
                                      const CompiledRuleset& rules,
                                      absl::Time now) {
  v1::ClassifyResult result;
  result.set_opportunity_id(request.opportunity().id());
  absl::StatusOr<v1::Classification> c =
      ClassifyRequestItem(request, rules, now);
  if (c.ok()) {
    *result.mutable_classification() = *std::move(c);
  } else {
    *result.mutable_status() = ToRpcStatus(c.status());
  }
  return result;
}

absl::StatusOr<v1::BatchClassifyResponse> ClassifyBatch(
    const v1::BatchClassifyRequest& request, const CompiledRuleset& rules,
    absl::Time now, int max_batch_size) {
  if (request.opportunities_size() > max_batch_size) {
    std::vector<FieldViolation> v;
    AddViolation(v, "opportunities",
                 absl::StrCat("at most ", max_batch_size,
                              " opportunities per batch, got ",
                              request.opportunities_size()));
    return InvalidArgumentWithViolations("batch too large", v);
  }
  v1::BatchClassifyResponse response;
  response.mutable_results()->Reserve(request.opportunities_size());
  const ClassifyOptions options{.with_reasons = !request.omit_reasons()};
  for (int i = 0; i < request.opportunities_size(); ++i) {
    const v1::Opportunity& opp = request.opportunities(i);
    v1::ClassifyResult* result = response.add_results();
    result->set_opportunity_id(opp.id());
    absl::StatusOr<v1::Classification> c = Classify(
        opp, rules, now, options, absl::StrCat("opportunities[", i, "]"));
    if (c.ok()) {
      *result->mutable_classification() = *std::move(c);
    } else {
      *result->mutable_status() = ToRpcStatus(c.status());
    }
  }
  return response;
}

}  // namespace oppmatrix
