#pragma once
// Runs untrusted work (a generated kernel) in a forked child with a time limit; its answer comes back through
// a pipe. A segfault, abort, sanitizer report or hang in the child becomes a value here, never a crash of
// the tuner. The child inherits only the calling thread: work must not use thread pools created before the
// fork (create its own inside).
#include <functional>
#include <string>

namespace synaptix::backend {

enum class RunStatus { Ok, Error, Crash, Timeout };
const char* run_status_name(RunStatus s);

struct IsolatedResult {
  RunStatus status = RunStatus::Crash;
  std::string payload;  // what work returned (Ok)
  std::string message;  // the exception text (Error), the signal or exit status (Crash), the limit (Timeout)
  double wall_s = 0;
};

// work() runs in the child; its return value is the payload. A synaptix::Error or std::exception thrown by
// work becomes RunStatus::Error with its message.
IsolatedResult run_isolated(const std::function<std::string()>& work, double time_limit_s);

}  // namespace synaptix::backend
