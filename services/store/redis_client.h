// A small synchronous Redis client over hiredis 0.14: a connection that
// pipelines (all commands written at once, all replies read back: one round
// trip), and a bounded pool of them for a server's threads with reconnect
// and exponential backoff. While Redis is down, calls fail fast with
// UNAVAILABLE instead of each waiting for a connect timeout; the pool tries
// again after the backoff and recovers by itself.
//
//   RedisPool pool({.endpoint = *ParseRedisUrl("redis://127.0.0.1:6379/0")});
//   absl::StatusOr<std::vector<RedisReply>> r = pool.Pipeline(
//       {{"SET", "k", "v"}, {"GET", "k"}}, absl::Now() + absl::Seconds(1));
#ifndef OPPMATRIX_SERVICES_STORE_REDIS_CLIENT_H_
#define OPPMATRIX_SERVICES_STORE_REDIS_CLIENT_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "services/store/redis_url.h"

struct redisContext;
struct redisReply;

namespace oppmatrix {

// A Redis reply, copied out of hiredis.
struct RedisReply {
  enum class Type { kNil, kString, kStatus, kInteger, kArray, kError };
  Type type = Type::kNil;
  std::string str;  // kString, kStatus, kError
  int64_t integer = 0;
  std::vector<RedisReply> elements;

  bool is_error() const { return type == Type::kError; }
};

// `r` (hiredis's) as a RedisReply.
RedisReply CopyReply(const redisReply* r);

// One command and its arguments (binary-safe).
using RedisCommand = std::vector<std::string>;

class RedisConnection {
 public:
  // Connects, then AUTHs and SELECTs as the endpoint says, all within
  // `connect_timeout` (a host name is resolved first, without a bound:
  // prefer addresses or a local resolver). UNAVAILABLE when Redis can't be
  // reached; PERMISSION_DENIED when AUTH fails; FAILED_PRECONDITION when
  // the database does not exist.
  static absl::StatusOr<std::unique_ptr<RedisConnection>> Connect(
      const RedisEndpoint& endpoint, absl::Duration connect_timeout);
  ~RedisConnection();

  // Writes every command, then reads every reply; Redis errors come back as
  // kError replies. An I/O error, or `timeout` passing before the last
  // reply, is UNAVAILABLE and breaks the connection.
  absl::StatusOr<std::vector<RedisReply>> Pipeline(
      absl::Span<const RedisCommand> commands, absl::Duration timeout);

  bool broken() const { return broken_; }

 private:
  explicit RedisConnection(redisContext* context) : context_(context) {}
  redisContext* context_;
  bool broken_ = false;
};

class RedisPool {
 public:
  struct Options {
    RedisEndpoint endpoint;
    // At most this many connections, shared by all threads.
    int max_connections = 8;
    absl::Duration connect_timeout = absl::Milliseconds(500);
    // Upper bound of one pipeline's I/O; calls also respect their deadline.
    absl::Duration command_timeout = absl::Seconds(1);
    // Reconnect backoff: doubles from min to max while Redis is down.
    absl::Duration min_backoff = absl::Milliseconds(100);
    absl::Duration max_backoff = absl::Seconds(5);
  };

  struct Stats {
    int64_t round_trips = 0;
    int64_t commands = 0;
    int64_t connects = 0;
    int64_t failures = 0;
    bool healthy = true;  // the last attempt reached Redis
    std::string last_error;
  };

  explicit RedisPool(Options options);
  ~RedisPool();

  // Runs the commands on one pooled connection in one round trip. Waits for
  // a free connection until `deadline` (DEADLINE_EXCEEDED); UNAVAILABLE when
  // Redis is down or in backoff.
  absl::StatusOr<std::vector<RedisReply>> Pipeline(
      absl::Span<const RedisCommand> commands, absl::Time deadline);

  Stats stats() const;
  const Options& options() const { return options_; }

 private:
  // An idle connection (sets *reused) or a new one; with `allow_idle`
  // false always a new one, even during the backoff.
  absl::StatusOr<std::unique_ptr<RedisConnection>> Acquire(absl::Time deadline,
                                                           bool allow_idle,
                                                           bool* reused);
  void Release(std::unique_ptr<RedisConnection> connection);
  void RecordFailure(const absl::Status& status) ABSL_LOCKS_EXCLUDED(mu_);

  const Options options_;
  mutable absl::Mutex mu_;
  std::vector<std::unique_ptr<RedisConnection>> idle_ ABSL_GUARDED_BY(mu_);
  int open_ ABSL_GUARDED_BY(mu_) = 0;  // idle + in use + connecting
  absl::Time retry_after_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  absl::Duration backoff_ ABSL_GUARDED_BY(mu_);
  bool probing_ ABSL_GUARDED_BY(mu_) = false;  // a reconnect is under way
  Stats stats_ ABSL_GUARDED_BY(mu_);
};

// A stream entry id "<ms>-<seq>" as a pair that orders like the stream;
// nullopt when `id` is not one.
std::optional<std::pair<uint64_t, uint64_t>> ParseStreamId(
    absl::string_view id);

// The NOSCRIPT re-run of PipelineLoadingScripts and its async twin: the
// indexes of the replies Redis answered NOSCRIPT; the pipeline that loads
// every source in `scripts` and runs those commands again; and that
// pipeline's replies put in place of the NOSCRIPT ones (INTERNAL when a
// SCRIPT LOAD failed).
std::vector<size_t> NoScriptReplies(const std::vector<RedisReply>& replies);
std::vector<RedisCommand> ScriptReloadPipeline(
    absl::Span<const std::string* const> scripts,
    const std::vector<RedisCommand>& commands,
    const std::vector<size_t>& missing);
absl::Status TakeReloadedReplies(size_t scripts,
                                 const std::vector<size_t>& missing,
                                 std::vector<RedisReply> again,
                                 std::vector<RedisReply>* replies);

// Runs `commands` on `pool`; the ones Redis answers NOSCRIPT (it restarted
// or flushed its script cache) are re-run, in a second round trip, after
// SCRIPT LOAD of every source in `scripts`. Refused commands did not run,
// so nothing runs twice.
absl::StatusOr<std::vector<RedisReply>> PipelineLoadingScripts(
    RedisPool& pool, const std::vector<RedisCommand>& commands,
    absl::Span<const std::string* const> scripts, absl::Time deadline);

}  // namespace oppmatrix

#endif  // OPPMATRIX_SERVICES_STORE_REDIS_CLIENT_H_
