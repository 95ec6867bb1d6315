// The request-level work of RulesetService, with no gRPC: request checks
// with field paths, validation of uploaded rulesets, the preview against a
// tenant's stored results, and publication, which puts the version in
// force on this replica at once (TenantRulesets::Apply) and on the others
// at their next poll. The service glue calls these; tests can too.
//
//   RulesetCore core(&tenant_rulesets, &ruleset_store, result_store, {});
//   core.PublishAsync(request, deadline, [](auto response) { ... });
//
// Every call answers through `done`, once, as ClassificationCore's do: on
// the store's I/O thread once it answered, or before the call returns.
#ifndef OPPMATRIX_SERVICES_CLASSIFIER_RULESET_CORE_H_
#define OPPMATRIX_SERVICES_CLASSIFIER_RULESET_CORE_H_

#include <cstddef>
#include <functional>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "oppmatrix/v1/ruleset_service.pb.h"
#include "services/classifier/tenant_rulesets.h"
#include "services/common/status_util.h"
#include "services/store/result_store.h"
#include "services/store/ruleset_store.h"

namespace oppmatrix {

// Largest uploaded ruleset (the YAML text).
inline constexpr size_t kMaxRulesetUploadBytes = 1 << 20;
// Longest author and version strings.
inline constexpr size_t kMaxAuthorBytes = 200;
inline constexpr size_t kMaxVersionBytes = 200;
// Moved opportunities a preview lists by default and at most.
inline constexpr int kDefaultPreviewMoved = 100;
inline constexpr int kMaxPreviewMoved = 1000;
// Stored results a preview reads per round trip.
inline constexpr int kPreviewPage = 500;

class RulesetCore {
 public:
  struct Options {
    // Upper bound of each store call, within the call's own deadline.
    absl::Duration store_timeout = absl::Seconds(2);
    // The clock of upload and publication times.
    std::function<absl::Time()> clock = [] { return absl::Now(); };
    // Called after a publication or rollback that started a rescore (the
    // Rescorer's Wake); must not block.
    std::function<void()> on_change = nullptr;
  };

  template <typename Response>
  using Callback = absl::AnyInvocable<void(absl::StatusOr<Response*>) &&>;

  // Each pointer must outlive the core. `rulesets` and `results` may be
  // null: without a ruleset store every call is UNAVAILABLE; without a
  // result store a preview compares nothing.
  RulesetCore(TenantRulesets* rulesets, RulesetStore* store,
              ResultStore* results, Options options);

  // INVALID_ARGUMENT (with BadRequest) for a bad tenant, author or a
  // ruleset that does not validate: one violation of field "yaml" per
  // problem, "matrix.cells[2].action: ...".
  void UploadAsync(const v1::UploadRulesetRequest& request, absl::Time deadline,
                   Callback<v1::UploadRulesetResponse> done);
  // Reads the tenant's stored results kPreviewPage at a time, each page
  // scored on the store's I/O thread (about 1.5 ms for 500).
  void PreviewAsync(const v1::PreviewRulesetRequest& request,
                    absl::Time deadline,
                    Callback<v1::PreviewRulesetResponse> done);
  void PublishAsync(const v1::PublishRulesetRequest& request,
                    absl::Time deadline,
                    Callback<v1::PublishRulesetResponse> done);
  void RollbackAsync(const v1::RollbackRulesetRequest& request,
                     absl::Time deadline,
                     Callback<v1::RollbackRulesetResponse> done);
  void ListAsync(const v1::ListRulesetsRequest& request, absl::Time deadline,
                 Callback<v1::ListRulesetsResponse> done);
  void GetAsync(const v1::GetRulesetRequest& request, absl::Time deadline,
                Callback<v1::GetRulesetResponse> done);
  // The tenant's latest rescore; NOT_FOUND if it never published.
  void GetRescoreAsync(const v1::GetRescoreStatusRequest& request,
                       absl::Time deadline, Callback<v1::RescoreStatus> done);

 private:
  struct Preview;
  // One page of a preview's walk, then the next, then the answer.
  void PreviewStep(std::shared_ptr<Preview> preview, std::string cursor);
  // The version's compiled ruleset and its publication on this replica.
  void PutInForce(const std::string& tenant_id, const RulesetPublishOutcome& p,
                  absl::Status* error);
  absl::Time StoreDeadline(absl::Time call_deadline) const;
  // UNAVAILABLE without a ruleset store.
  absl::Status Preconditions() const;
  // INVALID_ARGUMENT with the request's violations, else Preconditions().
  absl::Status Admit(const std::vector<FieldViolation>& violations) const;

  TenantRulesets* const rulesets_;
  RulesetStore* const store_;
  ResultStore* const results_;
  const Options options_;
};

}  // namespace oppmatrix

#endif  // OPPMATRIX_SERVICES_CLASSIFIER_RULESET_CORE_H_
