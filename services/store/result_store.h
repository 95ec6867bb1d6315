// The storage-neutral interface the classification service keeps its
// results behind: the result cache, the per-tenant read model (matrix, cell
// listings) and the cell-move events. RedisResultStore implements it; the
// service never sees Redis.
//
//   absl::StatusOr<std::vector<PutOutcome>> out =
//       store->Put({{&classification, fingerprint, /*with_reasons=*/true}},
//                  {.now = now}, deadline);
#ifndef OPPMATRIX_SERVICES_STORE_RESULT_STORE_H_
#define OPPMATRIX_SERVICES_STORE_RESULT_STORE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "oppmatrix/v1/classification.pb.h"
#include "oppmatrix/v1/classification_service.pb.h"
#include "oppmatrix/v1/dimensions.pb.h"
#include "oppmatrix/v1/opportunity.pb.h"

namespace oppmatrix {

// How a Put treats what is stored.
struct PutOptions {
  // When the results are stored: expiry, transitions, purging.
  absl::Time now;
  // A stored result that is current is kept as it is and nothing is
  // written (PutOutcome::current): made from the same fingerprint by the
  // same ruleset version, in the same cell at the same priority, with
  // reasons if the new one has them, and classified at or after this.
  // InfiniteFuture: always write.
  absl::Time keep_current_since = absl::InfiniteFuture();
};

// One result to store.
struct PutItem {
  const v1::Classification* classification = nullptr;  // not owned
  std::string fingerprint = {};
  // Whether `classification` carries its reasons.
  bool with_reasons = true;
  // The opportunity it was classified from (its deterministic protobuf
  // encoding), kept with the result so that a new ruleset can be
  // previewed and the result rescored without the CRM; empty keeps none.
  std::string input = {};
  // Store it only over a stored result of the same fingerprint, else it is
  // superseded: a rescore from the stored opportunity must not overwrite
  // an update that was stored meanwhile, nor bring back a deleted result.
  bool only_over_same_input = false;
  // For explaining changes (history_codec.h): the input's FieldDigests,
  // compared with the stored ones to name the fields a data change
  // changed; every factor's contributions (EncodeContributions), kept in
  // the history line of a new state; and the names of those factors
  // (EncodeFactorNames), kept once per tenant and ruleset version (not
  // owned; must outlive the call as `classification` must). Empty: none.
  std::string field_digests = {};
  std::string contributions = {};
  absl::string_view factor_names = {};
};

// What storing one result did.
struct PutOutcome {
  // The cell the opportunity was in before its latest move ("" if never).
  std::string previous_cell;
  // Whether this result moved the opportunity to another cell (a
  // transition was appended).
  bool moved = false;
  // The stored result is of a newer opportunity version, or a deletion of
  // a newer version left its tombstone: this one was not kept (an update
  // that arrived late loses to the one it preceded).
  bool superseded = false;
  // The stored result was already current (PutOptions::keep_current_since):
  // nothing was written.
  bool current = false;
  // A pin holds (ResultStore::PinAsync): the patch the stored result shows
  // (a serialized Classification to merge over this one, with
  // `rules_cell` set to its cell); empty when none.
  std::string pin_patch = {};
};

// A pin to set or remove (ResultStore::PinAsync).
struct PinChange {
  std::string tenant_id;
  std::string opportunity_id;
  // The cell; empty removes the pin.
  std::string cell = {};
  absl::Time expire_time = absl::InfinitePast();
  // What the stored result shows while the pin holds: a serialized
  // Classification (the pin's cell, label, bands and action, and `pin`)
  // merged over the result's own.
  std::string patch = {};
};

// What setting or removing a pin did.
struct PinOutcome {
  // A result was stored (else nothing was written).
  bool found = false;
  // The stored result was not the one `item` was classified from (a newer
  // write came after it was read): nothing was written; read again.
  bool changed = false;
  // What storing the result again did.
  PutOutcome put = {};
};

// One stored result to remove: its opportunity was deleted in the CRM.
struct DeleteItem {
  std::string tenant_id;
  std::string opportunity_id;
  // The opportunity version the deletion is of: a stored result of this
  // version or a newer one is kept. 0: remove whatever is stored.
  int64_t version = 0;
};

// What removing one result did.
struct DeleteOutcome {
  // A result was stored and is gone.
  bool deleted = false;
  // The stored result is of this or a newer opportunity version and was
  // kept.
  bool superseded = false;
  // The cell the result was in ("" if none); a deleted result's move out
  // of it is a transition to no cell.
  std::string from_cell;
};

// Restricts a matrix to matching opportunities; unspecified means all.
struct MatrixFilter {
  v1::CustomerType customer_type = v1::CUSTOMER_TYPE_UNSPECIFIED;
  v1::Industry industry = v1::INDUSTRY_UNSPECIFIED;
  v1::BuyingStage buying_stage = v1::BUYING_STAGE_UNSPECIFIED;

  bool empty() const {
    return customer_type == v1::CUSTOMER_TYPE_UNSPECIFIED &&
           industry == v1::INDUSTRY_UNSPECIFIED &&
           buying_stage == v1::BUYING_STAGE_UNSPECIFIED;
  }
};

// One cell as stored: whatever cells results were filed under, including
// cells of an older ruleset.
struct StoredCell {
  std::string cell;
  int64_t count = 0;
  // Sum of the results' amounts, in hundredths of the base currency.
  int64_t amount_cents = 0;
  // The highest-priority results, best first.
  std::vector<v1::Classification> top;
};

// Most history entries a result keeps.
inline constexpr int kMaxHistoryLength = 100;

// A stored result with its history, newest state first.
struct StoredHistory {
  v1::Classification classification;
  std::vector<v1::HistoryEntry> entries = {};
  // The opportunity the result was classified from (PutItem::input);
  // nullopt when the result was stored without it.
  std::optional<v1::Opportunity> input = std::nullopt;
};

// An account's stored results.
struct StoredAccount {
  // How many results the account has (results holds at most the limit).
  int64_t total = 0;
  std::vector<v1::Classification> results;
};

// One page of a cell's results, highest priority first.
struct ResultPage {
  std::vector<v1::Classification> classifications;
  std::string next_page_token;  // empty on the last page
};

// One page of transitions, newest first.
struct TransitionPage {
  std::vector<v1::Transition> transitions;
  std::string next_page_token;  // empty when there are no more
};

// One stored result's opportunity, for a preview or a rescore.
struct StoredInputEntry {
  std::string opportunity_id;
  std::string cell;   // the result's stored cell
  std::string input;  // PutItem::input; empty when the result keeps none
};

// One step of a walk over a tenant's results (ResultStore::InputsAsync).
struct InputPage {
  std::vector<StoredInputEntry> entries;
  std::string cursor;  // of the next step; empty when the walk is done
};

// One step of a walk over the tenants with stored results
// (ResultStore::TenantsAsync).
struct TenantPage {
  std::vector<std::string> tenants;
  std::string cursor;  // of the next step; empty when the walk is done
};

class ResultStore {
 public:
  virtual ~ResultStore() = default;

  // Stores the results, keeps the indexes and totals in step and appends a
  // transition for each cell move, atomically per tenant; a result whose
  // opportunity_version is below the stored one's is not kept, and one
  // already current (see PutOptions) is not written again. The whole batch
  // is one round trip, with one script call per tenant (per 200 results).
  virtual absl::StatusOr<std::vector<PutOutcome>> Put(
      absl::Span<const PutItem> items, const PutOptions& options,
      absl::Time deadline) = 0;

  // Put and Get with the answer handed to `done` instead of returned, for
  // callers that must not wait (a server's reactors): `done` runs once,
  // from the store's I/O thread once it has answered (or before the call
  // returns). The items (and what they point to) must stay valid until
  // `done` ran. `done` must not block.
  using PutCallback =
      absl::AnyInvocable<void(absl::StatusOr<std::vector<PutOutcome>>) &&>;
  virtual void PutAsync(absl::Span<const PutItem> items,
                        const PutOptions& options, absl::Time deadline,
                        PutCallback done) = 0;
  using GetCallback =
      absl::AnyInvocable<void(absl::StatusOr<v1::Classification>) &&>;
  virtual void GetAsync(absl::string_view tenant_id, absl::string_view id,
                        absl::Time deadline, GetCallback done) = 0;

  // The stored result and its history (NOT_FOUND when none), answered as
  // GetAsync is.
  using HistoryCallback =
      absl::AnyInvocable<void(absl::StatusOr<StoredHistory>) &&>;
  virtual void HistoryAsync(absl::string_view tenant_id, absl::string_view id,
                            absl::Time deadline, HistoryCallback done) = 0;

  // The stored results of the opportunities whose `account_id` is
  // `account_id`, at most `limit` of them (those to expire first), answered
  // as GetAsync is; total 0 when there are none.
  using AccountCallback =
      absl::AnyInvocable<void(absl::StatusOr<StoredAccount>) &&>;
  virtual void AccountAsync(absl::string_view tenant_id,
                            absl::string_view account_id, absl::Time now,
                            int limit, absl::Time deadline,
                            AccountCallback done) = 0;

  // Delete, answered as PutAsync is, except that the items may go away
  // when DeleteAsync returns.
  using DeleteCallback =
      absl::AnyInvocable<void(absl::StatusOr<std::vector<DeleteOutcome>>) &&>;
  virtual void DeleteAsync(absl::Span<const DeleteItem> items, absl::Time now,
                           absl::Time deadline, DeleteCallback done) = 0;

  // Matrix, List and Transitions, answered as PutAsync is.
  using MatrixCallback =
      absl::AnyInvocable<void(absl::StatusOr<std::vector<StoredCell>>) &&>;
  using ListCallback = absl::AnyInvocable<void(absl::StatusOr<ResultPage>) &&>;
  using TransitionsCallback =
      absl::AnyInvocable<void(absl::StatusOr<TransitionPage>) &&>;
  virtual void MatrixAsync(absl::string_view tenant_id,
                           const MatrixFilter& filter, int top_n,
                           absl::Time now, absl::Time deadline,
                           MatrixCallback done) = 0;
  virtual void ListAsync(absl::string_view tenant_id, absl::string_view cell,
                         int page_size, absl::string_view page_token,
                         absl::Time deadline, ListCallback done) = 0;
  virtual void TransitionsAsync(absl::string_view tenant_id, int page_size,
                                absl::string_view page_token,
                                absl::Time deadline,
                                TransitionsCallback done) = 0;

  // One step of a walk over every stored result of the tenant, answered
  // as GetAsync is: start with an empty cursor and go on with each page's
  // until it is empty. A result stored for the whole walk comes at least
  // once; one may come twice (callers that count drop repeated ids).
  // `count` (1 to 1000) is how many results a step reads, roughly; only
  // those classified before `classified_before` are answered
  // (InfiniteFuture: all), so a step may answer none and go on.
  using InputsCallback = absl::AnyInvocable<void(absl::StatusOr<InputPage>) &&>;
  virtual void InputsAsync(absl::string_view tenant_id,
                           absl::string_view cursor, int count,
                           absl::Time classified_before, absl::Time deadline,
                           InputsCallback done) = 0;

  // One step of a walk over the tenants that have stored results, answered
  // as GetAsync is, like InputsAsync: a tenant stored for the whole walk
  // comes at least once, maybe twice; `count` (1 to 1000) is a hint.
  using TenantsCallback =
      absl::AnyInvocable<void(absl::StatusOr<TenantPage>) &&>;
  virtual void TenantsAsync(absl::string_view cursor, int count,
                            absl::Time deadline, TenantsCallback done) = 0;

  // Sets or removes a pin, then stores `item` (the result classified again
  // from its stored opportunity, with only_over_same_input) in the same
  // round trip, which files the result in the pin's cell (or back in the
  // rules' one) at once; answered as GetAsync is. While a pin holds, every
  // write of the result keeps it in the pin's cell and shows the pin, until
  // a write after its expiry (PinsDueAsync) removes it.
  using PinCallback = absl::AnyInvocable<void(absl::StatusOr<PinOutcome>) &&>;
  virtual void PinAsync(const PinChange& pin, const PutItem& item,
                        const PutOptions& options, absl::Time deadline,
                        PinCallback done) = 0;

  // Up to `count` (1 to 1000) of the tenant's results whose pin has ended
  // by `now`, for a write that removes it, answered as InputsAsync is (one
  // page, no cursor).
  virtual void PinsDueAsync(absl::string_view tenant_id, absl::Time now,
                            int count, absl::Time deadline,
                            InputsCallback done) = 0;

  // Up to `count` (1 to 1000) tenants with a pin that ended by `now`
  // (kept as each tenant's earliest pin expiry, by PinAsync and
  // SettlePinsAsync), answered as GetAsync is.
  using TenantsDueCallback =
      absl::AnyInvocable<void(absl::StatusOr<std::vector<std::string>>) &&>;
  virtual void PinnedTenantsAsync(absl::Time now, int count,
                                  absl::Time deadline,
                                  TenantsDueCallback done) = 0;
  // After the tenant's ended pins went: records its earliest pin expiry
  // left, or that it has none.
  using StatusCallback = absl::AnyInvocable<void(absl::Status) &&>;
  virtual void SettlePinsAsync(absl::string_view tenant_id, absl::Time deadline,
                               StatusCallback done) = 0;

  // The stored result (with `previous_cell`); NOT_FOUND if there is none.
  virtual absl::StatusOr<v1::Classification> Get(absl::string_view tenant_id,
                                                 absl::string_view id,
                                                 absl::Time deadline) = 0;

  // Removes the results with their index entries, and records each
  // removal from a cell as a transition to no cell (empty to_cell) at
  // `now`; atomically per tenant, one round trip for the batch. An item
  // with nothing stored is OK (deleted false).
  virtual absl::StatusOr<std::vector<DeleteOutcome>> Delete(
      absl::Span<const DeleteItem> items, absl::Time now,
      absl::Time deadline) = 0;

  // Per stored cell: count, total amount and the `top_n` best results,
  // restricted by `filter`. Results expired at `now` are left out.
  virtual absl::StatusOr<std::vector<StoredCell>> Matrix(
      absl::string_view tenant_id, const MatrixFilter& filter, int top_n,
      absl::Time now, absl::Time deadline) = 0;

  // One page of `cell`, highest priority first. `page_token` is empty or
  // a previous page's next_page_token (INVALID_ARGUMENT if malformed).
  virtual absl::StatusOr<ResultPage> List(absl::string_view tenant_id,
                                          absl::string_view cell, int page_size,
                                          absl::string_view page_token,
                                          absl::Time deadline) = 0;

  // One page of the tenant's transitions, newest first.
  virtual absl::StatusOr<TransitionPage> Transitions(
      absl::string_view tenant_id, int page_size, absl::string_view page_token,
      absl::Time deadline) = 0;
};

}  // namespace oppmatrix

#endif  // OPPMATRIX_SERVICES_STORE_RESULT_STORE_H_
