#pragma once
// Limits on what parsing and rendering a chat template may cost. A template comes with every model a user
// downloads and a server renders it per request, so a hostile one must fail with a clear error rather than
// loop for hours, recurse off the stack or allocate without bound. Every limit is far above what the
// published templates need for long conversations with many tools.
//
// Rendering installs a Budget for its thread (Budget::Scope); the interpreter, filters, methods and value
// conversions charge it through the free functions below, which fall back to the default limits when no
// render is active (a Value printed outside a render is still bounded).
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace synaptix::model::jinja {

struct Dict;

struct Limits {
  // A published template spends some tens of steps per message (a few loop iterations per message), so these
  // allow conversations of tens of thousands of messages, and stop a runaway one in well under a second.
  int64_t max_steps = 1'000'000;          // statements run, expressions evaluated, items visited
  int64_t max_loop_iterations = 200'000;  // over all for loops of one render
  int max_call_depth = 100;                 // macro calls in progress
  int max_nesting = 256;                    // parser nesting; nesting of values printed or compared
  int max_eval_depth = 1000;                // interpreter recursion (statements, expressions, calls)
  size_t max_string_bytes = size_t{16} << 20;  // any string made, the output included
  size_t max_list_items = size_t{1} << 20;     // any list or dict made
  double max_seconds = 5.0;                 // wall time of one render
};

// Throws synaptix::Error "chat template exceeds its limit of <value> <what> (<name>)".
[[noreturn]] void limit_exceeded(const char* what, double value, const char* name);

class Budget {
 public:
  explicit Budget(const Limits& limits);
  ~Budget();  // empties the namespace() objects the render made, breaking reference cycles among them

  const Limits& limits() const { return limits_; }
  void charge(int64_t steps) {
    steps_ += steps;
    if (steps_ > limits_.max_steps) limit_exceeded("steps", static_cast<double>(limits_.max_steps), "max_steps");
    if ((steps_ & 1023) < steps) check_time();
  }
  void loop_iteration() {  // also a step, so that empty loop bodies still reach the clock
    charge(1);
    if (++loop_iterations_ > limits_.max_loop_iterations)
      limit_exceeded("loop iterations", static_cast<double>(limits_.max_loop_iterations), "max_loop_iterations");
  }
  void check_time() const;
  void adopt_namespace(const std::shared_ptr<Dict>& ns) { namespaces_.push_back(ns); }

  // Makes `budget` the current thread's for its lifetime.
  class Scope {
   public:
    explicit Scope(Budget& budget);
    ~Scope();
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    Budget* previous_;
  };

 private:
  Limits limits_;
  int64_t steps_ = 0;
  int64_t loop_iterations_ = 0;
  std::chrono::steady_clock::time_point deadline_;
  std::vector<std::weak_ptr<Dict>> namespaces_;
};

// The current render's budget and limits (default limits when none is active).
const Limits& current_limits();
void charge(int64_t steps);
// Refuse a string of `bytes` or a list/dict of `items` that is over the limit; `what` says which.
void check_string_size(size_t bytes, const char* what);
void check_list_size(size_t items, const char* what);
// Remember a namespace() object so the render can empty it when done.
void adopt_namespace(const std::shared_ptr<Dict>& ns);

}  // namespace synaptix::model::jinja
