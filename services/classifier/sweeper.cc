#include "services/classifier/sweeper.h"

#include <algorithm>
#include <future>
#include <memory>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "services/classifier/rescorer.h"
#include "services/common/log.h"
#include "services/common/wait_for.h"

namespace oppmatrix {

namespace {

// Tenants a step of the walk over them asks for.
constexpr int kTenantPage = 100;

}  // namespace

Sweeper::Sweeper(TenantRulesets* rulesets, ResultStore* results,
                 Options options)
    : rulesets_(rulesets), results_(results), options_(std::move(options)) {}

Sweeper::~Sweeper() { Stop(); }

void Sweeper::Start() {
  if (thread_.joinable() || (options_.interval <= absl::ZeroDuration() &&
                             options_.pin_interval <= absl::ZeroDuration())) {
    return;
  }
  {
    absl::MutexLock lock(&mu_);
    stopping_ = false;
  }
  thread_ = std::thread([this] { Loop(); });
}

void Sweeper::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

Sweeper::Stats Sweeper::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

bool Sweeper::SleepFor(absl::Duration d) {
  absl::MutexLock lock(&mu_);
  auto stop = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; };
  if (d > absl::ZeroDuration()) mu_.AwaitWithTimeout(absl::Condition(&stop), d);
  return stopping_;
}

void Sweeper::Loop() {
  absl::Status last = absl::OkStatus();
  auto note = [&](const absl::Status& s) {
    if (!s.ok() && s.ToString() != last.ToString()) {
      Log(LogLevel::kWarning, "sweep",
          absl::StrCat("the sweep met a store error (the next one retries): ",
                       s.message()));
    }
    last = s;
  };
  const bool sweeps = options_.interval > absl::ZeroDuration();
  const bool pins = options_.pin_interval > absl::ZeroDuration();
  absl::Time next_sweep = absl::Now();
  next_pins_ = absl::Now();
  while (true) {
    PinsIfDue(note);
    if (sweeps && absl::Now() >= next_sweep) {
      next_sweep = absl::Now() + options_.interval;
      // A long sweep ends the pins due on its way (PinsIfDue per page).
      pins_in_sweep_ = pins;
      absl::Status s = RunOnce();
      pins_in_sweep_ = false;
      note(s);
    }
    const absl::Time wake = !pins     ? next_sweep
                            : !sweeps ? next_pins_
                                      : std::min(next_sweep, next_pins_);
    if (SleepFor(wake - absl::Now())) return;
  }
}

template <typename Note>
void Sweeper::PinsIfDue(Note& note) {
  if (options_.pin_interval <= absl::ZeroDuration() ||
      absl::Now() < next_pins_) {
    return;
  }
  next_pins_ = absl::Now() + options_.pin_interval;
  note(RunPins());
}

absl::Status Sweeper::RunPins() {
  if (results_ == nullptr) return absl::OkStatus();
  auto deadline = [this] { return absl::Now() + options_.store_timeout; };
  const absl::Time now = options_.clock();
  absl::Status first_error;
  auto failed = [&](const absl::Status& s) {
    if (first_error.ok()) first_error = s;
    absl::MutexLock lock(&mu_);
    ++stats_.errors;
  };
  absl::StatusOr<std::vector<std::string>> tenants =
      WaitFor<std::vector<std::string>>(
          [&](ResultStore::TenantsDueCallback done) {
            results_->PinnedTenantsAsync(now, kTenantPage, deadline(),
                                         std::move(done));
          });
  if (!tenants.ok()) {
    failed(tenants.status());
    return first_error;
  }
  for (const std::string& tenant : *tenants) {
    if (SleepFor(absl::ZeroDuration())) break;
    absl::Status error;
    int64_t ended = 0;
    // Each page's results leave the set as they are stored (a bound
    // against a page that would not).
    for (int step = 0; step < 100; ++step) {
      absl::StatusOr<InputPage> page =
          WaitFor<InputPage>([&](ResultStore::InputsCallback done) {
            results_->PinsDueAsync(tenant, now, kRescorePage, deadline(),
                                   std::move(done));
          });
      if (!page.ok()) {
        error = page.status();
        break;
      }
      if (page->entries.empty()) break;
      absl::StatusOr<RescoredPage> stored = RescoreEntries(
          *results_, page->entries, *rulesets_->ForTenant(tenant), now,
          absl::InfinitePast(), deadline());
      if (!stored.ok()) {
        error = stored.status();
        break;
      }
      ended += static_cast<int64_t>(page->entries.size()) - stored->skipped;
      if (static_cast<int>(page->entries.size()) < kRescorePage) break;
    }
    if (error.ok()) {
      std::promise<absl::Status> settled;
      results_->SettlePinsAsync(tenant, deadline(), [&settled](absl::Status s) {
        settled.set_value(std::move(s));
      });
      error = settled.get_future().get();
    }
    if (!error.ok()) failed(error);
    if (ended > 0) {
      Log(LogLevel::kInfo, "sweep",
          absl::StrCat("tenant ", tenant, ": ", ended, " expired pins ended"));
      absl::MutexLock lock(&mu_);
      stats_.pins_ended += ended;
    }
  }
  return first_error;
}

absl::Status Sweeper::RunOnce() {
  if (results_ == nullptr) return absl::OkStatus();
  const absl::Time cutoff = options_.clock() - options_.max_age;
  absl::Status first_error;
  auto failed = [&](const absl::Status& s) {
    if (first_error.ok()) first_error = s;
    absl::MutexLock lock(&mu_);
    ++stats_.errors;
  };
  absl::flat_hash_set<std::string> seen;  // SCAN may answer one twice
  std::string cursor;
  do {
    if (SleepFor(absl::ZeroDuration())) break;
    absl::StatusOr<TenantPage> page =
        WaitFor<TenantPage>([&](ResultStore::TenantsCallback done) {
          results_->TenantsAsync(cursor, kTenantPage,
                                 absl::Now() + options_.store_timeout,
                                 std::move(done));
        });
    if (!page.ok()) {
      failed(page.status());
      break;
    }
    for (const std::string& tenant : page->tenants) {
      if (!seen.insert(tenant).second) continue;
      if (SleepFor(absl::ZeroDuration())) break;
      absl::Status s = SweepTenant(tenant, cutoff);
      if (!s.ok()) {
        Log(LogLevel::kWarning, "sweep",
            absl::StrCat("tenant ", tenant,
                         ": the sweep of aged results stopped: ", s.message()));
        failed(s);
      }
      absl::MutexLock lock(&mu_);
      ++stats_.tenants;
    }
    cursor = page->cursor;
  } while (!cursor.empty());
  absl::MutexLock lock(&mu_);
  ++stats_.sweeps;
  return first_error;
}

absl::Status Sweeper::SweepTenant(const std::string& tenant,
                                  absl::Time cutoff) {
  auto deadline = [this] { return absl::Now() + options_.store_timeout; };
  int64_t swept = 0, moved = 0;
  std::string cursor;
  do {
    if (SleepFor(absl::ZeroDuration())) break;
    absl::StatusOr<InputPage> page =
        WaitFor<InputPage>([&](ResultStore::InputsCallback done) {
          results_->InputsAsync(tenant, cursor, kRescorePage, cutoff,
                                deadline(), std::move(done));
        });
    if (!page.ok()) return page.status();
    if (!page->entries.empty()) {
      // The version in force now: a publication meanwhile is rescoring
      // the tenant anyway, and this does no harm to it.
      absl::StatusOr<RescoredPage> stored = RescoreEntries(
          *results_, page->entries, *rulesets_->ForTenant(tenant),
          options_.clock(), cutoff, deadline());
      if (!stored.ok()) return stored.status();
      const int64_t n = static_cast<int64_t>(page->entries.size());
      swept += n - stored->skipped;
      moved += stored->moved;
      {
        absl::MutexLock lock(&mu_);
        stats_.swept += n - stored->skipped;
        stats_.moved += stored->moved;
        stats_.skipped += stored->skipped;
      }
      if (options_.rate > 0) {
        const absl::Time real = absl::Now();
        // No burst after a stall or between sweeps.
        next_ = std::max(next_, real - absl::Seconds(1)) +
                absl::Seconds(static_cast<double>(n) / options_.rate);
        if (next_ > real && SleepFor(next_ - real)) break;
      }
    }
    if (pins_in_sweep_) {
      auto note = [](const absl::Status&) {};  // the next check logs it
      PinsIfDue(note);
    }
    cursor = page->cursor;
  } while (!cursor.empty());
  if (swept > 0) {
    Log(LogLevel::kInfo, "sweep",
        absl::StrCat("tenant ", tenant, ": ", swept,
                     " aged results classified again, ", moved, " moved"));
  }
  return absl::OkStatus();
}

}  // namespace oppmatrix
