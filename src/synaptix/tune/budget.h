#pragma once
// A tuning budget as a user writes it: "10m", "90s", "1h" (wall-clock seconds for the whole run) or "200",
// "200t", "200 trials" (trials for the whole run, shared evenly among the ops).
#include <cstdint>
#include <string>

namespace synaptix::tune {

struct Budget {
  double seconds = 0;  // 0: none
  int64_t trials = 0;  // 0: none
};

// Throws synaptix::Error quoting the text and the accepted forms.
Budget parse_budget(const std::string& text);

}  // namespace synaptix::tune
