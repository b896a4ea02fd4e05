#include "synaptix/tune/budget.h"

#include <cctype>
#include <cstdlib>

#include "synaptix/core/error.h"

namespace synaptix::tune {

Budget parse_budget(const std::string& text) {
  size_t i = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
  std::string unit = text.substr(i);
  while (!unit.empty() && unit.front() == ' ') unit.erase(unit.begin());
  const long long v = i > 0 && i <= 12 ? std::atoll(text.substr(0, i).c_str()) : 0;
  if (v <= 0) fail("--budget '", text, "': expected a positive count with a unit: 90s, 10m, 1h or 200 (trials)");
  Budget b;
  if (unit == "s") b.seconds = static_cast<double>(v);
  else if (unit == "m") b.seconds = 60.0 * static_cast<double>(v);
  else if (unit == "h") b.seconds = 3600.0 * static_cast<double>(v);
  else if (unit.empty() || unit == "t" || unit == "trials" || unit == "trial") b.trials = v;
  else fail("--budget '", text, "': unknown unit '", unit, "' (expected s, m, h or trials)");
  return b;
}

}  // namespace synaptix::tune
