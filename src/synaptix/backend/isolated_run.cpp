#include "synaptix/backend/isolated_run.h"

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <exception>

#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include "synaptix/core/error.h"

namespace synaptix::backend {
namespace {

void write_all(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = ::write(fd, s.data() + off, s.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    off += static_cast<size_t>(n);
  }
}

}  // namespace

const char* run_status_name(RunStatus s) {
  switch (s) {
    case RunStatus::Ok: return "ok";
    case RunStatus::Error: return "error";
    case RunStatus::Crash: return "crash";
    case RunStatus::Timeout: return "timeout";
  }
  return "?";
}

IsolatedResult run_isolated(const std::function<std::string()>& work, double time_limit_s) {
  int fds[2];
  if (::pipe(fds) != 0) fail("cannot create a pipe for an isolated run: ", std::strerror(errno));
  auto t0 = std::chrono::steady_clock::now();
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    fail("cannot fork an isolated run: ", std::strerror(errno));
  }
  if (pid == 0) {
    ::close(fds[0]);
    // Framing: one tag byte ('O' ok, 'E' error), then the text; the parent sees EOF when we exit.
    std::string out;
    int code = 0;
    try {
      out = "O" + work();
    } catch (const std::exception& e) {
      out = std::string("E") + e.what();
      code = 3;
    }
    write_all(fds[1], out);
    ::close(fds[1]);
    ::_exit(code);  // no atexit handlers, no leak check: the parent's state is not ours to tear down
  }
  ::close(fds[1]);
  IsolatedResult r;
  std::string buf;
  bool timed_out = false;
  char chunk[65536];
  for (;;) {
    double left = time_limit_s - std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (left <= 0) {
      timed_out = true;
      break;
    }
    pollfd p{fds[0], POLLIN, 0};
    int pr = ::poll(&p, 1, static_cast<int>(left * 1000) + 1);
    if (pr < 0 && errno == EINTR) continue;
    if (pr == 0) continue;  // re-check the clock
    ssize_t n = ::read(fds[0], chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // EOF: the child closed its end (exited or crashed)
    buf.append(chunk, static_cast<size_t>(n));
  }
  ::close(fds[0]);
  if (timed_out) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  r.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (timed_out) {
    r.status = RunStatus::Timeout;
    r.message = "no answer within " + std::to_string(time_limit_s) + " s; killed";
  } else if (WIFSIGNALED(status)) {
    r.status = RunStatus::Crash;
    r.message = std::string("killed by signal ") + std::to_string(WTERMSIG(status)) + " (" +
                strsignal(WTERMSIG(status)) + ")";
  } else if (!buf.empty() && buf[0] == 'O' && WEXITSTATUS(status) == 0) {
    r.status = RunStatus::Ok;
    r.payload = buf.substr(1);
  } else if (!buf.empty() && buf[0] == 'E') {
    r.status = RunStatus::Error;
    r.message = buf.substr(1);
  } else {
    // A sanitizer runtime catches SIGSEGV itself and exits with a status instead of dying by the signal.
    r.status = RunStatus::Crash;
    r.message = "child exited with status " + std::to_string(WEXITSTATUS(status)) + " without an answer";
  }
  return r;
}

}  // namespace synaptix::backend
