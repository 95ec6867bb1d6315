// A throw-away redis-server for tests and benchmarks: started on a free
// loopback port with no persistence, stopped (and its data gone) when the
// object is destroyed, and killed by the kernel if this process dies first
// (an abort, a SIGKILL: see DieWithParent). Kill() and Start() again model
// an outage on the same port.
//
//   RedisServer redis;
//   ASSERT_TRUE(redis.Start().ok());
//   std::unique_ptr<AsyncRedis> client = TestRedisClient(redis.url());
#ifndef OPPMATRIX_TESTS_TESTING_REDIS_SERVER_H_
#define OPPMATRIX_TESTS_TESTING_REDIS_SERVER_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "services/store/async_redis.h"
#include "services/store/redis_client.h"

namespace oppmatrix::testing {

// A loopback TCP port that was free a moment ago.
int PickFreePort();

// An AsyncRedis on `url` with a short reconnect backoff (a test restarts
// Redis and wants it back soon). Aborts on options Create refuses.
std::unique_ptr<AsyncRedis> TestRedisClient(
    const std::string& url, absl::Duration command_timeout = absl::Seconds(5),
    absl::Duration backoff = absl::Milliseconds(10));

class RedisServer {
 public:
  // `extra_args` are added to redis-server's command line, e.g.
  // {"--requirepass", "s3cret"}.
  explicit RedisServer(std::vector<std::string> extra_args = {});
  ~RedisServer();

  // Starts redis-server (on the same port as before, if it ran already)
  // and waits until it answers PING.
  absl::Status Start();
  // SIGKILLs it and waits for it to exit.
  void Kill();
  // SIGSTOP / SIGCONT: a hung Redis that accepts connections but never
  // answers.
  void Pause();
  void Resume();

  int port() const { return port_; }
  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  // "redis://127.0.0.1:<port>/<db>".
  std::string url(int db = 0) const;

  // One command on a fresh connection (for assertions; commands AsyncRedis
  // refuses to share a connection with, such as SELECT or CLIENT, are
  // INVALID_ARGUMENT).
  absl::StatusOr<RedisReply> Command(const RedisCommand& command,
                                     int db = 0) const;
  // A numeric field of INFO (e.g. "total_commands_processed",
  // "cmdstat_evalsha:calls").
  absl::StatusOr<int64_t> InfoValue(const std::string& section,
                                    const std::string& field) const;

 private:
  absl::StatusOr<RedisReply> CommandWithin(
      const RedisCommand& command, int db,
      absl::Duration connect_timeout) const;

  std::vector<std::string> extra_args_;
  std::string dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace oppmatrix::testing

#endif  // OPPMATRIX_TESTS_TESTING_REDIS_SERVER_H_
