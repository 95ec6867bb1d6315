#include "services/classifier/ruleset_core.h"

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/util/time_util.h"
#include "services/classifier/classification_core.h"
#include "services/common/grpc_status.h"
#include "services/common/log.h"
#include "services/common/status_util.h"
#include "services/engine/engine.h"
#include "services/engine/opportunity_validator.h"

namespace oppmatrix {
namespace {

using google::protobuf::util::TimeUtil;

google::protobuf::Timestamp ToTimestamp(absl::Time t) {
  return TimeUtil::MillisecondsToTimestamp(absl::ToUnixMillis(t));
}

void CheckAuthor(const std::string& author, std::vector<FieldViolation>& v) {
  if (author.empty()) {
    AddViolation(v, "author", "is required");
  } else if (author.size() > kMaxAuthorBytes) {
    AddViolation(v, "author",
                 absl::StrCat("must be at most ", kMaxAuthorBytes,
                              " bytes, got ", author.size()));
  } else if (std::any_of(author.begin(), author.end(), [](char c) {
               return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
             })) {
    AddViolation(v, "author", "must not contain control characters");
  }
}

void CheckVersion(const std::string& version, std::vector<FieldViolation>& v) {
  if (version.empty()) {
    AddViolation(v, "version", "is required");
  } else if (version.size() > kMaxVersionBytes) {
    AddViolation(v, "version",
                 absl::StrCat("must be at most ", kMaxVersionBytes,
                              " bytes, got ", version.size()));
  }
}

absl::Status Invalid(const std::vector<FieldViolation>& v) {
  return InvalidArgumentWithViolations("invalid request", v);
}

// A store error as the client sees it: its own NOT_FOUND,
// FAILED_PRECONDITION and RESOURCE_EXHAUSTED as they are, Redis being down
// as UNAVAILABLE, the rest INTERNAL (its text goes to the log only).
absl::Status StoreStatus(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kResourceExhausted:
      return status;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      return UnavailableWithLogId(
          "the ruleset store is unavailable, try again later", status);
    default:
      return absl::InternalError(
          absl::StrCat("ruleset store: ", status.message()));
  }
}

void FillVersion(const StoredRulesetVersion& stored, const std::string& active,
                 v1::RulesetVersionInfo* out) {
  out->set_version(stored.version);
  out->set_name(stored.version.substr(0, stored.version.rfind('@')));
  *out->mutable_uploaded_time() = ToTimestamp(stored.uploaded_time);
  out->set_uploaded_by(stored.uploaded_by);
  out->set_active(!active.empty() && stored.version == active);
}

void FillChange(const RulesetChange& change, v1::RulesetPublication* out) {
  *out->mutable_time() = ToTimestamp(change.time);
  out->set_author(change.author);
  out->set_version(change.version);
  out->set_previous_version(change.previous_version);
  out->set_rollback(change.rollback);
}

void FillRescore(const RescoreJob& job, const std::string& default_version,
                 v1::RescoreStatus* out) {
  out->set_tenant_id(job.tenant_id);
  out->set_id(job.id);
  out->set_uses_default(job.version.empty());
  out->set_version(job.version.empty() ? default_version : job.version);
  out->set_state(job.finished ? v1::RescoreStatus::DONE
                              : v1::RescoreStatus::RUNNING);
  out->set_done(job.done);
  out->set_total(std::max<int64_t>(0, job.total));
  out->set_moved(job.moved);
  out->set_skipped(job.skipped);
  *out->mutable_started_time() = ToTimestamp(job.started_time);
  *out->mutable_updated_time() = ToTimestamp(job.updated_time);
  if (job.finished)
    *out->mutable_finished_time() = ToTimestamp(job.finished_time);
  out->set_owner(job.owner);
}

}  // namespace

RulesetCore::RulesetCore(TenantRulesets* rulesets, RulesetStore* store,
                         ResultStore* results, Options options)
    : rulesets_(rulesets),
      store_(store),
      results_(results),
      options_(std::move(options)) {}

absl::Time RulesetCore::StoreDeadline(absl::Time call_deadline) const {
  return std::min(call_deadline, absl::Now() + options_.store_timeout);
}

absl::Status RulesetCore::Preconditions() const {
  if (store_ == nullptr || rulesets_ == nullptr) {
    return absl::UnavailableError(
        "tenants' rulesets need the classifier's Redis (--redis)");
  }
  return absl::OkStatus();
}

absl::Status RulesetCore::Admit(
    const std::vector<FieldViolation>& violations) const {
  if (!violations.empty()) return Invalid(violations);
  return Preconditions();
}

void RulesetCore::UploadAsync(const v1::UploadRulesetRequest& request,
                              absl::Time deadline,
                              Callback<v1::UploadRulesetResponse> done) {
  std::vector<FieldViolation> v;
  ValidateTenantId(request.tenant_id(), "tenant_id", v);
  CheckAuthor(request.author(), v);
  std::shared_ptr<const CompiledRuleset> rules;
  if (request.yaml().empty()) {
    AddViolation(v, "yaml", "is required");
  } else if (request.yaml().size() > kMaxRulesetUploadBytes) {
    AddViolation(v, "yaml",
                 absl::StrCat("must be at most ", kMaxRulesetUploadBytes,
                              " bytes, got ", request.yaml().size()));
  } else {
    absl::StatusOr<std::shared_ptr<const CompiledRuleset>> loaded =
        LoadRulesetYaml(request.yaml());
    if (loaded.ok()) {
      rules = *std::move(loaded);
    } else {
      // One violation per problem ("path: what", one per line).
      for (absl::string_view line :
           absl::StrSplit(loaded.status().message(), '\n', absl::SkipEmpty())) {
        AddViolation(v, "yaml", line);
      }
    }
  }
  if (!v.empty()) {
    std::move(done)(InvalidArgumentWithViolations("invalid ruleset upload", v));
    return;
  }
  if (absl::Status s = Preconditions(); !s.ok()) {
    std::move(done)(s);
    return;
  }
  const absl::Time now = options_.clock();
  store_->UploadAsync(
      request.tenant_id(), rules->version, request.yaml(), request.author(),
      now, StoreDeadline(deadline),
      [this, tenant = request.tenant_id(), done = std::move(done)](
          absl::StatusOr<RulesetUploadOutcome> outcome) mutable {
        if (!outcome.ok()) {
          std::move(done)(StoreStatus(outcome.status()));
          return;
        }
        std::shared_ptr<const CompiledRuleset> own = rulesets_->Own(tenant);
        v1::UploadRulesetResponse response;
        FillVersion(outcome->version, own ? own->version : "",
                    response.mutable_ruleset());
        response.set_created(outcome->created);
        if (outcome->created) {
          Log(LogLevel::kInfo, "rules",
              absl::StrCat("tenant ", tenant, " uploaded ",
                           outcome->version.version));
        }
        std::move(done)(&response);
      });
}

// A preview across its walk over the tenant's stored results.
struct RulesetCore::Preview {
  std::string tenant;
  std::shared_ptr<const CompiledRuleset> draft;
  int max_moved = kDefaultPreviewMoved;
  absl::Time deadline;
  absl::Time now;
  Callback<v1::PreviewRulesetResponse> done;
  absl::flat_hash_set<std::string> seen;
  struct Totals {
    int64_t count = 0;
    int64_t cents = 0;
  };
  std::map<std::pair<std::string, std::string>, Totals> moves;
  int64_t compared = 0;
  int64_t skipped = 0;
  int64_t moved = 0;
  // The moved opportunities, at most 2 * max_moved between trims.
  std::vector<v1::MovedOpportunity> listed;

  // Keeps the max_moved highest priorities of `listed`.
  void Trim() {
    auto by_priority = [](const v1::MovedOpportunity& a,
                          const v1::MovedOpportunity& b) {
      return a.priority_score() != b.priority_score()
                 ? a.priority_score() > b.priority_score()
                 : a.opportunity_id() < b.opportunity_id();
    };
    if (static_cast<int>(listed.size()) > max_moved) {
      std::nth_element(listed.begin(), listed.begin() + max_moved, listed.end(),
                       by_priority);
      listed.resize(max_moved);
    }
    std::sort(listed.begin(), listed.end(), by_priority);
  }
};

void RulesetCore::PreviewAsync(const v1::PreviewRulesetRequest& request,
                               absl::Time deadline,
                               Callback<v1::PreviewRulesetResponse> done) {
  std::vector<FieldViolation> v;
  ValidateTenantId(request.tenant_id(), "tenant_id", v);
  CheckVersion(request.version(), v);
  if (request.max_moved() < 0 || request.max_moved() > kMaxPreviewMoved) {
    AddViolation(v, "max_moved",
                 absl::StrCat("must be between 0 (default ",
                              kDefaultPreviewMoved, ") and ", kMaxPreviewMoved,
                              ", got ", request.max_moved()));
  }
  if (absl::Status s = Admit(v); !s.ok()) {
    std::move(done)(s);
    return;
  }
  auto preview = std::make_shared<Preview>();
  preview->tenant = request.tenant_id();
  preview->max_moved =
      request.max_moved() == 0 ? kDefaultPreviewMoved : request.max_moved();
  preview->deadline = deadline;
  preview->now = options_.clock();
  preview->done = std::move(done);
  store_->TextAsync(
      request.tenant_id(), request.version(), StoreDeadline(deadline),
      [this, preview = std::move(preview)](
          absl::StatusOr<std::pair<StoredRulesetVersion, std::string>>
              text) mutable {
        if (!text.ok()) {
          std::move(preview->done)(StoreStatus(text.status()));
          return;
        }
        absl::StatusOr<std::shared_ptr<const CompiledRuleset>> draft =
            LoadRulesetYaml(text->second);
        if (!draft.ok()) {
          std::move(preview->done)(absl::InternalError(absl::StrCat(
              "uploaded version does not load: ", draft.status().message())));
          return;
        }
        preview->draft = *std::move(draft);
        PreviewStep(std::move(preview), "");
      });
}

void RulesetCore::PreviewStep(std::shared_ptr<Preview> preview,
                              std::string cursor) {
  auto answer = [this](Preview& p) {
    p.Trim();
    v1::PreviewRulesetResponse response;
    response.set_tenant_id(p.tenant);
    response.set_version(p.draft->version);
    response.set_active_version(rulesets_->ForTenant(p.tenant)->version);
    response.set_compared(p.compared);
    response.set_skipped(p.skipped);
    response.set_moved(p.moved);
    const std::string& currency = p.draft->proto.base_currency();
    for (const auto& [cells, totals] : p.moves) {
      v1::CellMove* m = response.add_moves();
      m->set_from_cell(cells.first);
      m->set_to_cell(cells.second);
      m->set_count(totals.count);
      *m->mutable_amount() = CentsToMoney(totals.cents, currency);
    }
    for (v1::MovedOpportunity& m : p.listed) {
      *response.add_moved_opportunities() = std::move(m);
    }
    std::move(p.done)(&response);
  };
  if (results_ == nullptr) {
    answer(*preview);
    return;
  }
  if (absl::Now() >= preview->deadline) {
    std::move(preview->done)(absl::DeadlineExceededError(
        absl::StrCat("preview: deadline passed after ", preview->compared,
                     " results were compared")));
    return;
  }
  Preview* raw = preview.get();
  results_->InputsAsync(
      raw->tenant, cursor, kPreviewPage, absl::InfiniteFuture(),
      StoreDeadline(raw->deadline),
      [this, preview = std::move(preview),
       answer](absl::StatusOr<InputPage> page) mutable {
        Preview& p = *preview;
        if (!page.ok()) {
          std::move(p.done)(absl::Status(
              page.status().code() == absl::StatusCode::kUnavailable ||
                      page.status().code() ==
                          absl::StatusCode::kDeadlineExceeded
                  ? UnavailableWithLogId(
                        "the result store is unavailable, try again later",
                        page.status())
                  : absl::InternalError(absl::StrCat(
                        "result store: ", page.status().message()))));
          return;
        }
        const std::string& currency = p.draft->proto.base_currency();
        v1::Opportunity opp;
        v1::Classification c;
        for (StoredInputEntry& e : page->entries) {
          if (!p.seen.insert(e.opportunity_id).second) continue;
          opp.Clear();
          if (e.input.empty() || !opp.ParseFromString(e.input)) {
            ++p.skipped;
            continue;
          }
          ClassifyValidatedInto(opp, *p.draft, p.now,
                                ClassifyOptions{.with_reasons = false}, &c);
          ++p.compared;
          std::optional<double> base = p.draft->ToBaseCurrency(opp.amount());
          const int64_t cents =
              base ? static_cast<int64_t>(std::llround(*base * 100)) : 0;
          Preview::Totals& t = p.moves[{e.cell, c.cell()}];
          ++t.count;
          t.cents += cents;
          if (c.cell() == e.cell) continue;
          ++p.moved;
          v1::MovedOpportunity& m = p.listed.emplace_back();
          m.set_opportunity_id(e.opportunity_id);
          m.set_from_cell(e.cell);
          m.set_to_cell(c.cell());
          m.set_potential_score(c.potential_score());
          m.set_relationship_score(c.relationship_score());
          m.set_priority_score(c.priority_score());
          if (base) *m.mutable_amount() = CentsToMoney(cents, currency);
          if (static_cast<int>(p.listed.size()) >= 2 * p.max_moved) p.Trim();
        }
        if (page->cursor.empty()) {
          answer(p);
          return;
        }
        PreviewStep(std::move(preview), std::move(page->cursor));
      });
}

void RulesetCore::PutInForce(const std::string& tenant_id,
                             const RulesetPublishOutcome& p,
                             absl::Status* error) {
  if (p.change.version.empty()) {
    rulesets_->Apply(tenant_id, nullptr);
    return;
  }
  absl::StatusOr<std::shared_ptr<const CompiledRuleset>> rules =
      LoadRulesetYaml(p.yaml);
  if (!rules.ok()) {
    // Stored by a server of another build: the poll keeps reporting it.
    *error = absl::InternalError(
        absl::StrCat("version ", p.change.version,
                     " is in force in the store but does not load here: ",
                     rules.status().message()));
    return;
  }
  rulesets_->Apply(tenant_id, *std::move(rules));
}

void RulesetCore::PublishAsync(const v1::PublishRulesetRequest& request,
                               absl::Time deadline,
                               Callback<v1::PublishRulesetResponse> done) {
  std::vector<FieldViolation> v;
  ValidateTenantId(request.tenant_id(), "tenant_id", v);
  CheckVersion(request.version(), v);
  CheckAuthor(request.author(), v);
  if (absl::Status s = Admit(v); !s.ok()) {
    std::move(done)(s);
    return;
  }
  store_->PublishAsync(
      request.tenant_id(), request.version(), request.author(),
      options_.clock(), StoreDeadline(deadline),
      [this, tenant = request.tenant_id(), done = std::move(done)](
          absl::StatusOr<RulesetPublishOutcome> outcome) mutable {
        if (!outcome.ok()) {
          std::move(done)(StoreStatus(outcome.status()));
          return;
        }
        absl::Status error;
        PutInForce(tenant, *outcome, &error);
        if (!error.ok()) {
          std::move(done)(error);
          return;
        }
        if (outcome->changed) {
          Log(LogLevel::kInfo, "rules",
              absl::StrCat("tenant ", tenant, " published ",
                           outcome->change.version, " (was ",
                           outcome->change.previous_version.empty()
                               ? "the default"
                               : outcome->change.previous_version,
                           ") by ", outcome->change.author));
        }
        v1::PublishRulesetResponse response;
        FillChange(outcome->change, response.mutable_publication());
        response.set_changed(outcome->changed);
        response.set_rescore_id(outcome->rescore_id);
        if (outcome->changed && options_.on_change) options_.on_change();
        std::move(done)(&response);
      });
}

void RulesetCore::RollbackAsync(const v1::RollbackRulesetRequest& request,
                                absl::Time deadline,
                                Callback<v1::RollbackRulesetResponse> done) {
  std::vector<FieldViolation> v;
  ValidateTenantId(request.tenant_id(), "tenant_id", v);
  CheckAuthor(request.author(), v);
  if (absl::Status s = Admit(v); !s.ok()) {
    std::move(done)(s);
    return;
  }
  store_->RollbackAsync(
      request.tenant_id(), request.author(), options_.clock(),
      StoreDeadline(deadline),
      [this, tenant = request.tenant_id(), done = std::move(done)](
          absl::StatusOr<RulesetPublishOutcome> outcome) mutable {
        if (!outcome.ok()) {
          std::move(done)(StoreStatus(outcome.status()));
          return;
        }
        absl::Status error;
        PutInForce(tenant, *outcome, &error);
        if (!error.ok()) {
          std::move(done)(error);
          return;
        }
        Log(LogLevel::kInfo, "rules",
            absl::StrCat("tenant ", tenant, " rolled back from ",
                         outcome->change.previous_version, " to ",
                         outcome->change.version.empty()
                             ? "the default"
                             : outcome->change.version,
                         " by ", outcome->change.author));
        v1::RollbackRulesetResponse response;
        FillChange(outcome->change, response.mutable_publication());
        response.set_rescore_id(outcome->rescore_id);
        if (options_.on_change) options_.on_change();
        std::move(done)(&response);
      });
}

void RulesetCore::ListAsync(const v1::ListRulesetsRequest& request,
                            absl::Time deadline,
                            Callback<v1::ListRulesetsResponse> done) {
  std::vector<FieldViolation> v;
  ValidateTenantId(request.tenant_id(), "tenant_id", v);
  if (absl::Status s = Admit(v); !s.ok()) {
    std::move(done)(s);
    return;
  }
  store_->HistoryAsync(
      request.tenant_id(), StoreDeadline(deadline),
      [this, tenant = request.tenant_id(),
       done = std::move(done)](absl::StatusOr<RulesetHistory> history) mutable {
        if (!history.ok()) {
          std::move(done)(StoreStatus(history.status()));
          return;
        }
        const std::string default_version = rulesets_->Current()->version;
        v1::ListRulesetsResponse response;
        response.set_tenant_id(tenant);
        response.set_uses_default(history->active.empty());
        response.set_active_version(history->active.empty() ? default_version
                                                            : history->active);
        response.set_default_version(default_version);
        for (const StoredRulesetVersion& s : history->versions) {
          FillVersion(s, history->active, response.add_versions());
        }
        for (const RulesetChange& c : history->changes) {
          FillChange(c, response.add_publications());
        }
        std::move(done)(&response);
      });
}

void RulesetCore::GetAsync(const v1::GetRulesetRequest& request,
                           absl::Time deadline,
                           Callback<v1::GetRulesetResponse> done) {
  std::vector<FieldViolation> v;
  ValidateTenantId(request.tenant_id(), "tenant_id", v);
  CheckVersion(request.version(), v);
  if (absl::Status s = Admit(v); !s.ok()) {
    std::move(done)(s);
    return;
  }
  store_->TextAsync(
      request.tenant_id(), request.version(), StoreDeadline(deadline),
      [this, tenant = request.tenant_id(), done = std::move(done)](
          absl::StatusOr<std::pair<StoredRulesetVersion, std::string>>
              text) mutable {
        if (!text.ok()) {
          std::move(done)(StoreStatus(text.status()));
          return;
        }
        std::shared_ptr<const CompiledRuleset> own = rulesets_->Own(tenant);
        v1::GetRulesetResponse response;
        FillVersion(text->first, own ? own->version : "",
                    response.mutable_ruleset());
        response.set_yaml(std::move(text->second));
        std::move(done)(&response);
      });
}

void RulesetCore::GetRescoreAsync(const v1::GetRescoreStatusRequest& request,
                                  absl::Time deadline,
                                  Callback<v1::RescoreStatus> done) {
  std::vector<FieldViolation> v;
  ValidateTenantId(request.tenant_id(), "tenant_id", v);
  if (absl::Status s = Admit(v); !s.ok()) {
    std::move(done)(s);
    return;
  }
  store_->RescoreAsync(
      request.tenant_id(), StoreDeadline(deadline),
      [this, done = std::move(done)](absl::StatusOr<RescoreJob> job) mutable {
        if (!job.ok()) {
          std::move(done)(StoreStatus(job.status()));
          return;
        }
        v1::RescoreStatus response;
        FillRescore(*job, rulesets_->Current()->version, &response);
        std::move(done)(&response);
      });
}

}  // namespace oppmatrix
