#include "services/classifier/ruleset_watcher.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "services/common/file_util.h"
#include "services/common/log.h"
#include "services/common/status_macros.h"

namespace oppmatrix {

absl::StatusOr<std::unique_ptr<RulesetWatcher>> RulesetWatcher::Create(
    Options options) {
  OPPMATRIX_ASSIGN_OR_RETURN(
      std::string bytes, ReadFileToString(options.path, kMaxRulesetFileBytes));
  absl::StatusOr<std::shared_ptr<const CompiledRuleset>> rules =
      LoadRulesetYaml(bytes);
  if (!rules.ok()) {
    return absl::Status(
        rules.status().code(),
        absl::StrCat(options.path, ": ", rules.status().message()));
  }
  Log(LogLevel::kInfo, "rules",
      absl::StrCat("loaded ", options.path, " version ", (*rules)->version));
  return std::unique_ptr<RulesetWatcher>(
      new RulesetWatcher(std::move(options), std::move(bytes), *rules));
}

RulesetWatcher::RulesetWatcher(Options options, std::string bytes,
                               std::shared_ptr<const CompiledRuleset> rules)
    : options_(std::move(options)),
      current_(std::move(rules)),
      current_bytes_(std::move(bytes)) {}

RulesetWatcher::~RulesetWatcher() { Stop(); }

std::shared_ptr<const CompiledRuleset> RulesetWatcher::Current() const {
  absl::MutexLock lock(&mu_);
  return current_;
}

RulesetWatcher::Stats RulesetWatcher::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

absl::Status RulesetWatcher::Reload() {
  absl::MutexLock serial(&reload_mu_);
  absl::StatusOr<std::string> bytes =
      ReadFileToString(options_.path, kMaxRulesetFileBytes);
  {
    absl::MutexLock lock(&mu_);
    if (bytes.ok() && (*bytes == current_bytes_)) return absl::OkStatus();
    if (bytes.ok() && *bytes == failed_bytes_) {
      return absl::InvalidArgumentError(stats_.last_error);
    }
  }
  absl::StatusOr<std::shared_ptr<const CompiledRuleset>> rules =
      bytes.ok() ? LoadRulesetYaml(*bytes)
                 : absl::StatusOr<std::shared_ptr<const CompiledRuleset>>(
                       bytes.status());
  absl::MutexLock lock(&mu_);
  if (!rules.ok()) {
    std::string error =
        absl::StrCat(options_.path, ": ", rules.status().message());
    ++stats_.reloads_failed;
    stats_.last_error = error;
    if (bytes.ok()) failed_bytes_ = *bytes;
    Log(LogLevel::kError, "rules",
        absl::StrCat("reload failed, keeping version ", current_->version, ": ",
                     error));
    return absl::Status(rules.status().code(), error);
  }
  std::string old_version = current_->version;
  current_ = *std::move(rules);
  current_bytes_ = *std::move(bytes);
  failed_bytes_.clear();
  ++stats_.reloads_ok;
  stats_.last_error.clear();
  Log(LogLevel::kInfo, "rules",
      absl::StrCat("reloaded ", options_.path, ": ", old_version, " -> ",
                   current_->version));
  return absl::OkStatus();
}

void RulesetWatcher::Start() {
  if (options_.poll_interval <= absl::ZeroDuration() || thread_.joinable()) {
    return;
  }
  thread_ = std::thread([this] { PollLoop(); });
}

void RulesetWatcher::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void RulesetWatcher::PollLoop() {
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      auto stopping = [this]()
                          ABSL_SHARED_LOCKS_REQUIRED(mu_) { return stopping_; };
      mu_.AwaitWithTimeout(absl::Condition(&stopping), options_.poll_interval);
      if (stopping_) return;
    }
    Reload().IgnoreError();
  }
}

}  // namespace oppmatrix
