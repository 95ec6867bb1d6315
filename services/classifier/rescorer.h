// Rescores a tenant's stored results after a publication or rollback of its
// ruleset, in the background: every stored opportunity is classified again
// from the opportunity kept with its result, by the version now in force,
// and stored, so each move it causes is a transition whose cause is
// "ruleset".
//
// The job itself is in the ruleset store (RulesetStore::RescoreJob),
// started by the publication in the same atomic step. Any replica may run
// it: the one that holds its lease walks the tenant's results a page at a
// time and records each page's cursor and figures with the lease's renewal.
// A replica that dies mid-way leaves the cursor of the last page it
// finished; once its lease runs out another replica (or the same one,
// restarted) goes on from there. A page done again after a crash writes
// nothing, because its results are current already (same input, same
// version), and a result stored meanwhile from newer input is not
// overwritten (PutItem::only_over_same_input).
//
//   Rescorer rescorer(&tenant_rulesets, &ruleset_store, &result_store, {});
//   rescorer.Start();   // looks for unfinished rescores every poll
//   rescorer.Wake();    // a publication here: look now
//   rescorer.Stop();    // gives up the lease, so another replica goes on
#ifndef OPPMATRIX_SERVICES_CLASSIFIER_RESCORER_H_
#define OPPMATRIX_SERVICES_CLASSIFIER_RESCORER_H_

#include <cstdint>
#include <functional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "services/classifier/tenant_rulesets.h"
#include "services/store/result_store.h"
#include "services/store/ruleset_store.h"

namespace oppmatrix {

// Results a rescore reads, scores and stores per step.
inline constexpr int kRescorePage = 100;

// What classifying a page of stored results again did.
struct RescoredPage {
  int64_t skipped = 0;  // no readable opportunity, or superseded
  int64_t moved = 0;    // moved to another cell
};

// Classifies each entry's stored opportunity again by `rules` at `now` and
// stores the results, each only over a result of the same input
// (PutItem::only_over_same_input: an update stored meanwhile, or a
// deletion, wins) and none over a current one classified at or after
// `keep_current_since` (PutOptions). Waits for the store (not for a
// server's threads).
absl::StatusOr<RescoredPage> RescoreEntries(
    ResultStore& store, absl::Span<const StoredInputEntry> entries,
    const CompiledRuleset& rules, absl::Time now, absl::Time keep_current_since,
    absl::Time deadline);

class Rescorer {
 public:
  struct Options {
    // Who holds a lease: unique per process (host, pid and a random part
    // by default, see DefaultOwner).
    std::string owner = DefaultOwner();
    // Results rescored per second at most, so that live traffic keeps its
    // latency; 0 no limit.
    double rate = 10'000;
    // How long a lease lasts without a step; a replica that died holds a
    // rescore this long. A wait longer than a third of it (the settle
    // time, a slow rate) renews the lease on the way. At least three
    // store timeouts.
    absl::Duration lease = absl::Seconds(10);
    // How often to look for unfinished rescores (a publication on this
    // replica looks at once); 0: only on Wake and RunOnce.
    absl::Duration poll_interval = absl::Seconds(1);
    // How long after a publication its rescore begins: the other replicas'
    // poll interval, so that they classify by the new version before the
    // walk passes their results.
    absl::Duration settle = absl::ZeroDuration();
    // Upper bound of each store call.
    absl::Duration store_timeout = absl::Seconds(5);
    // How long to wait after a store error before trying again (the poll
    // interval when that is shorter).
    absl::Duration retry_delay = absl::Seconds(1);
    // The clock of classification and lease times.
    std::function<absl::Time()> clock = [] { return absl::Now(); };
  };

  struct Stats {
    int64_t finished = 0;  // rescores finished here
    int64_t rescored = 0;  // results read and stored (or skipped) here
    int64_t moved = 0;     // of them, moved to another cell
    int64_t lost = 0;      // rescores another replica or publication took
    int64_t errors = 0;    // store calls that failed (and were retried)
  };

  // "<host>:<pid>:<8 hex digits>".
  static std::string DefaultOwner();

  // Each pointer must outlive the rescorer.
  Rescorer(TenantRulesets* rulesets, RulesetStore* store, ResultStore* results,
           Options options);
  ~Rescorer();
  Rescorer(const Rescorer&) = delete;
  Rescorer& operator=(const Rescorer&) = delete;

  // Starts the thread that runs rescores (no-op if running).
  void Start();
  // Stops it at the end of the current step, giving up the lease.
  void Stop();
  // Looks for unfinished rescores now.
  void Wake();

  // Looks for unfinished rescores once and runs each one it can claim to
  // its end (or until it is lost or the rescorer stops), on the calling
  // thread. The first store error, if any.
  absl::Status RunOnce();

  Stats stats() const;

 private:
  enum class Outcome { kFinished, kLost, kStopped, kWaiting };
  // Runs a claimed job until it finishes, is lost, or the rescorer stops.
  Outcome Run(RescoreJob job, absl::Status* error);
  // Whether to stop; waits up to `d` first (or until Stop).
  bool SleepFor(absl::Duration d);
  bool stopping() const;
  void Loop();

  TenantRulesets* const rulesets_;
  RulesetStore* const store_;
  ResultStore* const results_;
  const Options options_;

  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool woken_ ABSL_GUARDED_BY(mu_) = false;
  Stats stats_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace oppmatrix

#endif  // OPPMATRIX_SERVICES_CLASSIFIER_RESCORER_H_
