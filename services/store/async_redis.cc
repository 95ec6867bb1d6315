#include "services/store/async_redis.h"

#include <event2/event.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "services/common/wait_for.h"

namespace oppmatrix {
namespace {

timeval TimevalOf(absl::Duration d) {
  return absl::ToTimeval(std::max(d, absl::ZeroDuration()));
}

}  // namespace

class AsyncRedis::Loop {
 public:
  explicit Loop(const Options& options);
  ~Loop();

  void Submit(std::shared_ptr<const std::vector<RedisCommand>> commands,
              absl::Time deadline, Callback done);
  void AddStats(Stats* stats) const;
  // Asks the loop to stop (it answers what it holds, then exits), and
  // waits for it; the destructor does both.
  void Stop();
  void Join();

 private:
  enum class State { kDown, kConnecting, kReady };

  // One pipeline, from Submit() until its callback ran and hiredis holds
  // no more reply callbacks for it.
  struct Request {
    Loop* loop = nullptr;
    // Shared with a caller that may re-run some of them (NOSCRIPT).
    std::shared_ptr<const std::vector<RedisCommand>> commands;
    absl::Time deadline;
    Callback done;
    std::vector<RedisReply> replies;
    int outstanding = 0;     // replies hiredis still owes
    bool lost = false;       // a reply came back NULL: connection gone
    bool finished = false;   // `done` ran
    bool handshake = false;  // AUTH/SELECT of a new connection
    bool waiting = false;    // in waiting_
    absl::Time sent = absl::InfiniteFuture();
    event* timer = nullptr;
    // When the timer was set to fire: libevent's coarse clock can fire it
    // a tick early, and the call must then count as due.
    absl::Time timer_at = absl::InfiniteFuture();
  };

  void Run();
  // On the loop thread.
  static void OnWake(evutil_socket_t, short, void* arg);
  static void OnFlushTimer(evutil_socket_t, short, void* arg);
  static void OnRequestTimer(evutil_socket_t, short, void* arg);
  static void OnConnectTimer(evutil_socket_t, short, void* arg);
  static void OnConnect(const redisAsyncContext* ac, int status);
  static void OnDisconnect(const redisAsyncContext* ac, int status);
  static void OnReply(redisAsyncContext* ac, void* reply, void* privdata);

  void Drain();
  void Take(Request* r);
  void Send(Request* r);
  void ArmTimer(Request* r, absl::Time when);
  void Finish(Request* r, absl::StatusOr<std::vector<RedisReply>> result);
  void MaybeDelete(Request* r);
  void StartConnect();
  void Ready();
  // The connection failed or was dropped with `status`: into backoff,
  // failing what waited for it.
  void Fail(const absl::Status& status);
  // Drops the connection (its pipelines get UNAVAILABLE) for `status`.
  void Drop(const absl::Status& status);
  absl::Status DownStatus() const;
  void Publish();

  const Options& options_;
  event_base* base_ = nullptr;
  event* wake_ = nullptr;
  event* flush_timer_ = nullptr;
  event* connect_timer_ = nullptr;
  int wake_fd_ = -1;
  std::thread thread_;

  // A std::mutex: Debian's Abseil is not built for ThreadSanitizer, which
  // then cannot see absl::Mutex's locking.
  mutable std::mutex mu_;
  std::vector<Request*> queue_;  // guarded by mu_
  bool stopping_ = false;        // guarded by mu_
  Stats stats_;                  // guarded by mu_

  // Loop thread only.
  State state_ = State::kDown;
  redisAsyncContext* ac_ = nullptr;
  bool connected_ = false;
  bool flush_pending_ = false;
  bool stopped_ = false;
  absl::Status drop_status_;
  absl::Status last_status_ = absl::UnavailableError("not connected yet");
  absl::Time retry_at_ = absl::InfinitePast();
  absl::Duration backoff_;
  std::deque<Request*> waiting_;  // for the connection
  int64_t commands_ = 0, flushes_ = 0, connects_ = 0, failures_ = 0;
};

AsyncRedis::Loop::Loop(const Options& options)
    : options_(options), backoff_(options.min_backoff) {
  base_ = event_base_new();
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  wake_ = event_new(base_, wake_fd_, EV_READ | EV_PERSIST, &OnWake, this);
  event_add(wake_, nullptr);
  flush_timer_ = evtimer_new(base_, &OnFlushTimer, this);
  connect_timer_ = evtimer_new(base_, &OnConnectTimer, this);
  thread_ = std::thread([this] { Run(); });
}

void AsyncRedis::Loop::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  const uint64_t one = 1;
  (void)!write(wake_fd_, &one, sizeof(one));
}

void AsyncRedis::Loop::Join() {
  if (thread_.joinable()) thread_.join();
}

AsyncRedis::Loop::~Loop() {
  Stop();
  Join();
  event_free(wake_);
  event_free(flush_timer_);
  event_free(connect_timer_);
  event_base_free(base_);
  close(wake_fd_);
}

void AsyncRedis::Loop::Run() {
  // Connect before the first call needs it.
  StartConnect();
  event_base_dispatch(base_);
}

void AsyncRedis::Loop::Submit(
    std::shared_ptr<const std::vector<RedisCommand>> commands,
    absl::Time deadline, Callback done) {
  auto* r = new Request();
  r->loop = this;
  r->commands = std::move(commands);
  r->deadline = deadline;
  r->done = std::move(done);
  bool wake;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.pipelines;
    if (stopping_) {
      wake = false;
    } else {
      // Only the first of a turn wakes the loop: the rest ride along.
      wake = queue_.empty();
      queue_.push_back(r);
      r = nullptr;
    }
  }
  if (r != nullptr) {
    std::move(r->done)(absl::UnavailableError("the Redis client is stopping"));
    delete r;
    return;
  }
  if (wake) {
    const uint64_t one = 1;
    (void)!write(wake_fd_, &one, sizeof(one));
  }
}

void AsyncRedis::Loop::OnWake(evutil_socket_t fd, short, void* arg) {
  auto* self = static_cast<Loop*>(arg);
  uint64_t n;
  (void)!read(fd, &n, sizeof(n));
  if (self->options_.flush_delay > absl::ZeroDuration()) {
    bool stopping;
    {
      std::lock_guard<std::mutex> lock(self->mu_);
      stopping = self->stopping_;
    }
    if (!stopping) {
      if (!self->flush_pending_) {
        self->flush_pending_ = true;
        const timeval tv = TimevalOf(self->options_.flush_delay);
        evtimer_add(self->flush_timer_, &tv);
      }
      return;
    }
  }
  self->Drain();
}

void AsyncRedis::Loop::OnFlushTimer(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<Loop*>(arg);
  self->flush_pending_ = false;
  self->Drain();
}

void AsyncRedis::Loop::Drain() {
  std::vector<Request*> batch;
  bool stopping;
  {
    std::lock_guard<std::mutex> lock(mu_);
    batch.swap(queue_);
    stopping = stopping_;
  }
  if (stopping && !stopped_) {
    stopped_ = true;
    const absl::Status gone =
        absl::UnavailableError("the Redis client stopped");
    for (Request* r : batch) {
      Finish(r, gone);
      MaybeDelete(r);
    }
    batch.clear();
    if (ac_ != nullptr) {
      drop_status_ = gone;
      redisAsyncContext* ac = ac_;
      ac_ = nullptr;
      redisAsyncFree(ac);  // its pipelines get their NULL replies
    }
    while (!waiting_.empty()) {
      Request* r = waiting_.front();
      waiting_.pop_front();
      r->waiting = false;
      Finish(r, gone);
      MaybeDelete(r);
    }
    event_base_loopexit(base_, nullptr);
    return;
  }
  const int64_t before = commands_;
  for (Request* r : batch) Take(r);
  if (commands_ > before) ++flushes_;
  Publish();
}

void AsyncRedis::Loop::Take(Request* r) {
  if (r->commands->empty()) {
    Finish(r, std::vector<RedisReply>{});
    MaybeDelete(r);
    return;
  }
  if (absl::Now() >= r->deadline) {
    Finish(r, absl::DeadlineExceededError(
                  "the deadline passed before the Redis call was made"));
    MaybeDelete(r);
    return;
  }
  switch (state_) {
    case State::kReady:
      Send(r);
      return;
    case State::kConnecting:
      r->waiting = true;
      waiting_.push_back(r);
      ArmTimer(r, r->deadline);
      return;
    case State::kDown:
      if (absl::Now() < retry_at_) {
        Finish(r, DownStatus());
        MaybeDelete(r);
        return;
      }
      r->waiting = true;
      waiting_.push_back(r);
      ArmTimer(r, r->deadline);
      StartConnect();
      return;
  }
}

absl::Status AsyncRedis::Loop::DownStatus() const {
  return absl::Status(
      last_status_.code(),
      absl::StrCat("Redis at ", options_.endpoint.ToSafeString(),
                   " is unavailable (retrying in ",
                   absl::FormatDuration(absl::Trunc(retry_at_ - absl::Now(),
                                                    absl::Milliseconds(1))),
                   "): ", last_status_.message()));
}

void AsyncRedis::Loop::Send(Request* r) {
  r->sent = absl::Now();
  r->replies.reserve(r->commands->size());
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (const RedisCommand& command : *r->commands) {
    argv.clear();
    lens.clear();
    for (const std::string& arg : command) {
      argv.push_back(arg.data());
      lens.push_back(arg.size());
    }
    if (redisAsyncCommandArgv(ac_, &OnReply, r, static_cast<int>(argv.size()),
                              argv.data(), lens.data()) != REDIS_OK) {
      r->lost = true;
      break;
    }
    ++r->outstanding;
    if (!r->handshake) ++commands_;  // the callers' commands
  }
  if (r->outstanding == 0) {
    r->finished = r->finished || r->handshake;
    Finish(r, absl::UnavailableError("the Redis connection is closing"));
    MaybeDelete(r);
    return;
  }
  ArmTimer(r, std::min(r->deadline, r->sent + options_.command_timeout));
}

void AsyncRedis::Loop::ArmTimer(Request* r, absl::Time when) {
  if (when == absl::InfiniteFuture()) return;
  if (r->timer == nullptr) r->timer = evtimer_new(base_, &OnRequestTimer, r);
  r->timer_at = when;
  const timeval tv = TimevalOf(when - absl::Now());
  evtimer_add(r->timer, &tv);
}

void AsyncRedis::Loop::OnRequestTimer(evutil_socket_t, short, void* arg) {
  auto* r = static_cast<Request*>(arg);
  Loop* self = r->loop;
  const absl::Time now = std::max(absl::Now(), r->timer_at);
  if (now >= r->deadline && !r->finished) {
    self->Finish(r, absl::DeadlineExceededError(
                        "Redis did not answer within the call's deadline"));
  }
  if (r->outstanding == 0) {
    // Still waiting for a connection: done with once answered (its timer
    // only ever fires at its deadline).
    if (!r->finished) {
      self->ArmTimer(r, r->deadline);
      return;
    }
    if (r->waiting) {
      self->waiting_.erase(
          std::find(self->waiting_.begin(), self->waiting_.end(), r));
      r->waiting = false;
    }
    self->MaybeDelete(r);
    return;
  }
  if (now >= r->sent + self->options_.command_timeout) {
    // A hung Redis: nothing behind this reply can come either.
    self->Drop(absl::UnavailableError(
        absl::StrCat("no reply from Redis within ",
                     absl::FormatDuration(self->options_.command_timeout))));
    return;
  }
  // The deadline passed first: the reply may still come (and is then
  // dropped); keep watching for the command timeout.
  self->ArmTimer(r, r->sent + self->options_.command_timeout);
}

void AsyncRedis::Loop::OnReply(redisAsyncContext*, void* reply,
                               void* privdata) {
  auto* r = static_cast<Request*>(privdata);
  Loop* self = r->loop;
  --r->outstanding;
  if (reply == nullptr) {
    r->lost = true;
  } else if (!r->lost) {
    r->replies.push_back(CopyReply(static_cast<redisReply*>(reply)));
  }
  if (r->outstanding > 0) return;
  if (r->handshake) {
    // AUTH and SELECT of a new connection.
    absl::Status s;
    if (r->lost) {
      s = absl::UnavailableError("the connection closed during AUTH/SELECT");
    } else {
      for (size_t i = 0; i < r->replies.size() && s.ok(); ++i) {
        if (!r->replies[i].is_error()) continue;
        const std::string& error = r->replies[i].str;
        const std::string& command = (*r->commands)[i][0];
        // Credentials refused, or no such database, are the URL's fault;
        // anything else (too many clients, loading) passes.
        absl::StatusCode code = absl::StatusCode::kUnavailable;
        if (absl::StartsWith(error, "WRONGPASS") ||
            absl::StartsWith(error, "NOAUTH") ||
            absl::StrContains(error, "invalid password") ||
            absl::StrContains(error, "invalid username-password")) {
          code = absl::StatusCode::kPermissionDenied;
        } else if (command == "SELECT" &&
                   absl::StrContains(error, "out of range")) {
          code = absl::StatusCode::kFailedPrecondition;
        }
        s = absl::Status(code, absl::StrCat(command, " failed: ", error));
      }
    }
    const bool lost = r->lost;
    r->finished = true;
    self->MaybeDelete(r);
    if (s.ok()) {
      self->Ready();
    } else if (!lost) {
      self->Drop(s);
    }
    return;
  }
  if (!r->finished) {
    if (r->lost) {
      self->Finish(r,
                   self->drop_status_.ok()
                       ? absl::UnavailableError("the Redis connection closed")
                       : self->drop_status_);
    } else {
      self->Finish(r, std::move(r->replies));
    }
  }
  self->MaybeDelete(r);
}

void AsyncRedis::Loop::Finish(Request* r,
                              absl::StatusOr<std::vector<RedisReply>> result) {
  if (r->finished) return;
  r->finished = true;
  if (r->done) std::move(r->done)(std::move(result));
  r->done = nullptr;
}

void AsyncRedis::Loop::MaybeDelete(Request* r) {
  // In waiting_, the timer or the connection takes it out first.
  if (!r->finished || r->outstanding > 0 || r->waiting) return;
  if (r->timer != nullptr) {
    event_free(r->timer);
    r->timer = nullptr;
  }
  delete r;
}

void AsyncRedis::Loop::StartConnect() {
  if (state_ != State::kDown || stopped_) return;
  const RedisEndpoint& e = options_.endpoint;
  redisAsyncContext* ac = e.unix_path.empty()
                              ? redisAsyncConnect(e.host.c_str(), e.port)
                              : redisAsyncConnectUnix(e.unix_path.c_str());
  if (ac == nullptr) {
    Fail(absl::UnavailableError("cannot allocate a Redis connection"));
    return;
  }
  if (ac->err != 0) {
    const absl::Status s = absl::UnavailableError(absl::StrCat(
        "cannot connect to Redis at ", e.ToSafeString(), ": ", ac->errstr));
    redisAsyncFree(ac);
    Fail(s);
    return;
  }
  ac->data = this;
  redisLibeventAttach(ac, base_);
  redisAsyncSetConnectCallback(ac, &OnConnect);
  redisAsyncSetDisconnectCallback(ac, &OnDisconnect);
  ac_ = ac;
  connected_ = false;
  drop_status_ = absl::OkStatus();
  state_ = State::kConnecting;
  const timeval tv = TimevalOf(options_.connect_timeout);
  evtimer_add(connect_timer_, &tv);
  // AUTH and SELECT go first; hiredis writes them once connected.
  auto* handshake = new Request();
  handshake->loop = this;
  handshake->handshake = true;
  handshake->deadline = absl::InfiniteFuture();
  std::vector<RedisCommand> commands;
  if (!e.password.empty()) {
    commands.push_back(e.username.empty()
                           ? RedisCommand{"AUTH", e.password}
                           : RedisCommand{"AUTH", e.username, e.password});
  }
  if (e.db != 0) commands.push_back({"SELECT", absl::StrCat(e.db)});
  // A reply proves the server answers: a stopped Redis still completes
  // the TCP handshake in the kernel, and connect_timeout must bound it.
  commands.push_back({"PING"});
  handshake->commands =
      std::make_shared<const std::vector<RedisCommand>>(std::move(commands));
  Send(handshake);
}

void AsyncRedis::Loop::OnConnect(const redisAsyncContext* ac, int status) {
  auto* self = static_cast<Loop*>(ac->data);
  if (status != REDIS_OK) {
    // hiredis frees the context after this.
    const absl::Status s = absl::UnavailableError(
        absl::StrCat("cannot connect to Redis at ",
                     self->options_.endpoint.ToSafeString(), ": ", ac->errstr));
    self->ac_ = nullptr;
    self->Fail(s);
    return;
  }
  // Ready once the handshake (AUTH, SELECT, PING) has answered.
  self->connected_ = true;
}

void AsyncRedis::Loop::Ready() {
  evtimer_del(connect_timer_);
  state_ = State::kReady;
  ++connects_;
  backoff_ = options_.min_backoff;
  last_status_ = absl::OkStatus();
  std::deque<Request*> waiting;
  waiting.swap(waiting_);
  const absl::Time now = absl::Now();
  for (Request* r : waiting) {
    r->waiting = false;
    if (!r->finished && now >= r->deadline) {
      Finish(r, absl::DeadlineExceededError(
                    "the deadline passed while connecting to Redis"));
    }
    if (r->finished) {
      MaybeDelete(r);
    } else {
      Send(r);
    }
  }
  Publish();
}

void AsyncRedis::Loop::OnConnectTimer(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<Loop*>(arg);
  if (self->state_ != State::kConnecting) return;
  self->Drop(absl::UnavailableError(absl::StrCat(
      "no connection to Redis at ", self->options_.endpoint.ToSafeString(),
      " within ", absl::FormatDuration(self->options_.connect_timeout))));
}

void AsyncRedis::Loop::Drop(const absl::Status& status) {
  if (ac_ == nullptr) return;
  drop_status_ = status;
  redisAsyncContext* ac = ac_;
  ac_ = nullptr;
  const bool was_connected = connected_;
  // Its pipelines get NULL replies (UNAVAILABLE), then, if it was
  // connected, OnDisconnect runs (which fails it); else fail it here. From
  // inside a reply callback hiredis defers the free to its return.
  redisAsyncFree(ac);
  if (!was_connected) Fail(status);
}

void AsyncRedis::Loop::OnDisconnect(const redisAsyncContext* ac, int status) {
  auto* self = static_cast<Loop*>(ac->data);
  if (self->ac_ == ac) self->ac_ = nullptr;
  absl::Status s = self->drop_status_;
  if (s.ok()) {
    s = absl::UnavailableError(
        status == REDIS_OK
            ? std::string("the Redis connection closed")
            : absl::StrCat("the Redis connection broke: ", ac->errstr));
  }
  self->Fail(s);
}

void AsyncRedis::Loop::Fail(const absl::Status& status) {
  evtimer_del(connect_timer_);
  state_ = State::kDown;
  connected_ = false;
  ++failures_;
  last_status_ = status;
  retry_at_ = absl::Now() + backoff_;
  backoff_ = std::min(backoff_ * 2, options_.max_backoff);
  std::deque<Request*> waiting;
  waiting.swap(waiting_);
  for (Request* r : waiting) {
    r->waiting = false;
    Finish(r, status);
    MaybeDelete(r);
  }
  // The ones sent got their NULL replies from hiredis.
  Publish();
}

void AsyncRedis::Loop::Publish() {
  std::lock_guard<std::mutex> lock(mu_);
  stats_.commands = commands_;
  stats_.flushes = flushes_;
  stats_.connects = connects_;
  stats_.failures = failures_;
  stats_.healthy = state_ == State::kReady;
  stats_.last_error =
      last_status_.ok() ? "" : std::string(last_status_.message());
}

void AsyncRedis::Loop::AddStats(Stats* out) const {
  std::lock_guard<std::mutex> lock(mu_);
  out->pipelines += stats_.pipelines;
  out->commands += stats_.commands;
  out->flushes += stats_.flushes;
  out->connects += stats_.connects;
  out->failures += stats_.failures;
  out->healthy = out->healthy && stats_.healthy;
  if (!stats_.last_error.empty()) out->last_error = stats_.last_error;
}

absl::StatusOr<std::unique_ptr<AsyncRedis>> AsyncRedis::Create(
    Options options) {
  if (options.loops < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("loops: ", options.loops, " is below 1"));
  }
  for (const auto& [name, d] : {std::pair<const char*, absl::Duration>{
                                    "connect_timeout", options.connect_timeout},
                                {"command_timeout", options.command_timeout},
                                {"min_backoff", options.min_backoff},
                                {"max_backoff", options.max_backoff}}) {
    if (d <= absl::ZeroDuration()) {
      return absl::InvalidArgumentError(absl::StrCat(
          name, ": ", absl::FormatDuration(d), " is not positive"));
    }
  }
  if (options.flush_delay < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("flush_delay: is negative");
  }
  std::unique_ptr<AsyncRedis> out(new AsyncRedis(std::move(options)));
  for (int i = 0; i < out->options_.loops; ++i) {
    out->loops_.push_back(std::make_unique<Loop>(out->options_));
  }
  return out;
}

AsyncRedis::AsyncRedis(Options options) : options_(std::move(options)) {}

AsyncRedis::~AsyncRedis() {
  // Every loop stops before any is freed: a callback run while one loop
  // stops may hand a follow-up call to another.
  for (auto& loop : loops_) loop->Stop();
  for (auto& loop : loops_) loop->Join();
  loops_.clear();
}

absl::Status AsyncRedis::CheckCommands(
    const std::vector<RedisCommand>& commands) {
  for (size_t i = 0; i < commands.size(); ++i) {
    if (commands[i].empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("command ", i, " is empty"));
    }
    // Replies that never end (a subscription, MONITOR) or a state every
    // caller of the connection would share.
    const std::string name = absl::AsciiStrToUpper(commands[i][0]);
    for (const char* refused :
         {"SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE", "UNSUBSCRIBE",
          "PUNSUBSCRIBE", "SUNSUBSCRIBE", "MONITOR", "SELECT", "QUIT", "RESET",
          "HELLO", "CLIENT"}) {
      if (name == refused) {
        return absl::InvalidArgumentError(
            absl::StrCat("command ", i, ": ", name,
                         " is not for a connection every caller shares"));
      }
    }
  }
  return absl::OkStatus();
}

void AsyncRedis::Pipeline(std::vector<RedisCommand> commands,
                          absl::Time deadline, Callback done) {
  Pipeline(
      std::make_shared<const std::vector<RedisCommand>>(std::move(commands)),
      deadline, std::move(done));
}

void AsyncRedis::Pipeline(
    std::shared_ptr<const std::vector<RedisCommand>> commands,
    absl::Time deadline, Callback done) {
  if (absl::Status s = CheckCommands(*commands); !s.ok()) {
    std::move(done)(s);
    return;
  }
  const uint64_t n = next_.fetch_add(1, std::memory_order_relaxed);
  loops_[n % loops_.size()]->Submit(std::move(commands), deadline,
                                    std::move(done));
}

absl::StatusOr<std::vector<RedisReply>> AsyncRedis::PipelineSync(
    std::vector<RedisCommand> commands, absl::Time deadline) {
  return WaitFor<std::vector<RedisReply>>([&](Callback done) {
    Pipeline(std::move(commands), deadline, std::move(done));
  });
}

void PipelineLoadingScriptsAsync(AsyncRedis& redis,
                                 std::vector<RedisCommand> commands,
                                 absl::Span<const std::string* const> scripts,
                                 absl::Time deadline,
                                 AsyncRedis::Callback done) {
  // The commands are shared with the client, not copied, for a re-run.
  auto shared =
      std::make_shared<const std::vector<RedisCommand>>(std::move(commands));
  redis.Pipeline(
      shared, deadline,
      [&redis, shared,
       scripts =
           std::vector<const std::string*>(scripts.begin(), scripts.end()),
       deadline, done = std::move(done)](
          absl::StatusOr<std::vector<RedisReply>> replies) mutable {
        if (!replies.ok()) {
          std::move(done)(std::move(replies));
          return;
        }
        std::vector<size_t> missing = NoScriptReplies(*replies);
        if (missing.empty()) {
          std::move(done)(std::move(replies));
          return;
        }
        // Built before the callback below takes `missing` over.
        std::vector<RedisCommand> retry =
            ScriptReloadPipeline(scripts, *shared, missing);
        redis.Pipeline(
            std::move(retry), deadline,
            [loads = scripts.size(), missing = std::move(missing),
             first = *std::move(replies), done = std::move(done)](
                absl::StatusOr<std::vector<RedisReply>> again) mutable {
              if (!again.ok()) {
                std::move(done)(again.status());
                return;
              }
              absl::Status s = TakeReloadedReplies(loads, missing,
                                                   *std::move(again), &first);
              if (!s.ok()) {
                std::move(done)(s);
                return;
              }
              std::move(done)(std::move(first));
            });
      });
}

absl::StatusOr<std::vector<RedisReply>> PipelineLoadingScriptsSync(
    AsyncRedis& redis, std::vector<RedisCommand> commands,
    absl::Span<const std::string* const> scripts, absl::Time deadline) {
  return WaitFor<std::vector<RedisReply>>([&](AsyncRedis::Callback done) {
    PipelineLoadingScriptsAsync(redis, std::move(commands), scripts, deadline,
                                std::move(done));
  });
}

AsyncRedis::Stats AsyncRedis::stats() const {
  Stats out;
  out.healthy = true;
  for (const auto& loop : loops_) loop->AddStats(&out);
  return out;
}

}  // namespace oppmatrix
