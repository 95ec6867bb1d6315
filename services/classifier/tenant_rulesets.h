// The ruleset each tenant is classified by: its own published version,
// kept in a RulesetStore, or else the file-based default. Every replica
// polls the store (one round trip that reads a serial and the versions in
// force) and loads what changed; a publication through this replica's
// RulesetService is in force here at once (Apply).
//
//   TenantRulesets rulesets(watcher.get(), &ruleset_store, {});
//   rulesets.Refresh().IgnoreError();  // start-up: the store may be down
//   rulesets.Start();                  // then poll
//   rulesets.ForTenant("acme")->version;
#ifndef OPPMATRIX_SERVICES_CLASSIFIER_TENANT_RULESETS_H_
#define OPPMATRIX_SERVICES_CLASSIFIER_TENANT_RULESETS_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "services/classifier/ruleset_watcher.h"
#include "services/store/ruleset_store.h"

namespace oppmatrix {

class TenantRulesets final : public RulesetSource {
 public:
  struct Options {
    // How often Start()'s thread reads the store; zero disables polling.
    absl::Duration poll_interval = absl::Seconds(1);
    // Bound of one read of the store.
    absl::Duration store_timeout = absl::Seconds(2);
  };

  struct Stats {
    int64_t refreshes = 0;       // reads of the store that loaded a change
    int64_t refresh_errors = 0;  // reads that failed, or versions that did
                                 // not compile
    int64_t tenants = 0;         // tenants with their own ruleset
    std::string last_error = {};
  };

  // `fallback` (the default) and `store` must outlive this.
  TenantRulesets(const RulesetSource* fallback, RulesetStore* store,
                 Options options);
  ~TenantRulesets() override;

  // The default.
  std::shared_ptr<const CompiledRuleset> Current() const override {
    return fallback_->Current();
  }
  std::shared_ptr<const CompiledRuleset> ForTenant(
      absl::string_view tenant_id) const override;
  // The tenant's own ruleset in force; null when it uses the default.
  std::shared_ptr<const CompiledRuleset> Own(absl::string_view tenant_id) const;

  // Puts `rules` (null: the default) in force for the tenant now, as the
  // store says it is: what a publication through this replica does.
  void Apply(absl::string_view tenant_id,
             std::shared_ptr<const CompiledRuleset> rules);

  // Reads the versions in force from the store and loads what changed.
  // Waits for the store: for start-up, the polling thread and tests, never
  // a server's RPC threads. A version that does not compile is an error,
  // and the tenant keeps what it had.
  absl::Status Refresh();

  // Starts the polling thread (when poll_interval > 0); Stop() (also done
  // by the destructor) ends it.
  void Start();
  void Stop();

  Stats stats() const;

 private:
  void PollLoop();
  absl::Status NoteError(absl::Status status);

  const RulesetSource* const fallback_;
  RulesetStore* const store_;
  const Options options_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::shared_ptr<const CompiledRuleset>> own_
      ABSL_GUARDED_BY(mu_);
  // Whether own_ is not empty: the common case (no tenant has its own)
  // takes no lock.
  std::atomic<bool> any_{false};
  // The store's serial own_ was loaded at; -1 before the first load.
  int64_t serial_ ABSL_GUARDED_BY(mu_) = -1;
  // +1 per Apply: a read of the store that began before an Apply is older
  // than it and is not used.
  uint64_t applied_ ABSL_GUARDED_BY(mu_) = 0;
  Stats stats_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  absl::Mutex refresh_mu_;  // serialises Refresh()
  std::thread thread_;
};

}  // namespace oppmatrix

#endif  // OPPMATRIX_SERVICES_CLASSIFIER_TENANT_RULESETS_H_
