// Classifies stored results again as they age, so that the signals that
// depend on the time are kept current without any CRM event: the ruleset's
// half-lives (Factor.half_life_days), the days since the last interaction,
// an urgency derived from the need date. Every `interval` a sweep walks
// each tenant's stored results, classifies those classified longer than
// `max_age` ago again from the opportunity kept with each, by the version
// in force for the tenant, and stores them; so a deal with no activity
// drifts out of KEY by itself, and each move it makes is a transition
// whose cause is "time".
//
// The sweeper also ends pins (PinOpportunity) by themselves: every
// `pin_interval` it classifies again the results whose pin has expired,
// which puts each back in the cell the rules give (cause "override").
//
// A result stored meanwhile from newer input is not overwritten
// (PutItem::only_over_same_input). Replicas sweep independently: a result
// one of them has just classified again is current for the others, which
// read it and skip it (PutOptions::keep_current_since).
//
//   Sweeper sweeper(&tenant_rulesets, &result_store, {.max_age = ...});
//   sweeper.Start();  // a sweep every interval
//   sweeper.Stop();
#ifndef OPPMATRIX_SERVICES_CLASSIFIER_SWEEPER_H_
#define OPPMATRIX_SERVICES_CLASSIFIER_SWEEPER_H_

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

namespace oppmatrix {

class Sweeper {
 public:
  struct Options {
    // How often a sweep starts (counted from the start of the one before);
    // 0: only RunOnce.
    absl::Duration interval = absl::Hours(1);
    // Results classified longer ago than this are classified again.
    // Positive.
    absl::Duration max_age = absl::Hours(24);
    // How often to end the pins that have expired; 0: only RunPins.
    absl::Duration pin_interval = absl::Minutes(1);
    // Results classified again per second at most, so that live traffic
    // keeps its latency; 0 no limit.
    double rate = 1'000;
    // Upper bound of each store call.
    absl::Duration store_timeout = absl::Seconds(5);
    // The clock of classification times.
    std::function<absl::Time()> clock = [] { return absl::Now(); };
  };

  struct Stats {
    int64_t sweeps = 0;      // sweeps finished (with or without errors)
    int64_t tenants = 0;     // tenants swept
    int64_t swept = 0;       // results classified again and stored
    int64_t moved = 0;       // of them, moved to another cell
    int64_t skipped = 0;     // no stored opportunity, or newer input stored
    int64_t errors = 0;      // store calls that failed
    int64_t pins_ended = 0;  // expired pins removed
  };

  // Both pointers must outlive the sweeper.
  Sweeper(TenantRulesets* rulesets, ResultStore* results, Options options);
  ~Sweeper();
  Sweeper(const Sweeper&) = delete;
  Sweeper& operator=(const Sweeper&) = delete;

  // Starts the thread that sweeps every interval and ends pins every
  // pin_interval (no-op if running or without either).
  void Start();
  // Stops it at the end of the current page.
  void Stop();

  // One sweep over every tenant, on the calling thread. A tenant whose walk
  // meets a store error is left for the next sweep; the first such error.
  absl::Status RunOnce();

  // Ends the pins that have expired by the clock's now, for every tenant
  // that has one, on the calling thread; the first store error.
  absl::Status RunPins();

  Stats stats() const;

 private:
  // Sweeps one tenant's results classified before `cutoff`.
  absl::Status SweepTenant(const std::string& tenant, absl::Time cutoff);
  // Runs RunPins when the pin interval has passed since the last run (the
  // sweeping thread's only), giving its status to `note`.
  template <typename Note>
  void PinsIfDue(Note& note);
  // Whether to stop; waits up to `d` first (or until Stop).
  bool SleepFor(absl::Duration d);
  void Loop();

  TenantRulesets* const rulesets_;
  ResultStore* const results_;
  const Options options_;

  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  Stats stats_ ABSL_GUARDED_BY(mu_);
  // The rate limit's pace, across tenants (the sweeping thread's only).
  absl::Time next_ = absl::InfinitePast();
  // When the sweeping thread next ends expired pins, and whether RunOnce
  // does so between its pages (only when that thread runs it).
  absl::Time next_pins_ = absl::InfinitePast();
  bool pins_in_sweep_ = false;
  std::thread thread_;
};

}  // namespace oppmatrix

#endif  // OPPMATRIX_SERVICES_CLASSIFIER_SWEEPER_H_
