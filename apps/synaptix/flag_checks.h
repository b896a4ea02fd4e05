#pragma once
// Parse-time checks for command-line flags, shared by every command. Unlike CLI::Range they refuse NaN and
// infinity, and the message always names the valid range:  --port: 70000 is outside [0, 65535].
// CLI11 prefixes the flag name and exits with its validation error code before the command runs.
#include <CLI/CLI.hpp>

#include <cstdint>
#include <limits>

namespace synaptix::app {

// A finite number in [lo, hi].
CLI::Validator in_range(double lo, double hi);
// A finite number in (0, hi].
CLI::Validator positive(double hi = std::numeric_limits<double>::max());

// Ranges several commands share.
inline constexpr double kMaxTokens = double(int64_t{1} << 30);   // token counts and lengths
inline constexpr double kMaxThreads = 4096;                       // threads of any kind
inline constexpr double kMaxSeconds = 7.0 * 24 * 3600;            // time limits

}  // namespace synaptix::app
