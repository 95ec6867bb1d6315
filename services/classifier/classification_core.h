// The request-level work of ClassificationService, with no gRPC: request
// validation with field paths, batch and page limits, the result cache and
// storage through a ResultStore, and the read model. The service glue calls
// these; tests can too.
//
//   ClassificationCore core(&rules, store.get(), {});
//   core.ClassifyAsync(request, deadline,
//                      [](absl::StatusOr<v1::ClassifyResponse> r) { ... });
//
// Storage is best effort on the classify path: when the store fails (Redis
// down), results are still answered, marked `stored: false`. Reads need the
// store and answer UNAVAILABLE without it.
#ifndef OPPMATRIX_SERVICES_CLASSIFIER_CLASSIFICATION_CORE_H_
#define OPPMATRIX_SERVICES_CLASSIFIER_CLASSIFICATION_CORE_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "oppmatrix/v1/classification_service.pb.h"
#include "services/classifier/ruleset_watcher.h"
#include "services/common/status_util.h"
#include "services/store/result_store.h"

namespace oppmatrix {

// Limits of the read RPCs (documented in the proto and the README).
inline constexpr int kDefaultPageSize = 50;
inline constexpr int kMaxPageSize = 500;
inline constexpr int kMaxTopN = 100;

// The trend of a history (newest first): its priority moved by at least
// kTrendPoints up (IMPROVING) or down (DECLINING) from the oldest entry
// to the newest, or less (STEADY); UNSPECIFIED below two entries.
inline constexpr double kTrendPoints = 5;

// The longest a pin may hold, and the longest reason and author it keeps.
inline constexpr int kMaxPinDays = 366;
inline constexpr size_t kMaxPinReasonBytes = 1024;
inline constexpr size_t kMaxPinAuthorBytes = 256;
v1::Trend TrendOf(absl::Span<const v1::HistoryEntry> newest_first);

// The content hash results are cached under: SHA-256 of the opportunity's
// deterministic encoding (every field, version included).
std::string OpportunityFingerprint(const v1::Opportunity& opportunity);

// Classifies a validated `opportunity` by `rules` into `out`, and says how
// to store the result: with the opportunity's deterministic encoding
// (PutItem::input), its fingerprint and field digests, computed from the
// same bytes, and every factor's contribution with the factors' names (for
// Explain). `rules` and `out` must outlive the store call.
PutItem ClassifyForStore(const v1::Opportunity& opportunity,
                         const CompiledRuleset& rules, absl::Time now,
                         bool with_reasons, v1::Classification* out);

// Hundredths of a currency unit as Money.
google::type::Money CentsToMoney(int64_t cents, const std::string& currency);

class ClassificationCore {
 public:
  struct Options {
    // Largest BatchClassify request, in opportunities.
    int max_batch_size = 1000;
    // A stored result of the same content and ruleset version, in the
    // same cell at the same priority, is current (not written again, the
    // answer says `cached`) while it is younger than this. Zero writes
    // every result.
    absl::Duration cache_max_age = absl::Hours(1);
    // Upper bound of each store call, within the call's own deadline.
    absl::Duration store_timeout = absl::Milliseconds(500);
    // The clock classification reads; tests inject a fixed one.
    std::function<absl::Time()> clock = [] { return absl::Now(); };
  };

  // Counters for logs and tests.
  struct Stats {
    int64_t stored = 0;        // results written
    int64_t cache_hits = 0;    // results already current in the store
    int64_t store_errors = 0;  // store calls that failed
    int64_t deleted = 0;       // results removed by DeleteClassification
  };

  // `rules` must outlive the core; `store` too, and may be null (no
  // storage: every result is `stored: false`, reads are UNAVAILABLE).
  ClassificationCore(const RulesetSource* rules, ResultStore* store,
                     Options options);

  // Every RPC answers through a callback, `done`, which runs once: on the
  // store's I/O thread once the store has answered, or on the caller's
  // thread before the call returns (a bad request, no store). The request
  // must stay valid until then; `done` must not block. No thread waits.
  // The response is the core's, valid while `done` runs (`done` may take
  // it apart); it may live on an arena.
  template <typename Response>
  using Callback = absl::AnyInvocable<void(absl::StatusOr<Response*>) &&>;
  using ClassifyCallback = Callback<v1::ClassifyResponse>;

  // Classify: INVALID_ARGUMENT (with BadRequest) for a missing or bad
  // opportunity. Scored, then stored in one round trip.
  void ClassifyAsync(const v1::ClassifyRequest& request, absl::Time deadline,
                     ClassifyCallback done);
  // BatchClassify: INVALID_ARGUMENT only for a batch over max_batch_size;
  // bad items get their own status ("opportunities[3].id: is required").
  // Storing is one round trip.
  void BatchClassifyAsync(const v1::BatchClassifyRequest& request,
                          absl::Time deadline,
                          Callback<v1::BatchClassifyResponse> done);
  // One item of ClassifyStream from ClassifyAsync's answer: the status
  // travels inside the result.
  static v1::ClassifyResult StreamResult(
      const v1::ClassifyRequest& request,
      absl::StatusOr<v1::ClassifyResponse*> response);

  void GetClassificationAsync(const v1::GetClassificationRequest& request,
                              absl::Time deadline,
                              Callback<v1::GetClassificationResponse> done);
  // GetHistory: as GetClassification, with the result's kept states.
  void GetHistoryAsync(const v1::GetHistoryRequest& request,
                       absl::Time deadline,
                       Callback<v1::GetHistoryResponse> done);
  // Explain: as GetHistory (one store round trip), then ExplainChange;
  // INVALID_ARGUMENT (with BadRequest) also for entries out of 0..99 or
  // from_entry not above to_entry.
  void ExplainAsync(const v1::ExplainRequest& request, absl::Time deadline,
                    Callback<v1::ExplainResponse> done);
  // GetAccount: INVALID_ARGUMENT (with BadRequest) for a bad tenant or
  // account id; NOT_FOUND when none of the account's results is stored.
  // One store round trip; aggregated by the ruleset in force.
  void GetAccountAsync(const v1::GetAccountRequest& request,
                       absl::Time deadline,
                       Callback<v1::GetAccountResponse> done);
  void GetMatrixAsync(const v1::GetMatrixRequest& request, absl::Time deadline,
                      Callback<v1::GetMatrixResponse> done);
  void ListOpportunitiesAsync(const v1::ListOpportunitiesRequest& request,
                              absl::Time deadline,
                              Callback<v1::ListOpportunitiesResponse> done);
  void ListTransitionsAsync(const v1::ListTransitionsRequest& request,
                            absl::Time deadline,
                            Callback<v1::ListTransitionsResponse> done);
  // DeleteClassification: INVALID_ARGUMENT only for a batch over
  // max_batch_size; bad items get their own status. One store round trip;
  // UNAVAILABLE while the store fails (or without one).
  void DeleteClassificationAsync(
      const v1::DeleteClassificationRequest& request, absl::Time deadline,
      Callback<v1::DeleteClassificationResponse> done);

  // WhatIf: INVALID_ARGUMENT (with BadRequest) for a missing or bad
  // opportunity, a target_cell that is not a cell of the active ruleset,
  // an unspecified or repeated lever, or max_options outside 0..10.
  // Computed on the caller's thread (the engine alone, no store): about
  // 30 µs with the default ruleset (`./run bench engine`), and bounded
  // whatever the ruleset (see services/engine/whatif.h).
  void WhatIfAsync(const v1::WhatIfRequest& request, absl::Time deadline,
                   Callback<v1::WhatIfResponse> done);

  // PinOpportunity and UnpinOpportunity: INVALID_ARGUMENT (with
  // BadRequest) for a bad tenant or id, a cell that is not one of the
  // tenant's ruleset in force, a reason or author empty or too long, an
  // expiry not after now or more than kMaxPinDays ahead; NOT_FOUND when
  // nothing is stored. Two store round trips: the stored opportunity is
  // read, classified again and stored with the pin set or removed.
  void PinAsync(const v1::PinOpportunityRequest& request, absl::Time deadline,
                Callback<v1::PinOpportunityResponse> done);
  void UnpinAsync(const v1::UnpinOpportunityRequest& request,
                  absl::Time deadline,
                  Callback<v1::UnpinOpportunityResponse> done);

  Stats stats() const;
  bool has_store() const { return store_ != nullptr; }

 private:
  struct Item;
  struct Batch;
  // Classifies a batch's validated items, each by its tenant's ruleset:
  // scoring, then one store call; `done` runs when the results are final.
  void ClassifyItems(std::shared_ptr<Batch> batch, bool with_reasons,
                     absl::Time deadline, absl::AnyInvocable<void() &&> done);
  // GetMatrix's answer: the ruleset's cells, then cells only stored.
  static v1::GetMatrixResponse MatrixResponse(const std::string& tenant_id,
                                              const CompiledRuleset& rules,
                                              std::vector<StoredCell>& stored);
  // INVALID_ARGUMENT (with BadRequest) for a Classify request without a
  // valid opportunity.
  static absl::Status CheckClassify(const v1::ClassifyRequest& request);
  // GetClassification and GetHistory: checks the request, reads the result
  // with its history, and answers what `fill(history, response)` makes.
  template <typename Response, typename Fill>
  void ReadHistory(absl::string_view tenant_id, absl::string_view id,
                   absl::Time deadline, Fill fill, Callback<Response> done);
  struct PinCall;
  // Reads, classifies again and stores with the pin change; retried when a
  // newer write came between the read and the store.
  void PinStep(std::shared_ptr<PinCall> call);
  // INVALID_ARGUMENT for a bad GetClassification or GetHistory request
  // (with `more` violations of the caller's own); the read preconditions
  // (a store).
  absl::Status CheckGet(absl::string_view tenant_id, absl::string_view id,
                        std::vector<FieldViolation> more = {}) const;
  // How results classified at `now` are stored: current ones are kept.
  PutOptions PutOptionsAt(absl::Time now) const;
  // The store's outcome of a put, into `result` (a ClassifyResult or a
  // ClassifyResponse).
  template <typename Result>
  void TakeOutcome(const PutOutcome& outcome, Result* result);
  // The deadline of one store call.
  absl::Time StoreDeadline(absl::Time call_deadline) const;
  // Logs a store failure (at most once per 10 s) and counts it.
  void NoteStoreError(const absl::Status& status);
  absl::Status ReadStatus(const absl::Status& status) const;

  const RulesetSource* rules_;
  ResultStore* store_;
  const Options options_;
  std::atomic<int64_t> stored_{0};
  std::atomic<int64_t> cache_hits_{0};
  std::atomic<int64_t> store_errors_{0};
  std::atomic<int64_t> deleted_{0};
  std::atomic<int64_t> last_error_log_ms_{0};
};

}  // namespace oppmatrix

#endif  // OPPMATRIX_SERVICES_CLASSIFIER_CLASSIFICATION_CORE_H_
