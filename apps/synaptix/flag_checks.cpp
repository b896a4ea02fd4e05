#include "synaptix/flag_checks.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace synaptix::app {

namespace {

// Whole numbers print as integers (65535, not 6.5535e+04), others with enough digits to read.
std::string number_text(double v) {
  char buf[64];
  if (v == std::floor(v) && std::fabs(v) < 1e18) {
    std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(v));
  } else {
    std::snprintf(buf, sizeof buf, "%.6g", v);
  }
  return buf;
}

// "" when `text` is a finite number in the range, else why not.
std::string check(const std::string& text, double lo, double hi, bool open_lo, const std::string& range) {
  const char* begin = text.c_str();
  char* end = nullptr;
  const double v = std::strtod(begin, &end);
  if (end == begin || *end != '\0') return "'" + text + "' is not a number (expected one in " + range + ")";
  if (!std::isfinite(v)) return "'" + text + "' is not a finite number (expected one in " + range + ")";
  if ((open_lo ? v <= lo : v < lo) || v > hi) return text + " is outside " + range;
  return "";
}

CLI::Validator make(double lo, double hi, bool open_lo) {
  const bool unbounded = hi >= std::numeric_limits<double>::max();
  const std::string range = std::string(open_lo ? "(" : "[") + number_text(lo) + ", " +
                            (unbounded ? std::string("inf)") : number_text(hi) + "]");
  return CLI::Validator([lo, hi, open_lo, range](std::string& s) { return check(s, lo, hi, open_lo, range); },
                        range);
}

}  // namespace

CLI::Validator in_range(double lo, double hi) { return make(lo, hi, false); }
CLI::Validator positive(double hi) { return make(0.0, hi, true); }

}  // namespace synaptix::app
