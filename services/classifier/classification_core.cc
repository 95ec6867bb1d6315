#include "services/classifier/classification_core.h"

#include <algorithm>
#include <map>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "google/protobuf/arena.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/stubs/common.h"
#include "google/protobuf/util/time_util.h"
#include "google/protobuf/wire_format_lite.h"
#include "services/classifier/explain.h"
#include "services/common/enum_names.h"
#include "services/common/grpc_status.h"
#include "services/common/hash_util.h"
#include "services/common/history_codec.h"
#include "services/common/log.h"
#include "services/common/status_macros.h"
#include "services/common/status_util.h"
#include "services/engine/account.h"
#include "services/engine/engine.h"
#include "services/engine/opportunity_validator.h"
#include "services/engine/whatif.h"

namespace oppmatrix {
namespace {

constexpr size_t kMaxCellIdBytes = 64;

void CheckTenant(const std::string& tenant, std::vector<FieldViolation>& v) {
  ValidateTenantId(tenant, "tenant_id", v);
}

void CheckPageSize(int page_size, std::vector<FieldViolation>& v) {
  if (page_size < 0 || page_size > kMaxPageSize) {
    AddViolation(v, "page_size",
                 absl::StrCat("must be between 0 (default ", kDefaultPageSize,
                              ") and ", kMaxPageSize, ", got ", page_size));
  }
}

template <typename Enum>
void CheckEnum(const google::protobuf::EnumDescriptor* descriptor, Enum value,
               absl::string_view field, std::vector<FieldViolation>& v) {
  if (descriptor->FindValueByNumber(static_cast<int>(value)) == nullptr) {
    AddViolation(v, field,
                 absl::StrCat("unknown ", descriptor->name(), " value ",
                              static_cast<int>(value)));
  }
}

absl::Status Invalid(const std::vector<FieldViolation>& v) {
  return InvalidArgumentWithViolations("invalid request", v);
}

// What a read RPC checks before it reads: the request's violations, then
// that there is a store.
absl::Status ReadPreconditions(const std::vector<FieldViolation>& v,
                               const ResultStore* store) {
  if (!v.empty()) return Invalid(v);
  if (store == nullptr) {
    return absl::UnavailableError("no result store is configured (--redis)");
  }
  return absl::OkStatus();
}

int PageSize(int requested) {
  return requested == 0 ? kDefaultPageSize : requested;
}

}  // namespace

google::type::Money CentsToMoney(int64_t cents, const std::string& currency) {
  google::type::Money m;
  m.set_currency_code(currency);
  m.set_units(cents / 100);
  m.set_nanos(static_cast<int32_t>((cents % 100) * 10'000'000));
  return m;
}

namespace {

// The fingerprint of an opportunity's deterministic encoding.
std::string FingerprintOf(absl::string_view bytes) {
  return Sha256Hex(bytes).substr(0, 32);
}

}  // namespace

std::string OpportunityFingerprint(const v1::Opportunity& opportunity) {
  return FingerprintOf(DeterministicBytes(opportunity));
}

PutItem ClassifyForStore(const v1::Opportunity& opportunity,
                         const CompiledRuleset& rules, absl::Time now,
                         bool with_reasons, v1::Classification* out) {
  thread_local std::vector<double> contributions;
  ClassifyValidatedInto(opportunity, rules, now,
                        ClassifyOptions{.with_reasons = with_reasons,
                                        .contributions = &contributions},
                        out);
  PutItem item{.classification = out, .with_reasons = with_reasons};
  item.input = DeterministicBytes(opportunity);
  item.fingerprint = FingerprintOf(item.input);
  item.field_digests = FieldDigests(item.input);
  const size_t p =
      std::min(contributions.size(), rules.potential.factors.size());
  item.contributions =
      EncodeContributions(absl::MakeConstSpan(contributions.data(), p),
                          absl::MakeConstSpan(contributions).subspan(p));
  item.factor_names = rules.factor_names;
  return item;
}

struct ClassificationCore::Item {
  const v1::Opportunity* opportunity;
  v1::ClassifyResult* result;
};

// A BatchClassify call across the store's answer. The response lives on
// the batch's arena: its results, strings and reasons are a few blocks,
// freed at once.
struct ClassificationCore::Batch {
  google::protobuf::Arena arena;
  v1::BatchClassifyResponse* response =
      google::protobuf::Arena::CreateMessage<v1::BatchClassifyResponse>(&arena);
  std::vector<Item> items;  // results point into `response`
  std::vector<PutItem> puts;
  // The rulesets the puts' factor names point into.
  std::vector<std::shared_ptr<const CompiledRuleset>> rulesets;
};

ClassificationCore::ClassificationCore(const RulesetSource* rules,
                                       ResultStore* store, Options options)
    : rules_(rules), store_(store), options_(std::move(options)) {}

ClassificationCore::Stats ClassificationCore::stats() const {
  return {stored_.load(), cache_hits_.load(), store_errors_.load(),
          deleted_.load()};
}

absl::Time ClassificationCore::StoreDeadline(absl::Time call_deadline) const {
  return std::min(call_deadline, absl::Now() + options_.store_timeout);
}

void ClassificationCore::NoteStoreError(const absl::Status& status) {
  ++store_errors_;
  int64_t now_ms = absl::ToUnixMillis(absl::Now());
  int64_t last = last_error_log_ms_.load();
  if (now_ms - last >= 10'000 &&
      last_error_log_ms_.compare_exchange_strong(last, now_ms)) {
    Log(LogLevel::kWarning, "store",
        absl::StrCat("results not stored (answering without storage): ",
                     status.message()));
  }
}

PutOptions ClassificationCore::PutOptionsAt(absl::Time now) const {
  return {.now = now,
          .keep_current_since = options_.cache_max_age > absl::ZeroDuration()
                                    ? now - options_.cache_max_age
                                    : absl::InfiniteFuture()};
}

void ClassificationCore::ClassifyItems(std::shared_ptr<Batch> batch,
                                       bool with_reasons, absl::Time deadline,
                                       absl::AnyInvocable<void() &&> done) {
  const absl::Time now = options_.clock();
  const ClassifyOptions classify_options{.with_reasons = with_reasons};
  // Score every item (microseconds), then store them in one round trip:
  // the store skips the results it already holds.
  if (store_ != nullptr) batch->puts.reserve(batch->items.size());
  // Each item by its tenant's ruleset; a batch is mostly of one tenant.
  std::shared_ptr<const CompiledRuleset> rules;
  const std::string* rules_tenant = nullptr;
  for (Item& item : batch->items) {
    const std::string& tenant = item.opportunity->tenant_id();
    if (rules_tenant == nullptr || *rules_tenant != tenant) {
      rules = rules_->ForTenant(tenant);
      rules_tenant = &tenant;
      if (store_ != nullptr &&
          (batch->rulesets.empty() || batch->rulesets.back() != rules)) {
        batch->rulesets.push_back(rules);
      }
    }
    if (store_ != nullptr) {
      batch->puts.push_back(
          ClassifyForStore(*item.opportunity, *rules, now, with_reasons,
                           item.result->mutable_classification()));
    } else {
      ClassifyValidatedInto(*item.opportunity, *rules, now, classify_options,
                            item.result->mutable_classification());
    }
  }
  if (batch->puts.empty()) {
    std::move(done)();
    return;
  }
  Batch* raw = batch.get();
  store_->PutAsync(
      raw->puts, PutOptionsAt(now), StoreDeadline(deadline),
      [this, batch = std::move(batch), done = std::move(done)](
          absl::StatusOr<std::vector<PutOutcome>> outcome) mutable {
        if (outcome.ok()) {
          for (size_t i = 0; i < batch->items.size(); ++i) {
            TakeOutcome((*outcome)[i], batch->items[i].result);
          }
        } else {
          NoteStoreError(outcome.status());
        }
        std::move(done)();
      });
}

namespace {

// `c` as stored while a pin holds: the pin's patch over it, and the cell
// the rules gave.
void ShowPin(const std::string& patch, v1::Classification* c) {
  if (patch.empty()) return;
  std::string rules_cell = c->cell();
  if (c->MergeFromString(patch)) c->set_rules_cell(std::move(rules_cell));
}

// What a result pinned to `cell` shows: the cell's label, bands and action
// (refined by `c`'s customer type and value tier), and the pin. The label
// and bands are written even when empty or 0, which proto3 would leave
// out, so that they replace the result's own when merged over it.
std::string PinPatch(const v1::Cell& cell, const v1::Classification& c,
                     v1::Pin pin) {
  v1::Classification p;
  p.set_customer_type(c.customer_type());
  p.set_value_tier(c.value_tier());
  PlaceInCell(cell, &p);
  p.clear_customer_type();
  p.clear_value_tier();
  p.clear_cell_label();
  p.clear_potential_band();
  p.clear_relationship_band();
  *p.mutable_pin() = std::move(pin);
  std::string out = p.SerializeAsString();
  {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    google::protobuf::internal::WireFormatLite::WriteString(
        v1::Classification::kCellLabelFieldNumber, cell.label(), &coded);
    for (auto [number, value] :
         {std::pair{v1::Classification::kPotentialBandFieldNumber,
                    cell.potential_band()},
          {v1::Classification::kRelationshipBandFieldNumber,
           cell.relationship_band()}}) {
      google::protobuf::internal::WireFormatLite::WriteInt32(number, value,
                                                             &coded);
    }
  }
  return out;
}

bool ValidUtf8(absl::string_view s) {
  return google::protobuf::internal::IsStructurallyValidUTF8(
      s.data(), static_cast<int>(s.size()));
}

// A required text of at most `max` bytes of UTF-8.
void CheckText(absl::string_view field, absl::string_view text, size_t max,
               std::vector<FieldViolation>& v) {
  if (text.empty()) {
    AddViolation(v, field, "is required");
  } else if (text.size() > max) {
    AddViolation(
        v, field,
        absl::StrCat("must be at most ", max, " bytes, got ", text.size()));
  } else if (!ValidUtf8(text)) {
    AddViolation(v, field, "must be UTF-8 text");
  }
}

}  // namespace

// Answers `done` with a response of the result (PinOpportunityResponse,
// UnpinOpportunityResponse), or the error.
template <typename Response, typename Done>
absl::AnyInvocable<void(absl::StatusOr<v1::Classification*>) &&>
AnswerWithResult(Done done) {
  return
      [done = std::move(done)](absl::StatusOr<v1::Classification*> c) mutable {
        if (!c.ok()) {
          std::move(done)(c.status());
          return;
        }
        Response response;
        response.mutable_classification()->Swap(*c);
        std::move(done)(&response);
      };
}

struct ClassificationCore::PinCall {
  std::string tenant_id;
  std::string opportunity_id;
  // The cell of `rules` to pin to, and the pin; null: the pin goes.
  const v1::Cell* cell = nullptr;
  v1::Pin pin;
  absl::Time expire_time;
  std::shared_ptr<const CompiledRuleset> rules;
  absl::Time now;
  absl::Time deadline;
  int attempts = 0;
  // The answer: the result as stored.
  absl::AnyInvocable<void(absl::StatusOr<v1::Classification*>) &&> done;
  // Kept for the store call.
  v1::Classification result = {};
  PutItem item = {};
  PinChange change = {};
};

void ClassificationCore::PinAsync(const v1::PinOpportunityRequest& request,
                                  absl::Time deadline,
                                  Callback<v1::PinOpportunityResponse> done) {
  const absl::Time now = options_.clock();
  std::vector<FieldViolation> v;
  std::shared_ptr<const CompiledRuleset> rules =
      rules_->ForTenant(request.tenant_id());
  // Cell ids are upper case; "exit" means EXIT.
  const v1::Cell* cell = nullptr;
  for (const v1::Cell& c : rules->proto.matrix().cells()) {
    if (absl::EqualsIgnoreCase(c.id(), request.cell())) cell = &c;
  }
  if (request.cell().empty()) {
    AddViolation(v, "cell", "is required");
  } else if (cell == nullptr) {
    std::vector<std::string> ids;
    for (const v1::Cell& c : rules->proto.matrix().cells()) {
      ids.push_back(c.id());
    }
    AddViolation(
        v, "cell",
        absl::StrCat("must be a cell of the ruleset in force (",
                     absl::StrJoin(ids, ", "), "), got \"",
                     absl::CHexEscape(request.cell().substr(0, 64)), "\""));
  }
  CheckText("reason", request.reason(), kMaxPinReasonBytes, v);
  CheckText("author", request.author(), kMaxPinAuthorBytes, v);
  const google::protobuf::Timestamp& until = request.expire_time();
  absl::Time t = absl::InfinitePast();
  if (!request.has_expire_time()) {
    AddViolation(v, "expire_time", "is required");
  } else if (!IsValidTimestamp(until)) {
    AddViolation(v, "expire_time", kInvalidTimestamp);
  } else {
    t = ToAbslTime(until);
    if (t <= now) {
      AddViolation(v, "expire_time", "must be after now");
    } else if (t > now + absl::Hours(24 * kMaxPinDays)) {
      AddViolation(
          v, "expire_time",
          absl::StrCat("must be at most ", kMaxPinDays, " days ahead"));
    }
  }
  if (absl::Status s =
          CheckGet(request.tenant_id(), request.opportunity_id(), v);
      !s.ok()) {
    std::move(done)(s);
    return;
  }
  auto call = std::make_shared<PinCall>();
  call->tenant_id = request.tenant_id();
  call->opportunity_id = request.opportunity_id();
  call->cell = cell;
  call->expire_time = t;
  call->pin.set_cell(cell->id());
  call->pin.set_reason(request.reason());
  call->pin.set_author(request.author());
  *call->pin.mutable_pinned_time() =
      google::protobuf::util::TimeUtil::MillisecondsToTimestamp(
          absl::ToUnixMillis(now));
  *call->pin.mutable_expire_time() = until;
  call->rules = std::move(rules);
  call->now = now;
  call->deadline = deadline;
  call->done = AnswerWithResult<v1::PinOpportunityResponse>(std::move(done));
  PinStep(std::move(call));
}

void ClassificationCore::UnpinAsync(
    const v1::UnpinOpportunityRequest& request, absl::Time deadline,
    Callback<v1::UnpinOpportunityResponse> done) {
  if (absl::Status s = CheckGet(request.tenant_id(), request.opportunity_id());
      !s.ok()) {
    std::move(done)(s);
    return;
  }
  auto call = std::make_shared<PinCall>();
  call->tenant_id = request.tenant_id();
  call->opportunity_id = request.opportunity_id();
  call->rules = rules_->ForTenant(request.tenant_id());
  call->now = options_.clock();
  call->deadline = deadline;
  call->done = AnswerWithResult<v1::UnpinOpportunityResponse>(std::move(done));
  PinStep(std::move(call));
}

void ClassificationCore::PinStep(std::shared_ptr<PinCall> call) {
  PinCall* raw = call.get();
  store_->HistoryAsync(
      raw->tenant_id, raw->opportunity_id, StoreDeadline(raw->deadline),
      [this, call = std::move(call)](absl::StatusOr<StoredHistory> h) mutable {
        if (!h.ok()) {
          std::move(call->done)(ReadStatus(h.status()));
          return;
        }
        if (!h->input.has_value()) {
          std::move(call->done)(absl::FailedPreconditionError(absl::StrCat(
              "the stored result of opportunity \"", call->opportunity_id,
              "\" keeps no opportunity to classify again: classify it "
              "first")));
          return;
        }
        // Nothing to remove: the result as it is, unwritten.
        if (call->cell == nullptr && !h->classification.has_pin()) {
          std::move(call->done)(&h->classification);
          return;
        }
        call->result.Clear();
        call->item = ClassifyForStore(*h->input, *call->rules, call->now,
                                      /*with_reasons=*/true, &call->result);
        call->item.only_over_same_input = true;
        call->change = {.tenant_id = call->tenant_id,
                        .opportunity_id = call->opportunity_id,
                        .cell = call->cell ? call->cell->id() : ""};
        if (call->cell != nullptr) {
          call->change.expire_time = call->expire_time;
          call->change.patch = PinPatch(*call->cell, call->result, call->pin);
        }
        PinCall* raw = call.get();
        store_->PinAsync(
            raw->change, raw->item,
            {.now = raw->now, .keep_current_since = absl::InfiniteFuture()},
            StoreDeadline(raw->deadline),
            [this, call = std::move(call)](
                absl::StatusOr<PinOutcome> outcome) mutable {
              if (!outcome.ok()) {
                NoteStoreError(outcome.status());
                std::move(call->done)(ReadStatus(outcome.status()));
                return;
              }
              if (!outcome->found) {
                std::move(call->done)(absl::NotFoundError(absl::StrCat(
                    "no stored classification for tenant \"", call->tenant_id,
                    "\" opportunity \"", call->opportunity_id, "\"")));
                return;
              }
              // A newer write came between the read and this one: again
              // (after `changed` nothing was written; after a superseded
              // put the newer write has applied the change, and the answer
              // is read anew).
              const bool again = outcome->changed || outcome->put.superseded;
              if (again && ++call->attempts < 3) {
                PinStep(std::move(call));
                return;
              }
              if (again) {
                std::move(call->done)(absl::AbortedError(
                    outcome->changed
                        ? "the opportunity kept changing while it was read; "
                          "nothing was changed: try again"
                        : "the opportunity kept changing; the change is "
                          "made (every write applies it): read it with "
                          "GetClassification"));
                return;
              }
              call->result.set_previous_cell(outcome->put.previous_cell);
              ShowPin(outcome->put.pin_patch, &call->result);
              std::move(call->done)(&call->result);
            });
      });
}

template <typename Result>
void ClassificationCore::TakeOutcome(const PutOutcome& outcome,
                                     Result* result) {
  if (outcome.superseded) {
    result->set_superseded(true);
    return;
  }
  result->set_stored(true);
  if (outcome.current) {
    result->set_cached(true);
    ++cache_hits_;
  } else {
    ++stored_;
  }
  result->mutable_classification()->set_previous_cell(outcome.previous_cell);
  ShowPin(outcome.pin_patch, result->mutable_classification());
}

absl::Status ClassificationCore::CheckClassify(
    const v1::ClassifyRequest& request) {
  std::vector<FieldViolation> violations;
  if (!request.has_opportunity()) {
    AddViolation(violations, "opportunity", "is required");
  } else {
    ValidateOpportunity(request.opportunity(), "opportunity", violations);
  }
  if (!violations.empty()) {
    return InvalidArgumentWithViolations("invalid opportunity", violations);
  }
  return absl::OkStatus();
}

void ClassificationCore::ClassifyAsync(const v1::ClassifyRequest& request,
                                       absl::Time deadline,
                                       ClassifyCallback done) {
  if (absl::Status s = CheckClassify(request); !s.ok()) {
    std::move(done)(s);
    return;
  }
  // Score, then store in one round trip: the reactor finishes when the
  // store has answered. The response lives on the call's arena: its
  // strings and reasons are one block, freed at once.
  struct Call {
    google::protobuf::Arena arena;
    v1::ClassifyResponse* response = nullptr;
    PutItem put;
    std::shared_ptr<const CompiledRuleset> rules;  // put.factor_names's
    ClassifyCallback done;
  };
  auto call = std::make_shared<Call>();
  call->response = google::protobuf::Arena::CreateMessage<v1::ClassifyResponse>(
      &call->arena);
  const absl::Time now = options_.clock();
  call->rules = rules_->ForTenant(request.opportunity().tenant_id());
  if (store_ == nullptr) {
    ClassifyValidatedInto(
        request.opportunity(), *call->rules, now,
        ClassifyOptions{.with_reasons = !request.omit_reasons()},
        call->response->mutable_classification());
    std::move(done)(call->response);
    return;
  }
  call->put = ClassifyForStore(request.opportunity(), *call->rules, now,
                               !request.omit_reasons(),
                               call->response->mutable_classification());
  call->done = std::move(done);
  Call* raw = call.get();
  store_->PutAsync(absl::MakeConstSpan(&raw->put, 1), PutOptionsAt(now),
                   StoreDeadline(deadline),
                   [this, call = std::move(call)](
                       absl::StatusOr<std::vector<PutOutcome>> outcome) {
                     if (outcome.ok()) {
                       TakeOutcome((*outcome)[0], call->response);
                     } else {
                       NoteStoreError(outcome.status());
                     }
                     std::move(call->done)(call->response);
                   });
}

v1::ClassifyResult ClassificationCore::StreamResult(
    const v1::ClassifyRequest& request,
    absl::StatusOr<v1::ClassifyResponse*> response) {
  v1::ClassifyResult result;
  result.set_opportunity_id(request.opportunity().id());
  if (!response.ok()) {
    *result.mutable_status() = ToRpcStatus(ClientFacing(response.status()));
    return result;
  }
  *result.mutable_classification() = (*response)->classification();
  result.set_stored((*response)->stored());
  result.set_cached((*response)->cached());
  result.set_superseded((*response)->superseded());
  return result;
}

void ClassificationCore::BatchClassifyAsync(
    const v1::BatchClassifyRequest& request, absl::Time deadline,
    Callback<v1::BatchClassifyResponse> done) {
  if (request.opportunities_size() > options_.max_batch_size) {
    std::vector<FieldViolation> v;
    AddViolation(v, "opportunities",
                 absl::StrCat("at most ", options_.max_batch_size,
                              " opportunities per batch, got ",
                              request.opportunities_size()));
    std::move(done)(InvalidArgumentWithViolations("batch too large", v));
    return;
  }
  auto batch = std::make_shared<Batch>();
  v1::BatchClassifyResponse& response = *batch->response;
  response.mutable_results()->Reserve(request.opportunities_size());
  batch->items.reserve(request.opportunities_size());
  for (int i = 0; i < request.opportunities_size(); ++i) {
    const v1::Opportunity& opp = request.opportunities(i);
    v1::ClassifyResult* result = response.add_results();
    result->set_opportunity_id(opp.id());
    std::vector<FieldViolation> violations;
    ValidateOpportunity(opp, absl::StrCat("opportunities[", i, "]"),
                        violations);
    if (!violations.empty()) {
      *result->mutable_status() = ToRpcStatus(
          InvalidArgumentWithViolations("invalid opportunity", violations));
      continue;
    }
    batch->items.push_back({&opp, result});
  }
  Batch* raw = batch.get();
  ClassifyItems(std::move(batch), !request.omit_reasons(), deadline,
                [raw, done = std::move(done)]() mutable {
                  // `raw` lives until this ran: the store's callback holds
                  // the batch.
                  std::move(done)(raw->response);
                });
}

void ClassificationCore::DeleteClassificationAsync(
    const v1::DeleteClassificationRequest& request, absl::Time deadline,
    Callback<v1::DeleteClassificationResponse> done) {
  if (request.deletions_size() > options_.max_batch_size) {
    std::vector<FieldViolation> v;
    AddViolation(
        v, "deletions",
        absl::StrCat("at most ", options_.max_batch_size,
                     " deletions per call, got ", request.deletions_size()));
    std::move(done)(InvalidArgumentWithViolations("batch too large", v));
    return;
  }
  if (absl::Status s = ReadPreconditions({}, store_); !s.ok()) {
    std::move(done)(s);
    return;
  }
  auto response = std::make_shared<v1::DeleteClassificationResponse>();
  std::vector<DeleteItem> items;
  std::vector<v1::DeleteResult*> targets;
  for (int i = 0; i < request.deletions_size(); ++i) {
    const v1::OpportunityDeletion& d = request.deletions(i);
    v1::DeleteResult* result = response->add_results();
    result->set_opportunity_id(d.opportunity_id());
    const std::string at = absl::StrCat("deletions[", i, "]");
    std::vector<FieldViolation> v;
    ValidateTenantId(d.tenant_id(), absl::StrCat(at, ".tenant_id"), v);
    ValidateRequiredId(d.opportunity_id(), absl::StrCat(at, ".opportunity_id"),
                       v);
    if (d.version() < 0) {
      AddViolation(v, absl::StrCat(at, ".version"),
                   absl::StrCat("must not be negative, got ", d.version()));
    }
    if (!v.empty()) {
      *result->mutable_status() =
          ToRpcStatus(InvalidArgumentWithViolations("invalid deletion", v));
      continue;
    }
    items.push_back({d.tenant_id(), d.opportunity_id(), d.version()});
    targets.push_back(result);
  }
  store_->DeleteAsync(
      items, options_.clock(), StoreDeadline(deadline),
      [this, response, targets = std::move(targets), done = std::move(done)](
          absl::StatusOr<std::vector<DeleteOutcome>> out) mutable {
        if (!out.ok()) {
          NoteStoreError(out.status());
          std::move(done)(ReadStatus(out.status()));
          return;
        }
        int64_t deleted = 0;
        for (size_t i = 0; i < targets.size(); ++i) {
          const DeleteOutcome& o = (*out)[i];
          targets[i]->set_deleted(o.deleted);
          targets[i]->set_superseded(o.superseded);
          targets[i]->set_from_cell(o.from_cell);
          deleted += o.deleted ? 1 : 0;
        }
        deleted_.fetch_add(deleted, std::memory_order_relaxed);
        std::move(done)(response.get());
      });
}

absl::Status ClassificationCore::ReadStatus(const absl::Status& status) const {
  switch (status.code()) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      return UnavailableWithLogId(
          "the result store is unavailable, try again later", status);
    case absl::StatusCode::kNotFound:
      return status;
    case absl::StatusCode::kInvalidArgument: {
      // The store only rejects page tokens ("page_token: <why>").
      std::vector<FieldViolation> v;
      absl::string_view why = status.message();
      absl::ConsumePrefix(&why, "page_token: ");
      AddViolation(v, "page_token", why);
      return Invalid(v);
    }
    default:
      return absl::InternalError(
          absl::StrCat("result store: ", status.message()));
  }
}

absl::Status ClassificationCore::CheckGet(
    absl::string_view tenant_id, absl::string_view id,
    std::vector<FieldViolation> more) const {
  std::vector<FieldViolation> v;
  CheckTenant(std::string(tenant_id), v);
  if (id.empty()) {
    AddViolation(v, "opportunity_id", "is required");
  } else if (id.size() > kMaxIdBytes) {
    AddViolation(v, "opportunity_id",
                 absl::StrCat("must be at most ", kMaxIdBytes, " bytes, got ",
                              id.size()));
  }
  for (FieldViolation& f : more) v.push_back(std::move(f));
  return ReadPreconditions(v, store_);
}

v1::Trend TrendOf(absl::Span<const v1::HistoryEntry> newest_first) {
  if (newest_first.size() < 2) return v1::TREND_UNSPECIFIED;
  const double change = newest_first.front().priority_score() -
                        newest_first.back().priority_score();
  if (change >= kTrendPoints) return v1::TREND_IMPROVING;
  if (change <= -kTrendPoints) return v1::TREND_DECLINING;
  return v1::TREND_STEADY;
}

template <typename Response, typename Fill>
void ClassificationCore::ReadHistory(absl::string_view tenant_id,
                                     absl::string_view id, absl::Time deadline,
                                     Fill fill, Callback<Response> done) {
  if (absl::Status s = CheckGet(tenant_id, id); !s.ok()) {
    std::move(done)(s);
    return;
  }
  // One HMGET for the result and its history.
  store_->HistoryAsync(tenant_id, id, StoreDeadline(deadline),
                       [this, fill = std::move(fill), done = std::move(done)](
                           absl::StatusOr<StoredHistory> h) mutable {
                         if (!h.ok()) {
                           std::move(done)(ReadStatus(h.status()));
                           return;
                         }
                         Response response;
                         fill(*h, response);
                         std::move(done)(&response);
                       });
}

void ClassificationCore::GetClassificationAsync(
    const v1::GetClassificationRequest& request, absl::Time deadline,
    Callback<v1::GetClassificationResponse> done) {
  ReadHistory<v1::GetClassificationResponse>(
      request.tenant_id(), request.opportunity_id(), deadline,
      [](StoredHistory& h, v1::GetClassificationResponse& response) {
        response.set_trend(TrendOf(h.entries));
        if (!h.entries.empty()) response.set_cause(h.entries[0].cause());
        *response.mutable_classification() = std::move(h.classification);
        if (h.input.has_value()) {
          *response.mutable_opportunity() = *std::move(h.input);
        }
      },
      std::move(done));
}

void ClassificationCore::GetHistoryAsync(
    const v1::GetHistoryRequest& request, absl::Time deadline,
    Callback<v1::GetHistoryResponse> done) {
  ReadHistory<v1::GetHistoryResponse>(
      request.tenant_id(), request.opportunity_id(), deadline,
      [](StoredHistory& h, v1::GetHistoryResponse& response) {
        response.set_trend(TrendOf(h.entries));
        *response.mutable_classification() = std::move(h.classification);
        if (h.input.has_value()) {
          *response.mutable_opportunity() = *std::move(h.input);
        }
        for (v1::HistoryEntry& e : h.entries) {
          *response.add_entries() = std::move(e);
        }
      },
      std::move(done));
}

void ClassificationCore::ExplainAsync(const v1::ExplainRequest& request,
                                      absl::Time deadline,
                                      Callback<v1::ExplainResponse> done) {
  std::vector<FieldViolation> v;
  if (request.to_entry() < 0 || request.to_entry() >= kMaxHistoryLength) {
    AddViolation(v, "to_entry",
                 absl::StrCat("must be between 0 and ", kMaxHistoryLength - 1,
                              ", got ", request.to_entry()));
  }
  if (request.from_entry() != 0 &&
      (request.from_entry() <= request.to_entry() ||
       request.from_entry() >= kMaxHistoryLength)) {
    AddViolation(
        v, "from_entry",
        absl::StrCat("must be 0 (the entry before to_entry) or "
                     "above to_entry (",
                     request.to_entry(), ") and at most ",
                     kMaxHistoryLength - 1, ", got ", request.from_entry()));
  }
  if (!v.empty()) {
    std::move(done)(Invalid(v));
    return;
  }
  if (absl::Status s = CheckGet(request.tenant_id(), request.opportunity_id());
      !s.ok()) {
    std::move(done)(s);
    return;
  }
  store_->HistoryAsync(
      request.tenant_id(), request.opportunity_id(), StoreDeadline(deadline),
      [this, to = request.to_entry(), from = request.from_entry(),
       done = std::move(done)](absl::StatusOr<StoredHistory> h) mutable {
        if (!h.ok()) {
          std::move(done)(ReadStatus(h.status()));
          return;
        }
        absl::StatusOr<v1::ExplainResponse> why =
            ExplainChange(h->entries, to, from);
        if (!why.ok()) {
          std::move(done)(why.status());
          return;
        }
        std::move(done)(&*why);
      });
}

void ClassificationCore::WhatIfAsync(const v1::WhatIfRequest& request,
                                     absl::Time /*deadline*/,
                                     Callback<v1::WhatIfResponse> done) {
  std::shared_ptr<const CompiledRuleset> rules =
      rules_->ForTenant(request.opportunity().tenant_id());
  std::vector<FieldViolation> v;
  if (!request.has_opportunity()) {
    AddViolation(v, "opportunity", "is required");
  } else {
    ValidateOpportunity(request.opportunity(), "opportunity", v);
  }
  if (request.target_cell().empty()) {
    AddViolation(v, "target_cell", "is required");
  } else if (std::none_of(rules->proto.matrix().cells().begin(),
                          rules->proto.matrix().cells().end(),
                          [&](const v1::Cell& c) {
                            return c.id() == request.target_cell();
                          })) {
    std::vector<std::string> ids;
    for (const v1::Cell& c : rules->proto.matrix().cells()) {
      ids.push_back(c.id());
    }
    AddViolation(v, "target_cell",
                 absl::StrCat("\"", absl::CEscape(request.target_cell()),
                              "\" is not a cell of ruleset ", rules->version,
                              "; one of ", absl::StrJoin(ids, ", ")));
  }
  WhatIfOptions options;
  for (int i = 0; i < request.levers_size(); ++i) {
    const v1::Lever lever = request.levers(i);
    const std::string path = absl::StrCat("levers[", i, "]");
    if (LeverField(lever).empty()) {
      std::vector<std::string> names;
      const google::protobuf::EnumDescriptor* type = v1::Lever_descriptor();
      for (int k = 1; k < type->value_count(); ++k) {
        names.push_back(ShortEnumName(type->value(k)));
      }
      AddViolation(
          v, path,
          absl::StrCat("must be a lever: one of ", absl::StrJoin(names, ", ")));
    } else if (std::find(options.levers.begin(), options.levers.end(), lever) !=
               options.levers.end()) {
      AddViolation(v, path, "is repeated");
    } else {
      options.levers.push_back(lever);
    }
  }
  if (request.max_options() < 0 || request.max_options() > kWhatIfMaxOptions) {
    AddViolation(v, "max_options",
                 absl::StrCat("must be 0 to ", kWhatIfMaxOptions, ", got ",
                              request.max_options()));
  } else if (request.max_options() > 0) {
    options.max_options = request.max_options();
  }
  if (!v.empty()) {
    std::move(done)(
        InvalidArgumentWithViolations("invalid what-if request", v));
    return;
  }
  v1::WhatIfResponse response =
      WhatIf(request.opportunity(), *rules, options_.clock(),
             request.target_cell(), options);
  std::move(done)(&response);
}

void ClassificationCore::GetAccountAsync(
    const v1::GetAccountRequest& request, absl::Time deadline,
    Callback<v1::GetAccountResponse> done) {
  std::vector<FieldViolation> v;
  CheckTenant(request.tenant_id(), v);
  if (request.account_id().empty()) {
    AddViolation(v, "account_id", "is required");
  } else if (request.account_id().size() > kMaxIdBytes) {
    AddViolation(v, "account_id",
                 absl::StrCat("must be at most ", kMaxIdBytes, " bytes, got ",
                              request.account_id().size()));
  }
  if (absl::Status s = ReadPreconditions(v, store_); !s.ok()) {
    std::move(done)(s);
    return;
  }
  store_->AccountAsync(
      request.tenant_id(), request.account_id(), options_.clock(),
      kMaxAccountResults, StoreDeadline(deadline),
      [this, tenant = request.tenant_id(), account = request.account_id(),
       done = std::move(done)](absl::StatusOr<StoredAccount> a) mutable {
        if (!a.ok()) {
          std::move(done)(ReadStatus(a.status()));
          return;
        }
        if (a->total == 0) {
          std::move(done)(absl::NotFoundError(
              absl::StrCat("no stored classification for tenant \"", tenant,
                           "\" account \"", account, "\"")));
          return;
        }
        v1::GetAccountResponse response =
            RollUp(a->results, *rules_->ForTenant(tenant));
        response.set_tenant_id(tenant);
        response.set_account_id(account);
        response.set_opportunities(static_cast<int32_t>(a->total));
        response.set_truncated(a->total >
                               static_cast<int64_t>(a->results.size()));
        std::move(done)(&response);
      });
}

void ClassificationCore::GetMatrixAsync(const v1::GetMatrixRequest& request,
                                        absl::Time deadline,
                                        Callback<v1::GetMatrixResponse> done) {
  std::vector<FieldViolation> v;
  CheckTenant(request.tenant_id(), v);
  if (request.top_n() < 0 || request.top_n() > kMaxTopN) {
    AddViolation(v, "top_n",
                 absl::StrCat("must be between 0 and ", kMaxTopN, ", got ",
                              request.top_n()));
  }
  CheckEnum(v1::CustomerType_descriptor(), request.customer_type(),
            "customer_type", v);
  CheckEnum(v1::Industry_descriptor(), request.industry(), "industry", v);
  CheckEnum(v1::BuyingStage_descriptor(), request.buying_stage(),
            "buying_stage", v);
  if (absl::Status s = ReadPreconditions(v, store_); !s.ok()) {
    std::move(done)(s);
    return;
  }
  MatrixFilter filter{.customer_type = request.customer_type(),
                      .industry = request.industry(),
                      .buying_stage = request.buying_stage()};
  store_->MatrixAsync(
      request.tenant_id(), filter, request.top_n(), options_.clock(),
      StoreDeadline(deadline),
      [this, tenant = request.tenant_id(), done = std::move(done)](
          absl::StatusOr<std::vector<StoredCell>> stored) mutable {
        if (!stored.ok()) {
          std::move(done)(ReadStatus(stored.status()));
          return;
        }
        v1::GetMatrixResponse response =
            MatrixResponse(tenant, *rules_->ForTenant(tenant), *stored);
        std::move(done)(&response);
      });
}

v1::GetMatrixResponse ClassificationCore::MatrixResponse(
    const std::string& tenant_id, const CompiledRuleset& ruleset,
    std::vector<StoredCell>& stored) {
  const CompiledRuleset* rules = &ruleset;
  const v1::Ruleset& r = rules->proto;
  v1::GetMatrixResponse response;
  response.set_tenant_id(tenant_id);
  response.set_ruleset_version(rules->version);
  *response.mutable_potential_thresholds() = r.matrix().potential_thresholds();
  *response.mutable_relationship_thresholds() =
      r.matrix().relationship_thresholds();
  std::map<std::string, StoredCell*> by_id;
  for (StoredCell& cell : stored) by_id[cell.cell] = &cell;
  auto fill = [&](v1::MatrixCellSummary* summary, StoredCell* cell) {
    *summary->mutable_total_amount() =
        CentsToMoney(cell ? cell->amount_cents : 0, r.base_currency());
    if (cell == nullptr) return;
    summary->set_count(cell->count);
    for (v1::Classification& c : cell->top) *summary->add_top() = std::move(c);
  };
  // The ruleset's cells, by potential band then relationship band.
  for (const v1::Cell* cell : rules->cells) {
    v1::MatrixCellSummary* summary = response.add_cells();
    summary->set_cell(cell->id());
    summary->set_label(cell->label());
    summary->set_potential_band(cell->potential_band());
    summary->set_relationship_band(cell->relationship_band());
    *summary->mutable_action() = cell->action();
    auto it = by_id.find(cell->id());
    fill(summary, it == by_id.end() ? nullptr : it->second);
    if (it != by_id.end()) by_id.erase(it);
  }
  // Results still filed under cells an older ruleset had.
  for (auto& [id, cell] : by_id) {
    v1::MatrixCellSummary* summary = response.add_cells();
    summary->set_cell(id);
    summary->set_label("(not in the current ruleset)");
    summary->set_potential_band(-1);
    summary->set_relationship_band(-1);
    fill(summary, cell);
  }
  return response;
}

void ClassificationCore::ListOpportunitiesAsync(
    const v1::ListOpportunitiesRequest& request, absl::Time deadline,
    Callback<v1::ListOpportunitiesResponse> done) {
  std::vector<FieldViolation> v;
  CheckTenant(request.tenant_id(), v);
  const std::string& cell = request.cell();
  if (cell.empty()) {
    AddViolation(v, "cell", "is required, e.g. \"KEY\"");
  } else if (cell.size() > kMaxCellIdBytes ||
             !std::all_of(cell.begin(), cell.end(), [](char c) {
               return absl::ascii_isupper(static_cast<unsigned char>(c)) ||
                      absl::ascii_isdigit(static_cast<unsigned char>(c)) ||
                      c == '_';
             })) {
    AddViolation(v, "cell",
                 absl::StrCat("must be a cell id (upper-case letters, digits "
                              "and '_', at most ",
                              kMaxCellIdBytes, " bytes)"));
  }
  CheckPageSize(request.page_size(), v);
  if (absl::Status s = ReadPreconditions(v, store_); !s.ok()) {
    std::move(done)(s);
    return;
  }
  store_->ListAsync(
      request.tenant_id(), cell, PageSize(request.page_size()),
      request.page_token(), StoreDeadline(deadline),
      [this, done = std::move(done)](absl::StatusOr<ResultPage> page) mutable {
        if (!page.ok()) {
          std::move(done)(ReadStatus(page.status()));
          return;
        }
        v1::ListOpportunitiesResponse response;
        for (v1::Classification& c : page->classifications) {
          *response.add_classifications() = std::move(c);
        }
        response.set_next_page_token(page->next_page_token);
        std::move(done)(&response);
      });
}

void ClassificationCore::ListTransitionsAsync(
    const v1::ListTransitionsRequest& request, absl::Time deadline,
    Callback<v1::ListTransitionsResponse> done) {
  std::vector<FieldViolation> v;
  CheckTenant(request.tenant_id(), v);
  CheckPageSize(request.page_size(), v);
  if (absl::Status s = ReadPreconditions(v, store_); !s.ok()) {
    std::move(done)(s);
    return;
  }
  store_->TransitionsAsync(
      request.tenant_id(), PageSize(request.page_size()), request.page_token(),
      StoreDeadline(deadline),
      [this,
       done = std::move(done)](absl::StatusOr<TransitionPage> page) mutable {
        if (!page.ok()) {
          std::move(done)(ReadStatus(page.status()));
          return;
        }
        v1::ListTransitionsResponse response;
        for (v1::Transition& t : page->transitions) {
          *response.add_transitions() = std::move(t);
        }
        response.set_next_page_token(page->next_page_token);
        std::move(done)(&response);
      });
}

}  // namespace oppmatrix
