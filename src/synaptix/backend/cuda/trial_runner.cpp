#include "synaptix/backend/cuda/trial_runner.h"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include "synaptix/core/error.h"
#include "synaptix/hw/cuda/driver.h"

namespace synaptix::backend::cuda {
namespace {

// Wire format per trial: int32 index, int32 ok, int32 nvalues, nvalues doubles, int32 error length, bytes.
bool write_all(int fd, const void* p, size_t n) {
  const char* c = static_cast<const char*>(p);
  while (n > 0) {
    ssize_t w = ::write(fd, c, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    c += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

void send_result(int fd, int32_t index, const TrialResult& r) {
  int32_t ok = r.ok, nv = static_cast<int32_t>(r.values.size()), ne = static_cast<int32_t>(r.error.size());
  write_all(fd, &index, 4);
  write_all(fd, &ok, 4);
  write_all(fd, &nv, 4);
  write_all(fd, r.values.data(), sizeof(double) * r.values.size());
  write_all(fd, &ne, 4);
  write_all(fd, r.error.data(), r.error.size());
}

[[noreturn]] void child_main(int fd, int first, int count, const TrialSession& session) {
  int code = 0;
  std::function<std::vector<double>(int)> run;
  int i = first;
  try {
    run = session();
  } catch (const std::exception& e) {
    TrialResult r;
    r.error = std::string("trial session setup failed: ") + e.what();
    send_result(fd, i, r);
    ::_exit(3);
  }
  for (; i < count; ++i) {
    TrialResult r;
    try {
      r.values = run(i);
      r.ok = true;
    } catch (const std::exception& e) {
      r.error = e.what();
    }
    send_result(fd, i, r);
    // A failed trial may have left the context unusable (sticky errors): start afresh in a new child.
    if (!r.ok) {
      code = 3;
      break;
    }
  }
  ::close(fd);
  ::_exit(code);
}

// Reads exactly n bytes, waiting at most timeout_ms for the first; returns false on EOF or timeout.
enum class ReadStatus { Ok, Eof, Timeout };
ReadStatus read_exact(int fd, void* p, size_t n, int timeout_ms) {
  char* c = static_cast<char*>(p);
  while (n > 0) {
    pollfd pfd{fd, POLLIN, 0};
    int pr = ::poll(&pfd, 1, timeout_ms);
    if (pr < 0 && errno == EINTR) continue;
    if (pr == 0) return ReadStatus::Timeout;
    ssize_t got = ::read(fd, c, n);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return ReadStatus::Eof;
    c += got;
    n -= static_cast<size_t>(got);
  }
  return ReadStatus::Ok;
}

std::string describe_exit(int status) {
  if (WIFSIGNALED(status)) return std::string("child killed by signal ") + strsignal(WTERMSIG(status));
  if (WIFEXITED(status)) return "child exited with code " + std::to_string(WEXITSTATUS(status));
  return "child ended abnormally";
}

}  // namespace

std::vector<TrialResult> run_isolated_trials(int count, const TrialSession& session, const TrialRunnerOptions& opt) {
  if (hw::cuda::driver_initialized())
    fail("run_isolated_trials: this process has already initialised the CUDA driver, so forked children cannot "
         "use CUDA; run trials from a process that only compiles");
  std::vector<TrialResult> results(count);
  const int timeout_ms = static_cast<int>(opt.trial_timeout_s * 1000);
  int next = 0;
  while (next < count) {
    int fds[2];
    if (::pipe(fds) != 0) fail("run_isolated_trials: pipe failed: ", std::strerror(errno));
    pid_t pid = ::fork();
    if (pid < 0) {
      ::close(fds[0]);
      ::close(fds[1]);
      fail("run_isolated_trials: fork failed: ", std::strerror(errno));
    }
    if (pid == 0) {
      ::close(fds[0]);
      child_main(fds[1], next, count, session);
    }
    ::close(fds[1]);
    const int fd = fds[0];
    bool child_alive = true;
    std::string end_reason;
    while (next < count) {
      int32_t hdr[3];
      ReadStatus st = read_exact(fd, hdr, sizeof hdr, timeout_ms);
      if (st == ReadStatus::Timeout) {
        ::kill(pid, SIGKILL);
        end_reason = "timed out after " + std::to_string(opt.trial_timeout_s) + " s";
        break;
      }
      if (st == ReadStatus::Eof) break;
      TrialResult r;
      r.ok = hdr[1] != 0;
      r.values.resize(static_cast<size_t>(hdr[2]));
      int32_t ne = 0;
      if (read_exact(fd, r.values.data(), sizeof(double) * r.values.size(), timeout_ms) != ReadStatus::Ok ||
          read_exact(fd, &ne, 4, timeout_ms) != ReadStatus::Ok)
        break;
      r.error.resize(static_cast<size_t>(ne));
      if (ne > 0 && read_exact(fd, r.error.data(), r.error.size(), timeout_ms) != ReadStatus::Ok) break;
      if (hdr[0] != next) {
        ::kill(pid, SIGKILL);
        end_reason = "trial protocol out of order";
        break;
      }
      results[next++] = std::move(r);
      if (!results[next - 1].ok) break;  // the child exits after a failure
    }
    ::close(fd);
    int status = 0;
    while (child_alive && ::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    child_alive = false;
    // The trial in flight when the child died (crash, trap, timeout) is the failed one.
    if (next < count && (end_reason.size() || !(WIFEXITED(status) && WEXITSTATUS(status) == 3))) {
      results[next].ok = false;
      results[next].error = end_reason.empty() ? describe_exit(status) : end_reason;
      ++next;
    }
  }
  return results;
}

}  // namespace synaptix::backend::cuda
