#include "services/classifier/rescorer.h"

#include <unistd.h>

#include <algorithm>
#include <future>
#include <memory>
#include <random>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "oppmatrix/v1/classification.pb.h"
#include "oppmatrix/v1/opportunity.pb.h"
#include "services/classifier/classification_core.h"
#include "services/common/log.h"
#include "services/common/wait_for.h"
#include "services/engine/engine.h"

namespace oppmatrix {

std::string Rescorer::DefaultOwner() {
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) != 0) host[0] = '\0';
  std::random_device random;
  return absl::StrFormat("%s:%d:%08x", host, static_cast<int>(getpid()),
                         static_cast<uint32_t>(random()));
}

absl::StatusOr<RescoredPage> RescoreEntries(
    ResultStore& store, absl::Span<const StoredInputEntry> entries,
    const CompiledRuleset& rules, absl::Time now, absl::Time keep_current_since,
    absl::Time deadline) {
  RescoredPage out;
  std::vector<v1::Classification> results(entries.size());
  std::vector<PutItem> puts;
  puts.reserve(entries.size());
  v1::Opportunity opportunity;
  for (size_t i = 0; i < entries.size(); ++i) {
    opportunity.Clear();
    if (entries[i].input.empty() ||
        !opportunity.ParseFromString(entries[i].input)) {
      ++out.skipped;
      continue;
    }
    puts.push_back(ClassifyForStore(opportunity, rules, now,
                                    /*with_reasons=*/true, &results[i]));
    puts.back().only_over_same_input = true;
  }
  if (puts.empty()) return out;
  absl::StatusOr<std::vector<PutOutcome>> stored =
      WaitFor<std::vector<PutOutcome>>([&](auto done) {
        store.PutAsync(puts,
                       {.now = now, .keep_current_since = keep_current_since},
                       deadline, std::move(done));
      });
  if (!stored.ok()) return stored.status();
  for (const PutOutcome& o : *stored) {
    if (o.superseded) ++out.skipped;
    if (o.moved) ++out.moved;
  }
  return out;
}

Rescorer::Rescorer(TenantRulesets* rulesets, RulesetStore* store,
                   ResultStore* results, Options options)
    : rulesets_(rulesets),
      store_(store),
      results_(results),
      options_(std::move(options)) {}

Rescorer::~Rescorer() { Stop(); }

void Rescorer::Start() {
  if (thread_.joinable()) return;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = false;
  }
  thread_ = std::thread([this] { Loop(); });
}

void Rescorer::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void Rescorer::Wake() {
  absl::MutexLock lock(&mu_);
  woken_ = true;
}

Rescorer::Stats Rescorer::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

bool Rescorer::stopping() const {
  absl::MutexLock lock(&mu_);
  return stopping_;
}

bool Rescorer::SleepFor(absl::Duration d) {
  absl::MutexLock lock(&mu_);
  auto stop = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; };
  if (d > absl::ZeroDuration()) mu_.AwaitWithTimeout(absl::Condition(&stop), d);
  return stopping_;
}

void Rescorer::Loop() {
  absl::Status last = absl::OkStatus();
  while (true) {
    absl::Status s = RunOnce();
    if (!s.ok() && s.ToString() != last.ToString()) {
      Log(LogLevel::kWarning, "rescore",
          absl::StrCat("rescoring waits for the store: ", s.message()));
    }
    last = s;
    absl::MutexLock lock(&mu_);
    auto wake = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return stopping_ || woken_;
    };
    // After an error, try again in a while even without a poll interval.
    absl::Duration wait = options_.poll_interval > absl::ZeroDuration()
                              ? options_.poll_interval
                              : absl::InfiniteDuration();
    if (!s.ok()) wait = std::min(wait, options_.retry_delay);
    if (wait != absl::InfiniteDuration()) {
      mu_.AwaitWithTimeout(absl::Condition(&wake), wait);
    } else {
      mu_.Await(absl::Condition(&wake));
    }
    if (stopping_) return;
    woken_ = false;
  }
}

absl::Status Rescorer::RunOnce() {
  if (store_ == nullptr || results_ == nullptr) return absl::OkStatus();
  auto deadline = [this] { return absl::Now() + options_.store_timeout; };
  absl::StatusOr<std::vector<std::string>> tenants =
      WaitFor<std::vector<std::string>>([&](auto done) {
        store_->RescoringAsync(deadline(), std::move(done));
      });
  if (!tenants.ok()) return tenants.status();
  absl::Status first_error;
  for (const std::string& tenant : *tenants) {
    if (stopping()) break;
    absl::StatusOr<std::optional<RescoreJob>> job =
        WaitFor<std::optional<RescoreJob>>([&](auto done) {
          store_->ClaimRescoreAsync(tenant, options_.owner, options_.clock(),
                                    options_.lease, deadline(),
                                    std::move(done));
        });
    if (!job.ok()) {
      if (first_error.ok()) first_error = job.status();
      continue;
    }
    if (!job->has_value()) continue;  // finished, or another's
    absl::Status error;
    Run(**std::move(job), &error);
    if (!error.ok() && first_error.ok()) first_error = error;
  }
  return first_error;
}

Rescorer::Outcome Rescorer::Run(RescoreJob job, absl::Status* error) {
  auto deadline = [this] { return absl::Now() + options_.store_timeout; };
  const std::string& tenant = job.tenant_id;
  // A store call failed: the job waits for the next look.
  auto fail = [&](const absl::Status& status) {
    *error = status;
    absl::MutexLock lock(&mu_);
    ++stats_.errors;
    return Outcome::kWaiting;
  };
  // Records a step; false when the job is no longer this replica's.
  auto advance = [&](const RescoreStep& step, absl::Duration lease) {
    absl::StatusOr<bool> kept = WaitFor<bool>([&](auto done) {
      store_->AdvanceRescoreAsync(tenant, options_.owner, job.id, step,
                                  options_.clock(), lease, deadline(),
                                  std::move(done));
    });
    if (!kept.ok()) {
      fail(kept.status());
      return false;
    }
    if (!*kept) {
      Log(LogLevel::kInfo, "rescore",
          absl::StrCat("tenant ", tenant, ": rescore ", job.id,
                       " was replaced or taken over"));
      absl::MutexLock lock(&mu_);
      ++stats_.lost;
    }
    return *kept;
  };
  // Gives the lease up, so that another replica can go on at once.
  auto release = [&] { advance({.cursor = job.cursor}, absl::ZeroDuration()); };
  // Waits `d`, renewing the lease every third of it: kFinished when the
  // wait is over, else why it ended.
  auto pause = [&](absl::Duration d) {
    const absl::Time until = absl::Now() + d;
    while (true) {
      const absl::Duration left = until - absl::Now();
      if (left <= absl::ZeroDuration()) return Outcome::kFinished;
      if (SleepFor(std::min(left, options_.lease / 3))) {
        release();
        return Outcome::kStopped;
      }
      if (absl::Now() < until &&
          !advance({.cursor = job.cursor}, options_.lease)) {
        return Outcome::kLost;
      }
    }
  };
  const absl::Duration settle =
      options_.settle > absl::ZeroDuration()
          ? std::min(options_.settle,
                     job.started_time + options_.settle - options_.clock())
          : absl::ZeroDuration();
  if (settle > absl::ZeroDuration()) {
    if (Outcome o = pause(settle); o != Outcome::kFinished) return o;
  }
  // The version the job rescores to must be the one in force here.
  auto in_force = [&]() -> std::shared_ptr<const CompiledRuleset> {
    if (job.version.empty()) {
      return rulesets_->Own(tenant) == nullptr ? rulesets_->ForTenant(tenant)
                                               : nullptr;
    }
    std::shared_ptr<const CompiledRuleset> r = rulesets_->ForTenant(tenant);
    return r->version == job.version ? r : nullptr;
  };
  if (in_force() == nullptr) (void)rulesets_->Refresh();
  if (in_force() == nullptr) {
    Log(LogLevel::kWarning, "rescore",
        absl::StrCat("tenant ", tenant, ": rescore ", job.id, " to ",
                     job.version.empty() ? "the default" : job.version,
                     " waits: another version is in force here"));
    release();
    return Outcome::kWaiting;
  }
  if (job.total < 0) {
    absl::StatusOr<std::vector<StoredCell>> cells =
        WaitFor<std::vector<StoredCell>>([&](auto done) {
          results_->MatrixAsync(tenant, {}, 0, options_.clock(), deadline(),
                                std::move(done));
        });
    if (!cells.ok()) return fail(cells.status());
    int64_t total = 0;
    for (const StoredCell& c : *cells) total += c.count;
    if (!advance({.cursor = job.cursor, .total = total}, options_.lease)) {
      return Outcome::kLost;
    }
    job.total = total;
    Log(LogLevel::kInfo, "rescore",
        absl::StrCat("tenant ", tenant, ": rescoring ", total,
                     " stored results to ",
                     job.version.empty() ? "the default ruleset" : job.version,
                     " (rescore ", job.id, ")"));
  }
  absl::Time next = absl::Now();  // the rate limit's pace
  // The next step's page is read while this one is scored and stored (a
  // stale read is harmless: PutItem::only_over_same_input). Each read's
  // answer goes to a promise its callback owns a share of, so a read left
  // in flight when the job ends is answered into nothing.
  using PageFuture = std::future<absl::StatusOr<InputPage>>;
  auto read = [&](const std::string& cursor) {
    auto answer = std::make_shared<std::promise<absl::StatusOr<InputPage>>>();
    PageFuture future = answer->get_future();
    results_->InputsAsync(tenant, cursor, kRescorePage, absl::InfiniteFuture(),
                          deadline(), [answer](absl::StatusOr<InputPage> page) {
                            answer->set_value(std::move(page));
                          });
    return future;
  };
  PageFuture next_page = read(job.cursor);
  while (true) {
    if (stopping()) {
      release();
      return Outcome::kStopped;
    }
    std::shared_ptr<const CompiledRuleset> rules = in_force();
    if (rules == nullptr) {
      release();
      return Outcome::kWaiting;  // a newer publication is here
    }
    absl::StatusOr<InputPage> page = next_page.get();
    if (page.ok() && !page->cursor.empty()) next_page = read(page->cursor);
    if (!page.ok()) return fail(page.status());
    const absl::Time now = options_.clock();
    RescoreStep step{.cursor = page->cursor,
                     .done = static_cast<int64_t>(page->entries.size()),
                     .finished = page->cursor.empty()};
    // Current results (a page done again) are not written again.
    absl::StatusOr<RescoredPage> stored =
        RescoreEntries(*results_, page->entries, *rules, now,
                       absl::InfinitePast(), deadline());
    if (!stored.ok()) return fail(stored.status());
    step.skipped = stored->skipped;
    step.moved = stored->moved;
    if (!advance(step, options_.lease)) return Outcome::kLost;
    job.cursor = step.cursor;
    job.done += step.done;
    job.moved += step.moved;
    job.skipped += step.skipped;
    {
      absl::MutexLock lock(&mu_);
      stats_.rescored += step.done;
      stats_.moved += step.moved;
      if (step.finished) ++stats_.finished;
    }
    if (step.finished) {
      Log(LogLevel::kInfo, "rescore",
          absl::StrCat("tenant ", tenant, ": rescore ", job.id,
                       " done: ", job.done, " results, ", job.moved, " moved, ",
                       job.skipped, " skipped"));
      return Outcome::kFinished;
    }
    if (options_.rate > 0) {
      next += absl::Seconds(static_cast<double>(step.done) / options_.rate);
      const absl::Time real = absl::Now();
      if (next < real - absl::Seconds(1))
        next = real;  // no burst after a stall
      if (next > real) {
        if (Outcome o = pause(next - real); o != Outcome::kFinished) return o;
      }
    }
  }
}

}  // namespace oppmatrix
