#include "tests/testing/subprocess.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/time/clock.h"

namespace oppmatrix::testing {
namespace {

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

void DieWithParent(pid_t parent) {
  // Unblock what a parent test may have blocked.
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  // The parent may have died between fork() and prctl(): then this child
  // was already re-parented and no signal will come.
  if (getppid() != parent) _exit(126);
}

std::string MakeTempDir() {
  char pattern[] = "/tmp/oppmatrix-test-XXXXXX";
  char* dir = mkdtemp(pattern);
  if (dir == nullptr) {
    std::perror("mkdtemp");
    std::abort();
  }
  return dir;
}

void WriteFileAtomically(const std::string& path, const std::string& text) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
  }
  std::rename(tmp.c_str(), path.c_str());
}

Subprocess::Subprocess(std::vector<std::string> argv,
                       std::vector<std::string> env,
                       const std::string& stdin_text)
    : dir_(MakeTempDir()) {
  {
    std::ofstream in(dir_ + "/stdin");
    in << stdin_text;
  }
  // Everything the child needs is allocated before fork(): other threads
  // (gRPC's) may hold the allocator's locks, and the child has only this
  // one.
  const std::string in_path = dir_ + "/stdin";
  const std::string out_path = dir_ + "/stdout";
  const std::string err_path = dir_ + "/stderr";
  std::vector<char*> args;
  for (std::string& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  // This process's environment with `env` replacing same-named variables.
  std::vector<std::string> environment;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry(*e);
    const std::string name = entry.substr(0, entry.find('='));
    bool replaced = false;
    for (const std::string& x : env) {
      replaced |= x.substr(0, x.find('=')) == name;
    }
    if (!replaced) environment.push_back(entry);
  }
  environment.insert(environment.end(), env.begin(), env.end());
  std::vector<char*> envp;
  for (std::string& e : environment) envp.push_back(e.data());
  envp.push_back(nullptr);
  const pid_t parent = getpid();
  pid_ = fork();
  if (pid_ == 0) {
    DieWithParent(parent);
    int in = open(in_path.c_str(), O_RDONLY);
    int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(in, 0);
    dup2(out, 1);
    dup2(err, 2);
    execve(args[0], args.data(), envp.data());
    static const char kFailed[] = "execve failed\n";
    (void)!write(2, kFailed, sizeof kFailed - 1);
    _exit(127);
  }
}

Subprocess::~Subprocess() {
  if (!exited_ && pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
}

void Subprocess::Signal(int signal) {
  if (!exited_) kill(pid_, signal);
}

int Subprocess::Wait(absl::Duration timeout) {
  if (exited_) return exit_code_;
  absl::Time deadline = absl::Now() + timeout;
  while (true) {
    int status = 0;
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      exited_ = true;
      exit_code_ =
          WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      return exit_code_;
    }
    if (absl::Now() > deadline) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
      exited_ = true;
      exit_code_ = -1;
      return -1;
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
}

bool Subprocess::WaitForStderr(const std::string& text,
                               absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (absl::StrContains(Stderr(), text)) return true;
    int status = 0;
    if (!exited_ && waitpid(pid_, &status, WNOHANG) == pid_) {
      exited_ = true;
      exit_code_ =
          WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      return absl::StrContains(Stderr(), text);
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  return false;
}

std::string Subprocess::Stdout() const { return Slurp(dir_ + "/stdout"); }
std::string Subprocess::Stderr() const { return Slurp(dir_ + "/stderr"); }

}  // namespace oppmatrix::testing
