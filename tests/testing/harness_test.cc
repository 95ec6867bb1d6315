// The test harness's child processes die with the process that started
// them: a test that aborts or is killed mid-way leaves no redis-server or
// server executable running behind it.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/testing/redis_server.h"
#include "tests/testing/subprocess.h"

namespace oppmatrix::testing {
namespace {

// True once `pid` has exited: no such process, or a zombie waiting for
// init to reap it.
bool Exited(pid_t pid) {
  if (kill(pid, 0) != 0) return errno == ESRCH;
  std::ifstream stat(absl::StrCat("/proc/", pid, "/stat"));
  std::string field, comm, state;
  stat >> field >> comm >> state;
  return state == "Z";
}

bool ExitsWithin(pid_t pid, absl::Duration timeout) {
  const absl::Time give_up = absl::Now() + timeout;
  while (!Exited(pid)) {
    if (absl::Now() > give_up) return false;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return true;
}

// Forks a process that runs `start` (which returns the pid of a child it
// started), reports that pid, then dies of SIGKILL without running a
// destructor; returns the grandchild's pid.
template <typename Start>
pid_t GrandchildOfAKilledProcess(Start start) {
  int fds[2];
  EXPECT_EQ(pipe(fds), 0);
  const pid_t child = fork();
  if (child == 0) {
    close(fds[0]);
    const pid_t grandchild = start();
    if (write(fds[1], &grandchild, sizeof grandchild) != sizeof grandchild) {
      _exit(3);
    }
    raise(SIGKILL);
  }
  close(fds[1]);
  pid_t grandchild = -1;
  EXPECT_EQ(read(fds[0], &grandchild, sizeof grandchild),
            static_cast<ssize_t>(sizeof grandchild));
  close(fds[0]);
  int status = 0;
  EXPECT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
  return grandchild;
}

TEST(HarnessTest, RedisServerDiesWithTheProcessThatStartedIt) {
  const pid_t redis = GrandchildOfAKilledProcess([] {
    // Leaked on purpose: the process dies with it running.
    auto* server = new RedisServer();
    if (!server->Start().ok()) _exit(4);
    return server->pid();
  });
  ASSERT_GT(redis, 0);
  EXPECT_TRUE(ExitsWithin(redis, absl::Seconds(10)));
}

TEST(HarnessTest, SubprocessDiesWithTheProcessThatStartedIt) {
  const pid_t sleeper = GrandchildOfAKilledProcess([] {
    auto* p = new Subprocess({"/bin/sleep", "600"});
    // Dying before the child has run would test the other guard (a child
    // whose parent is already gone exits at once); wait for its exec.
    const absl::Time give_up = absl::Now() + absl::Seconds(10);
    while (true) {
      std::ifstream cmdline(absl::StrCat("/proc/", p->pid(), "/cmdline"));
      std::string argv0;
      std::getline(cmdline, argv0, '\0');
      if (argv0 == "/bin/sleep") break;
      if (absl::Now() > give_up) _exit(5);  // it never ran
      absl::SleepFor(absl::Milliseconds(5));
    }
    return p->pid();
  });
  ASSERT_GT(sleeper, 0);
  EXPECT_TRUE(ExitsWithin(sleeper, absl::Seconds(10)));
}

}  // namespace
}  // namespace oppmatrix::testing
