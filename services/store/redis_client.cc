#include "services/store/redis_client.h"

#include <hiredis/hiredis.h>
#include <signal.h>
#include <sys/time.h>

#include <algorithm>
#include <mutex>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"

namespace oppmatrix {
namespace {

timeval TimevalOf(absl::Duration d) {
  d = std::max(d, absl::Milliseconds(1));
  return absl::ToTimeval(d);
}

}  // namespace

RedisReply CopyReply(const redisReply* r) {
  RedisReply out;
  switch (r->type) {
    case REDIS_REPLY_STRING:
      out.type = RedisReply::Type::kString;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = RedisReply::Type::kStatus;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = RedisReply::Type::kError;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = RedisReply::Type::kInteger;
      out.integer = r->integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = RedisReply::Type::kArray;
      out.elements.reserve(r->elements);
      for (size_t i = 0; i < r->elements; ++i) {
        out.elements.push_back(CopyReply(r->element[i]));
      }
      break;
    default:
      out.type = RedisReply::Type::kNil;
      break;
  }
  return out;
}

absl::StatusOr<std::unique_ptr<RedisConnection>> RedisConnection::Connect(
    const RedisEndpoint& endpoint, absl::Duration connect_timeout) {
  const absl::Time start = absl::Now();
  timeval tv = TimevalOf(connect_timeout);
  redisContext* c =
      endpoint.unix_path.empty()
          ? redisConnectWithTimeout(endpoint.host.c_str(), endpoint.port, tv)
          : redisConnectUnixWithTimeout(endpoint.unix_path.c_str(), tv);
  if (c == nullptr) {
    return absl::ResourceExhaustedError("redis: cannot allocate a context");
  }
  if (c->err != 0) {
    std::string error =
        absl::StrCat("redis ", endpoint.ToSafeString(), ": ", c->errstr);
    redisFree(c);
    return absl::UnavailableError(error);
  }
  std::unique_ptr<RedisConnection> conn(new RedisConnection(c));
  // AUTH and SELECT share what is left of the connect timeout.
  const absl::Time setup_deadline = start + connect_timeout;
  std::vector<RedisCommand> setup;
  if (!endpoint.password.empty()) {
    if (endpoint.username.empty()) {
      setup.push_back({"AUTH", endpoint.password});
    } else {
      setup.push_back({"AUTH", endpoint.username, endpoint.password});
    }
  }
  if (endpoint.db != 0) setup.push_back({"SELECT", absl::StrCat(endpoint.db)});
  if (!setup.empty()) {
    absl::StatusOr<std::vector<RedisReply>> replies =
        conn->Pipeline(setup, setup_deadline - absl::Now());
    if (!replies.ok()) return replies.status();
    for (size_t i = 0; i < replies->size(); ++i) {
      const RedisReply& r = (*replies)[i];
      if (!r.is_error()) continue;
      std::string message =
          absl::StrCat("redis ", endpoint.ToSafeString(), ": ", r.str);
      // A refused login vs. a database the server does not have.
      return setup[i][0] == "AUTH" ? absl::PermissionDeniedError(message)
                                   : absl::FailedPreconditionError(message);
    }
  }
  return conn;
}

RedisConnection::~RedisConnection() { redisFree(context_); }

absl::StatusOr<std::vector<RedisReply>> RedisConnection::Pipeline(
    absl::Span<const RedisCommand> commands, absl::Duration timeout) {
  if (broken_) return absl::UnavailableError("redis: connection broken");
  // hiredis times out each read and write; the time left bounds the whole
  // pipeline, so a Redis that answers slowly can't stretch it.
  const absl::Time deadline = absl::Now() + timeout;
  redisSetTimeout(context_, TimevalOf(timeout));
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (const RedisCommand& command : commands) {
    argv.clear();
    lens.clear();
    for (const std::string& arg : command) {
      argv.push_back(arg.data());
      lens.push_back(arg.size());
    }
    if (redisAppendCommandArgv(context_, static_cast<int>(argv.size()),
                               argv.data(), lens.data()) != REDIS_OK) {
      broken_ = true;
      return absl::UnavailableError(absl::StrCat("redis: ", context_->errstr));
    }
  }
  std::vector<RedisReply> replies;
  replies.reserve(commands.size());
  for (size_t i = 0; i < commands.size(); ++i) {
    void* raw = nullptr;
    // A reply already read into the buffer needs no I/O (and no timeout).
    if (i > 0 && redisReaderGetReply(context_->reader, &raw) != REDIS_OK) {
      broken_ = true;
      return absl::UnavailableError("redis: unreadable reply");
    }
    if (raw == nullptr) {
      absl::Duration left = deadline - absl::Now();
      if (left <= absl::ZeroDuration()) {
        broken_ = true;  // replies still owed: the connection is unusable
        return absl::UnavailableError("redis: timed out");
      }
      if (i > 0) redisSetTimeout(context_, TimevalOf(left));
    }
    if (raw == nullptr &&
        (redisGetReply(context_, &raw) != REDIS_OK || raw == nullptr)) {
      broken_ = true;
      return absl::UnavailableError(absl::StrCat(
          "redis: ", context_->err != 0 ? context_->errstr : "no reply"));
    }
    replies.push_back(CopyReply(static_cast<redisReply*>(raw)));
    freeReplyObject(raw);
  }
  return replies;
}

RedisPool::RedisPool(Options options)
    : options_(std::move(options)), backoff_(options_.min_backoff) {
  // hiredis writes with write(2): a peer that closed the socket would
  // raise SIGPIPE and kill the process. Ignore it (unless the program
  // installed its own handler); the write then fails with EPIPE.
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction current {};
    if (sigaction(SIGPIPE, nullptr, &current) == 0 &&
        current.sa_handler == SIG_DFL) {
      signal(SIGPIPE, SIG_IGN);
    }
  });
}

RedisPool::~RedisPool() = default;

RedisPool::Stats RedisPool::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

void RedisPool::RecordFailure(const absl::Status& status) {
  absl::MutexLock lock(&mu_);
  ++stats_.failures;
  stats_.healthy = false;
  stats_.last_error = std::string(status.message());
  retry_after_ = absl::Now() + backoff_;
  backoff_ = std::min(backoff_ * 2, options_.max_backoff);
}

absl::StatusOr<std::unique_ptr<RedisConnection>> RedisPool::Acquire(
    absl::Time deadline, bool allow_idle, bool* reused) {
  {
    absl::MutexLock lock(&mu_);
    auto available = [this, allow_idle]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return (allow_idle && !idle_.empty()) || open_ < options_.max_connections;
    };
    if (!mu_.AwaitWithDeadline(absl::Condition(&available), deadline)) {
      return absl::DeadlineExceededError(
          "redis: no free connection before the deadline");
    }
    if (!idle_.empty() && allow_idle) {
      std::unique_ptr<RedisConnection> c = std::move(idle_.back());
      idle_.pop_back();
      *reused = true;
      return c;
    }
    if (allow_idle && absl::Now() < retry_after_) {
      return absl::UnavailableError(absl::StrCat(
          "redis unavailable (", stats_.last_error, "); retrying in ",
          absl::FormatDuration(
              absl::Ceil(retry_after_ - absl::Now(), absl::Milliseconds(1)))));
    }
    // After a failure one caller at a time tries Redis again; the others
    // fail fast instead of each waiting out a connect timeout.
    if (!stats_.healthy) {
      if (probing_) {
        return absl::UnavailableError(absl::StrCat(
            "redis unavailable (", stats_.last_error, "); reconnecting"));
      }
      probing_ = true;
    }
    ++open_;
    ++stats_.connects;
  }
  absl::Duration timeout =
      std::min(options_.connect_timeout, deadline - absl::Now());
  absl::StatusOr<std::unique_ptr<RedisConnection>> c =
      RedisConnection::Connect(options_.endpoint, timeout);
  {
    absl::MutexLock lock(&mu_);
    probing_ = false;
    if (!c.ok()) --open_;
  }
  if (!c.ok()) RecordFailure(c.status());
  return c;
}

void RedisPool::Release(std::unique_ptr<RedisConnection> connection) {
  absl::MutexLock lock(&mu_);
  if (connection->broken()) {
    --open_;
    return;
  }
  idle_.push_back(std::move(connection));
}

absl::StatusOr<std::vector<RedisReply>> RedisPool::Pipeline(
    absl::Span<const RedisCommand> commands, absl::Time deadline) {
  absl::StatusOr<std::vector<RedisReply>> replies;
  for (int attempt = 0;; ++attempt) {
    bool reused = false;
    absl::StatusOr<std::unique_ptr<RedisConnection>> c =
        Acquire(deadline, /*allow_idle=*/attempt == 0, &reused);
    if (!c.ok()) return c.status();
    absl::Duration timeout =
        std::min(options_.command_timeout, deadline - absl::Now());
    replies = (*c)->Pipeline(commands, timeout);
    bool broken = (*c)->broken();
    Release(*std::move(c));
    if (replies.ok()) break;
    if (!broken) return replies.status();
    {
      // The other idle connections most likely died the same way (Redis
      // restarted): drop them rather than fail one call per connection.
      absl::MutexLock lock(&mu_);
      open_ -= static_cast<int>(idle_.size());
      idle_.clear();
    }
    // A pooled connection can be stale (Redis restarted since it was
    // used): try once more on a new one before reporting Redis down.
    if (!reused || attempt > 0 || absl::Now() >= deadline) {
      RecordFailure(replies.status());
      return replies.status();
    }
  }
  absl::MutexLock lock(&mu_);
  ++stats_.round_trips;
  stats_.commands += static_cast<int64_t>(commands.size());
  stats_.healthy = true;
  backoff_ = options_.min_backoff;
  retry_after_ = absl::InfinitePast();
  return replies;
}

std::vector<size_t> NoScriptReplies(const std::vector<RedisReply>& replies) {
  std::vector<size_t> missing;
  for (size_t i = 0; i < replies.size(); ++i) {
    const RedisReply& r = replies[i];
    if (r.is_error() && absl::StartsWith(r.str, "NOSCRIPT")) {
      missing.push_back(i);
    }
  }
  return missing;
}

std::vector<RedisCommand> ScriptReloadPipeline(
    absl::Span<const std::string* const> scripts,
    const std::vector<RedisCommand>& commands,
    const std::vector<size_t>& missing) {
  std::vector<RedisCommand> retry;
  retry.reserve(scripts.size() + missing.size());
  for (const std::string* source : scripts) {
    retry.push_back({"SCRIPT", "LOAD", *source});
  }
  for (size_t i : missing) retry.push_back(commands[i]);
  return retry;
}

absl::Status TakeReloadedReplies(size_t scripts,
                                 const std::vector<size_t>& missing,
                                 std::vector<RedisReply> again,
                                 std::vector<RedisReply>* replies) {
  for (size_t i = 0; i < scripts; ++i) {
    if (again[i].is_error()) {
      return absl::InternalError(
          absl::StrCat("redis SCRIPT LOAD: ", again[i].str));
    }
  }
  for (size_t j = 0; j < missing.size(); ++j) {
    (*replies)[missing[j]] = std::move(again[scripts + j]);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<RedisReply>> PipelineLoadingScripts(
    RedisPool& pool, const std::vector<RedisCommand>& commands,
    absl::Span<const std::string* const> scripts, absl::Time deadline) {
  absl::StatusOr<std::vector<RedisReply>> replies =
      pool.Pipeline(commands, deadline);
  if (!replies.ok()) return replies;
  const std::vector<size_t> missing = NoScriptReplies(*replies);
  if (missing.empty()) return replies;
  absl::StatusOr<std::vector<RedisReply>> again =
      pool.Pipeline(ScriptReloadPipeline(scripts, commands, missing), deadline);
  if (!again.ok()) return again.status();
  absl::Status taken = TakeReloadedReplies(scripts.size(), missing,
                                           *std::move(again), &*replies);
  if (!taken.ok()) return taken;
  return replies;
}

std::optional<std::pair<uint64_t, uint64_t>> ParseStreamId(
    absl::string_view id) {
  std::pair<absl::string_view, absl::string_view> parts =
      absl::StrSplit(id, absl::MaxSplits('-', 1));
  std::pair<uint64_t, uint64_t> out;
  if (!absl::SimpleAtoi(parts.first, &out.first) ||
      !absl::SimpleAtoi(parts.second, &out.second)) {
    return std::nullopt;
  }
  return out;
}

}  // namespace oppmatrix
