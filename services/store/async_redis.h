// An asynchronous Redis client over hiredis's async API and Debian's
// libevent adapter: callers never wait on I/O. A fixed number of
// event-loop threads each own one connection; Pipeline() hands its
// commands over through a queue and a wake-up, and returns at once.
// Everything queued during one turn of a loop is written to Redis at once
// (auto-pipelining: many callers' commands share one write and one round
// trip), after an optional flush delay that gathers more. A connection
// is ready once Redis has answered its handshake (AUTH and SELECT from the
// URL, then PING), within connect_timeout. A loop reconnects when a call
// comes after the backoff, not by itself.
//
// Each pipeline has a deadline, kept by a timer (hiredis 0.14 has none):
// past it the callback gets DEADLINE_EXCEEDED. A connection whose oldest
// reply is overdue by `command_timeout` (a hung Redis) is dropped, which
// fails what it still carries with UNAVAILABLE. A dropped or refused
// connection is made again after a backoff that doubles from min_backoff
// to max_backoff; meanwhile calls fail at once with UNAVAILABLE, so a
// Redis that is down costs nothing but the error. AUTH and SELECT come
// from the endpoint (the URL) and go first on every new connection.
//
// The callback runs on the loop's thread: it must not block (hand work
// on, finish a reactor). Blocking commands (XREADGROUP BLOCK) would stall
// every caller of their connection: give them an AsyncRedis of their own.
//
//   AsyncRedis redis({.endpoint = *ParseRedisUrl("redis://127.0.0.1/0")});
//   redis.Pipeline({{"SET", "k", "v"}, {"GET", "k"}},
//                  absl::Now() + absl::Milliseconds(100),
//                  [](absl::StatusOr<std::vector<RedisReply>> replies) {
//                    ...
//                  });
#ifndef OPPMATRIX_SERVICES_STORE_ASYNC_REDIS_H_
#define OPPMATRIX_SERVICES_STORE_ASYNC_REDIS_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "services/store/redis_client.h"
#include "services/store/redis_url.h"

namespace oppmatrix {

class AsyncRedis {
 public:
  struct Options {
    RedisEndpoint endpoint;
    // Event-loop threads, each with its own connection; callers are
    // spread over them.
    int loops = 1;
    // Bound of making a connection (TCP, AUTH, SELECT).
    absl::Duration connect_timeout = absl::Milliseconds(500);
    // A connection whose oldest outstanding reply is this late is dropped.
    absl::Duration command_timeout = absl::Seconds(1);
    // Reconnect backoff: doubles from min to max while Redis is down.
    absl::Duration min_backoff = absl::Milliseconds(100);
    absl::Duration max_backoff = absl::Seconds(5);
    // After a wake-up, wait this long for more commands before writing;
    // zero writes at the end of the loop's turn.
    absl::Duration flush_delay = absl::ZeroDuration();
  };

  struct Stats {
    int64_t pipelines = 0;  // handed to Pipeline()
    int64_t commands = 0;   // written to Redis
    int64_t flushes = 0;    // loop turns that wrote commands
    int64_t connects = 0;   // connections made
    int64_t failures = 0;   // connections refused or dropped
    bool healthy = false;   // every loop has a working connection
    std::string last_error;
  };

  // The replies of one pipeline, in order (a Redis error is a kError
  // reply); or UNAVAILABLE (Redis down, in backoff, or the connection
  // dropped before the replies came), DEADLINE_EXCEEDED, PERMISSION_DENIED
  // (AUTH refused) or FAILED_PRECONDITION (no such database): the
  // connection's own errors are those of the pipelines it fails.
  using Callback =
      absl::AnyInvocable<void(absl::StatusOr<std::vector<RedisReply>>) &&>;

  // INVALID_ARGUMENT naming the option out of range.
  static absl::StatusOr<std::unique_ptr<AsyncRedis>> Create(Options options);
  // Stops the loops; pipelines still in flight get UNAVAILABLE.
  ~AsyncRedis();
  AsyncRedis(const AsyncRedis&) = delete;
  AsyncRedis& operator=(const AsyncRedis&) = delete;

  // Queues `commands` as one pipeline (one connection, replies in order)
  // and returns; `done` is called once, on a loop thread. An empty
  // pipeline completes with no replies. An empty command, or one whose
  // replies never end or whose state every caller of the connection would
  // share (SUBSCRIBE and the like, MONITOR, SELECT, QUIT, RESET, HELLO,
  // CLIENT), is INVALID_ARGUMENT, at once on the caller's thread.
  // Pipelines of one caller run in order only with `loops` = 1.
  void Pipeline(std::vector<RedisCommand> commands, absl::Time deadline,
                Callback done);
  // The same with commands the caller keeps too (to re-run some of them).
  void Pipeline(std::shared_ptr<const std::vector<RedisCommand>> commands,
                absl::Time deadline, Callback done);

  // Pipeline() and wait: for threads of their own (the ingestion
  // pipelines, tools, tests), never for a server's RPC threads, and never
  // from a callback (the loop would wait for itself).
  absl::StatusOr<std::vector<RedisReply>> PipelineSync(
      std::vector<RedisCommand> commands, absl::Time deadline);

  Stats stats() const;
  const Options& options() const { return options_; }

  // OK, or INVALID_ARGUMENT naming the first command Pipeline refuses.
  static absl::Status CheckCommands(const std::vector<RedisCommand>& commands);

  class Loop;  // one event-loop thread and its connection

 private:
  explicit AsyncRedis(Options options);

  const Options options_;
  std::vector<std::unique_ptr<Loop>> loops_;
  std::atomic<uint64_t> next_{0};
};

// redis.Pipeline(), where commands answered NOSCRIPT (Redis restarted or
// flushed its script cache) are re-run once after loading `scripts` (the
// sources, which must outlive the call), as PipelineLoadingScripts does;
// SCRIPT LOAD failing is INTERNAL.
void PipelineLoadingScriptsAsync(AsyncRedis& redis,
                                 std::vector<RedisCommand> commands,
                                 absl::Span<const std::string* const> scripts,
                                 absl::Time deadline,
                                 AsyncRedis::Callback done);

// PipelineLoadingScriptsAsync() and wait: for callers on threads of their
// own (the ingestion consumer, tools, tests), never for a server's.
absl::StatusOr<std::vector<RedisReply>> PipelineLoadingScriptsSync(
    AsyncRedis& redis, std::vector<RedisCommand> commands,
    absl::Span<const std::string* const> scripts, absl::Time deadline);

}  // namespace oppmatrix

#endif  // OPPMATRIX_SERVICES_STORE_ASYNC_REDIS_H_
