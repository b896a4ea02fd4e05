#pragma once
// Errors at the boundaries (loading, parsing, compiling a candidate, HTTP) are thrown as synaptix::Error with
// a message that names the thing that was wrong and what was expected. The boundaries that face a user (the
// CLI, the server, the tuner's trial runner) catch them and turn them into values: an exit code, an HTTP 4xx,
// a failed-trial row. Assertions are kept for our own invariants.
#include <stdexcept>
#include <string>

namespace synaptix {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

// Build a message with operator<< style concatenation: fail("tensor ", name, " has shape ", s).
template <typename... Args>
[[noreturn]] void fail(Args&&... args);

}  // namespace synaptix

#include <sstream>
namespace synaptix {
template <typename... Args>
[[noreturn]] void fail(Args&&... args) {
  std::ostringstream os;
  (os << ... << args);
  throw Error(os.str());
}
}  // namespace synaptix
