#include "synaptix/model/jinja_sandbox.h"

#include <sstream>

#include "synaptix/core/error.h"
#include "synaptix/model/jinja_value.h"

namespace synaptix::model::jinja {
namespace {

thread_local Budget* t_current = nullptr;

const Limits& default_limits() {
  static const Limits limits;
  return limits;
}

}  // namespace

void limit_exceeded(const char* what, double value, const char* name) {
  std::ostringstream os;
  os.precision(15);
  os << "chat template exceeds its limit of " << value << " " << what << " (" << name << ")";
  throw Error(os.str());
}

Budget::Budget(const Limits& limits)
    : limits_(limits),
      deadline_(std::chrono::steady_clock::now() +
                std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                    std::chrono::duration<double>(limits.max_seconds))) {}

Budget::~Budget() {
  for (const auto& weak : namespaces_) {
    if (auto ns = weak.lock()) {
      // Move the entries out first: destroying them may release other namespaces, which is fine.
      auto entries = std::move(ns->entries);
      ns->entries.clear();
    }
  }
}

void Budget::check_time() const {
  if (std::chrono::steady_clock::now() > deadline_) limit_exceeded("seconds", limits_.max_seconds, "max_seconds");
}

Budget::Scope::Scope(Budget& budget) : previous_(t_current) { t_current = &budget; }
Budget::Scope::~Scope() { t_current = previous_; }

const Limits& current_limits() { return t_current ? t_current->limits() : default_limits(); }

void charge(int64_t steps) {
  if (t_current) t_current->charge(steps);
}

void check_string_size(size_t bytes, const char* what) {
  const size_t max = current_limits().max_string_bytes;
  if (bytes > max) {
    std::ostringstream os;
    os << "bytes in " << what;
    const std::string text = os.str();
    limit_exceeded(text.c_str(), static_cast<double>(max), "max_string_bytes");
  }
}

void check_list_size(size_t items, const char* what) {
  const size_t max = current_limits().max_list_items;
  if (items > max) {
    std::ostringstream os;
    os << "items in " << what;
    const std::string text = os.str();
    limit_exceeded(text.c_str(), static_cast<double>(max), "max_list_items");
  }
}

void adopt_namespace(const std::shared_ptr<Dict>& ns) {
  if (t_current) t_current->adopt_namespace(ns);
}

}  // namespace synaptix::model::jinja
