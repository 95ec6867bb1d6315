// Holds the ruleset in force and reloads it from its file: on a poll when
// the file's bytes change (this also catches Kubernetes ConfigMap symlink
// swaps) and on demand (SIGHUP). A new ruleset is validated as a whole and
// swapped in atomically; a bad one is logged and counted, and the old one
// stays in use.
//
//   OPPMATRIX_ASSIGN_OR_RETURN(auto watcher,
//       RulesetWatcher::Create({.path = "rules/default.yaml"}));
//   watcher->Start();                       // background polling
//   std::shared_ptr<const CompiledRuleset> r = watcher->Current();
#ifndef OPPMATRIX_SERVICES_CLASSIFIER_RULESET_WATCHER_H_
#define OPPMATRIX_SERVICES_CLASSIFIER_RULESET_WATCHER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "services/engine/ruleset.h"

namespace oppmatrix {

// A source of the ruleset in force; what the service reads per call.
class RulesetSource {
 public:
  virtual ~RulesetSource() = default;
  // The ruleset in force; never null.
  virtual std::shared_ptr<const CompiledRuleset> Current() const = 0;
  // The ruleset `tenant_id`'s opportunities are classified by; never
  // null. The same for every tenant unless the source keeps tenants' own
  // (TenantRulesets).
  virtual std::shared_ptr<const CompiledRuleset> ForTenant(
      absl::string_view tenant_id) const {
    (void)tenant_id;
    return Current();
  }
};

// A fixed ruleset, for tests and embedding.
class StaticRulesetSource : public RulesetSource {
 public:
  explicit StaticRulesetSource(std::shared_ptr<const CompiledRuleset> rules)
      : rules_(std::move(rules)) {}
  std::shared_ptr<const CompiledRuleset> Current() const override {
    return rules_;
  }

 private:
  std::shared_ptr<const CompiledRuleset> rules_;
};

class RulesetWatcher : public RulesetSource {
 public:
  struct Options {
    // The YAML file.
    std::string path;
    // How often Start()'s thread checks the file; zero disables polling.
    absl::Duration poll_interval = absl::Seconds(2);
  };

  struct Stats {
    int64_t reloads_ok = 0;
    int64_t reloads_failed = 0;
    std::string last_error;  // of the latest failed reload, else empty
  };

  // Loads the file; a missing or invalid file is an error (start-up must
  // fail loudly, naming the key).
  static absl::StatusOr<std::unique_ptr<RulesetWatcher>> Create(
      Options options);

  ~RulesetWatcher() override;

  std::shared_ptr<const CompiledRuleset> Current() const override;

  // Re-reads the file now. OK when the file is unchanged or the new ruleset
  // is in force; otherwise the error, with the old ruleset still in force.
  absl::Status Reload();

  // Starts the polling thread (when poll_interval > 0).
  void Start();
  // Stops the polling thread; also done by the destructor.
  void Stop();

  Stats stats() const;

 private:
  RulesetWatcher(Options options, std::string bytes,
                 std::shared_ptr<const CompiledRuleset> rules);
  void PollLoop();

  const Options options_;
  mutable absl::Mutex mu_;
  std::shared_ptr<const CompiledRuleset> current_ ABSL_GUARDED_BY(mu_);
  std::string current_bytes_ ABSL_GUARDED_BY(mu_);
  // Bytes of the last file that failed, so a bad file is logged once.
  std::string failed_bytes_ ABSL_GUARDED_BY(mu_);
  Stats stats_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  absl::Mutex reload_mu_;  // serialises Reload()
  std::thread thread_;
};

}  // namespace oppmatrix

#endif  // OPPMATRIX_SERVICES_CLASSIFIER_RULESET_WATCHER_H_
