// Runs one of the project's executables as a child process for tests:
// arguments, extra environment, stdin text; stdout and stderr captured in
// files; a bounded wait.
//
//   Subprocess p({OPPMATRIX_BINARY_DIR "/clients/oppctl/oppctl", "help"});
//   int code = p.Wait(absl::Seconds(30));
//   EXPECT_THAT(p.Stdout(), HasSubstr("Usage"));
#ifndef OPPMATRIX_TESTS_TESTING_SUBPROCESS_H_
#define OPPMATRIX_TESTS_TESTING_SUBPROCESS_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/time/time.h"

namespace oppmatrix::testing {

class Subprocess {
 public:
  // Starts argv[0] with the given arguments, adding `env` ("NAME=value") to
  // this process's environment, feeding `stdin_text` on standard input.
  explicit Subprocess(std::vector<std::string> argv,
                      std::vector<std::string> env = {},
                      const std::string& stdin_text = "");
  ~Subprocess();

  pid_t pid() const { return pid_; }
  // Sends `signal` to the child.
  void Signal(int signal);
  // Waits for exit; returns the exit code, 128+signal when killed, or -1 on
  // timeout (the child is then killed).
  int Wait(absl::Duration timeout);
  // Polls stderr until it contains `text`; false on timeout or exit.
  bool WaitForStderr(const std::string& text, absl::Duration timeout);

  std::string Stdout() const;
  std::string Stderr() const;

 private:
  pid_t pid_ = -1;
  bool exited_ = false;
  int exit_code_ = -1;
  std::string dir_;
};

// In a child the harness has just forked (before exec): unblocks every
// signal, and has the kernel SIGKILL this process when its parent dies, so
// a test that aborts or is killed leaves no server behind; exits at once
// if `parent` (the forking process's pid) is already gone. The signal
// comes when the thread that forked exits, so the harness forks from
// threads that live as long as the child (a test's own thread).
void DieWithParent(pid_t parent);

// A fresh temporary directory (removed by the OS's tmp cleaning; tests keep
// them small).
std::string MakeTempDir();

// Writes `text` to `path`, replacing it atomically (write + rename) like a
// Kubernetes ConfigMap update does.
void WriteFileAtomically(const std::string& path, const std::string& text);

}  // namespace oppmatrix::testing

#endif  // OPPMATRIX_TESTS_TESTING_SUBPROCESS_H_
