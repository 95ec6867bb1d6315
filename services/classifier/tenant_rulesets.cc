#include "services/classifier/tenant_rulesets.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "services/common/log.h"
#include "services/common/wait_for.h"

namespace oppmatrix {

TenantRulesets::TenantRulesets(const RulesetSource* fallback,
                               RulesetStore* store, Options options)
    : fallback_(fallback), store_(store), options_(std::move(options)) {}

TenantRulesets::~TenantRulesets() { Stop(); }

std::shared_ptr<const CompiledRuleset> TenantRulesets::Own(
    absl::string_view tenant_id) const {
  if (!any_.load(std::memory_order_acquire)) return nullptr;
  absl::ReaderMutexLock lock(&mu_);
  auto it = own_.find(tenant_id);
  return it == own_.end() ? nullptr : it->second;
}

std::shared_ptr<const CompiledRuleset> TenantRulesets::ForTenant(
    absl::string_view tenant_id) const {
  std::shared_ptr<const CompiledRuleset> own = Own(tenant_id);
  return own != nullptr ? own : fallback_->Current();
}

void TenantRulesets::Apply(absl::string_view tenant_id,
                           std::shared_ptr<const CompiledRuleset> rules) {
  absl::MutexLock lock(&mu_);
  ++applied_;
  if (rules == nullptr) {
    own_.erase(tenant_id);
  } else {
    own_[tenant_id] = std::move(rules);
  }
  any_.store(!own_.empty(), std::memory_order_release);
  stats_.tenants = static_cast<int64_t>(own_.size());
}

absl::Status TenantRulesets::NoteError(absl::Status status) {
  absl::MutexLock lock(&mu_);
  ++stats_.refresh_errors;
  stats_.last_error = std::string(status.message());
  return status;
}

absl::Status TenantRulesets::Refresh() {
  absl::MutexLock serial(&refresh_mu_);
  uint64_t applied_at_start;
  absl::flat_hash_map<std::string, std::shared_ptr<const CompiledRuleset>> had;
  int64_t serial_had;
  {
    absl::MutexLock lock(&mu_);
    applied_at_start = applied_;
    had = own_;
    serial_had = serial_;
  }
  const absl::Time deadline = absl::Now() + options_.store_timeout;
  absl::StatusOr<ActiveRulesets> active =
      WaitFor<ActiveRulesets>([&](RulesetStore::Callback<ActiveRulesets> done) {
        store_->ActiveAsync(deadline, std::move(done));
      });
  if (!active.ok()) {
    return NoteError(absl::Status(active.status().code(),
                                  absl::StrCat("reading tenants' rulesets: ",
                                               active.status().message())));
  }
  if (active->serial == serial_had) return absl::OkStatus();
  // The versions this replica does not hold yet.
  std::vector<std::pair<std::string, std::string>> wanted;
  for (const auto& [tenant, version] : active->by_tenant) {
    auto it = had.find(tenant);
    if (it == had.end() || it->second->version != version) {
      wanted.emplace_back(tenant, version);
    }
  }
  absl::StatusOr<std::vector<std::string>> texts =
      wanted.empty()
          ? std::vector<std::string>()
          : WaitFor<std::vector<std::string>>(
                [&](RulesetStore::Callback<std::vector<std::string>> done) {
                  store_->TextsAsync(wanted, deadline, std::move(done));
                });
  if (!texts.ok()) {
    return NoteError(absl::Status(
        texts.status().code(),
        absl::StrCat("reading tenants' rulesets: ", texts.status().message())));
  }
  absl::flat_hash_map<std::string, std::shared_ptr<const CompiledRuleset>> next;
  absl::Status first_error;
  for (const auto& [tenant, version] : active->by_tenant) {
    auto it = had.find(tenant);
    if (it != had.end() && it->second->version == version) {
      next[tenant] = it->second;
    }
  }
  for (size_t i = 0; i < wanted.size(); ++i) {
    const auto& [tenant, version] = wanted[i];
    absl::StatusOr<std::shared_ptr<const CompiledRuleset>> rules =
        LoadRulesetYaml((*texts)[i]);
    if (!rules.ok() || (*rules)->version != version) {
      // Kept as validated by a server of another build, or removed: the
      // tenant keeps what it had.
      absl::Status error = absl::InternalError(absl::StrCat(
          "tenant ", tenant, " ruleset ", version, " does not load here",
          rules.ok() ? absl::StrCat(" (it is ", (*rules)->version, ")")
                     : absl::StrCat(": ", rules.status().message())));
      Log(LogLevel::kError, "rules", std::string(error.message()));
      if (first_error.ok()) first_error = error;
      auto old = had.find(tenant);
      if (old != had.end()) next[tenant] = old->second;
      continue;
    }
    Log(LogLevel::kInfo, "rules",
        absl::StrCat("tenant ", tenant, " ruleset in force: ", version));
    next[tenant] = *std::move(rules);
  }
  {
    absl::MutexLock lock(&mu_);
    // An Apply meanwhile is newer than what was read: the next poll reads
    // again.
    if (applied_ != applied_at_start) return absl::OkStatus();
    for (const auto& [tenant, rules] : own_) {
      if (!next.contains(tenant)) {
        Log(LogLevel::kInfo, "rules",
            absl::StrCat("tenant ", tenant, " uses the default ruleset"));
      }
    }
    own_ = std::move(next);
    any_.store(!own_.empty(), std::memory_order_release);
    stats_.tenants = static_cast<int64_t>(own_.size());
    // With an error the serial is not taken, so the next poll tries again.
    if (first_error.ok()) serial_ = active->serial;
    ++stats_.refreshes;
  }
  if (!first_error.ok()) return NoteError(first_error);
  return absl::OkStatus();
}

void TenantRulesets::Start() {
  if (options_.poll_interval <= absl::ZeroDuration() || thread_.joinable()) {
    return;
  }
  thread_ = std::thread([this] { PollLoop(); });
}

void TenantRulesets::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

TenantRulesets::Stats TenantRulesets::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

void TenantRulesets::PollLoop() {
  absl::Time last_logged = absl::InfinitePast();
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      auto stopping = [this]()
                          ABSL_SHARED_LOCKS_REQUIRED(mu_) { return stopping_; };
      mu_.AwaitWithTimeout(absl::Condition(&stopping), options_.poll_interval);
      if (stopping_) return;
    }
    absl::Status s = Refresh();
    if (!s.ok() && absl::Now() - last_logged >= absl::Seconds(60)) {
      last_logged = absl::Now();
      Log(LogLevel::kWarning, "rules", std::string(s.message()));
    }
  }
}

}  // namespace oppmatrix
