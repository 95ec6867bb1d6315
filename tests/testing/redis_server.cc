#include "tests/testing/redis_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "tests/testing/subprocess.h"

namespace oppmatrix::testing {

std::unique_ptr<AsyncRedis> TestRedisClient(const std::string& url,
                                            absl::Duration command_timeout,
                                            absl::Duration backoff) {
  absl::StatusOr<RedisEndpoint> endpoint = ParseRedisUrl(url);
  if (!endpoint.ok()) {
    std::fprintf(stderr, "TestRedisClient: %s\n",
                 endpoint.status().ToString().c_str());
    std::abort();
  }
  absl::StatusOr<std::unique_ptr<AsyncRedis>> client =
      AsyncRedis::Create({.endpoint = *endpoint,
                          .command_timeout = command_timeout,
                          .min_backoff = backoff,
                          .max_backoff = backoff * 5});
  if (!client.ok()) {
    std::fprintf(stderr, "TestRedisClient: %s\n",
                 client.status().ToString().c_str());
    std::abort();
  }
  return *std::move(client);
}

int PickFreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    socklen_t len = sizeof(addr);
    getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

RedisServer::RedisServer(std::vector<std::string> extra_args)
    : extra_args_(std::move(extra_args)), dir_(MakeTempDir()) {}

RedisServer::~RedisServer() { Kill(); }

std::string RedisServer::url(int db) const {
  return absl::StrCat("redis://127.0.0.1:", port_, "/", db);
}

absl::Status RedisServer::Start() {
  if (running()) return absl::OkStatus();
  const bool fixed_port = port_ != 0;
  for (int attempt = 0; attempt < 5; ++attempt) {
    if (!fixed_port) port_ = PickFreePort();
    std::vector<std::string> args = {"redis-server",
                                     "--port",
                                     absl::StrCat(port_),
                                     "--bind",
                                     "127.0.0.1",
                                     "--save",
                                     "",
                                     "--appendonly",
                                     "no",
                                     "--dir",
                                     dir_,
                                     "--logfile",
                                     dir_ + "/redis.log",
                                     "--daemonize",
                                     "no"};
    args.insert(args.end(), extra_args_.begin(), extra_args_.end());
    // Everything the child needs is allocated before fork(): other threads
    // may hold the allocator's locks.
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const pid_t parent = getpid();
    pid_ = fork();
    if (pid_ == 0) {
      DieWithParent(parent);
      int devnull = open("/dev/null", O_RDWR);
      dup2(devnull, 0);
      dup2(devnull, 1);
      dup2(devnull, 2);  // it logs to --logfile
      execvp(argv[0], argv.data());
      _exit(127);
    }
    // Wait until it answers (or dies, e.g. the port was taken meanwhile).
    absl::Time give_up = absl::Now() + absl::Seconds(10);
    while (absl::Now() < give_up) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
          return absl::FailedPreconditionError(
              "redis-server is not installed (./run deps installs it)");
        }
        break;
      }
      // Up once it answers, even if only to refuse (--requirepass).
      absl::StatusOr<RedisReply> pong =
          CommandWithin({"PING"}, 0, absl::Milliseconds(200));
      if (pong.ok() || absl::IsPermissionDenied(pong.status())) {
        return absl::OkStatus();
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
    if (running()) Kill();
    if (fixed_port) absl::SleepFor(absl::Milliseconds(200));
  }
  return absl::UnavailableError(
      absl::StrCat("redis-server did not start on port ", port_));
}

void RedisServer::Kill() {
  if (!running()) return;
  kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

void RedisServer::Pause() {
  if (running()) kill(pid_, SIGSTOP);
}

void RedisServer::Resume() {
  if (running()) kill(pid_, SIGCONT);
}

absl::StatusOr<RedisReply> RedisServer::Command(const RedisCommand& command,
                                                int db) const {
  return CommandWithin(command, db, absl::Seconds(1));
}

absl::StatusOr<RedisReply> RedisServer::CommandWithin(
    const RedisCommand& command, int db, absl::Duration connect_timeout) const {
  RedisEndpoint endpoint;
  endpoint.host = "127.0.0.1";
  endpoint.port = port_;
  endpoint.db = db;
  absl::StatusOr<std::unique_ptr<AsyncRedis>> client =
      AsyncRedis::Create({.endpoint = endpoint,
                          .connect_timeout = connect_timeout,
                          .command_timeout = absl::Seconds(5)});
  if (!client.ok()) return client.status();
  auto replies =
      (*client)->PipelineSync({command}, absl::Now() + absl::Seconds(5));
  if (!replies.ok()) return replies.status();
  return (*replies)[0];
}

absl::StatusOr<int64_t> RedisServer::InfoValue(const std::string& section,
                                               const std::string& field) const {
  auto info = Command({"INFO", section});
  if (!info.ok()) return info.status();
  // "cmdstat_evalsha:calls" is a sub-field: "cmdstat_evalsha:calls=3,...".
  std::pair<std::string, std::string> key =
      absl::StrSplit(field, absl::MaxSplits(':', 1));
  for (absl::string_view line : absl::StrSplit(info->str, "\r\n")) {
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(line, absl::MaxSplits(':', 1));
    if (kv.first != key.first) continue;
    absl::string_view value = kv.second;
    if (!key.second.empty()) {
      for (absl::string_view part : absl::StrSplit(kv.second, ',')) {
        std::pair<absl::string_view, absl::string_view> sub =
            absl::StrSplit(part, absl::MaxSplits('=', 1));
        if (sub.first == key.second) value = sub.second;
      }
    }
    int64_t n = 0;
    if (absl::SimpleAtoi(value, &n)) return n;
  }
  return int64_t{0};  // absent counters (e.g. a command never run) are 0
}

}  // namespace oppmatrix::testing
