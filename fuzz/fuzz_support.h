#pragma once
// What every fuzz target shares. The contract a target checks: bad input ends in a synaptix::Error (the
// team's rule for anything read from outside) and nothing else. Any other exception escaping a parser
// (nlohmann's type_error, std::out_of_range, std::bad_alloc, ...) reaches std::terminate, which libFuzzer
// reports as a crash, as it does for ASan/UBSan findings, timeouts and allocations over -malloc_limit_mb.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "synaptix/core/error.h"

namespace synaptix::fuzz {

inline std::string_view as_text(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// Splits the input at NUL bytes into at most `max_parts` parts (the last keeps any further NULs), so that a
// target that reads several files takes them from one input: "tokenizer.json\0tokenizer_config.json\0text".
inline std::vector<std::string_view> split_parts(std::string_view in, size_t max_parts) {
  std::vector<std::string_view> parts;
  while (parts.size() + 1 < max_parts) {
    const size_t nul = in.find('\0');
    if (nul == std::string_view::npos) break;
    parts.push_back(in.substr(0, nul));
    in.remove_prefix(nul + 1);
  }
  parts.push_back(in);
  return parts;
}

// A per-process scratch file for parsers that take a path (they read or map the file themselves), so that
// the fuzzer goes through the same entry point a user's file does.
class ScratchFile {
 public:
  explicit ScratchFile(const std::string& name) {
    const char* dir = std::getenv("TMPDIR");
    path_ = std::string(dir && *dir ? dir : "/tmp") + "/synaptix-fuzz-" + std::to_string(::getpid()) + "-" + name;
  }
  ~ScratchFile() { std::remove(path_.c_str()); }
  const std::string& write(const uint8_t* data, size_t size) const {
    FILE* f = std::fopen(path_.c_str(), "wb");
    if (!f) std::abort();
    if (size && std::fwrite(data, 1, size, f) != size) std::abort();
    std::fclose(f);
    return path_;
  }

 private:
  std::string path_;
};

// Runs `parse`; a synaptix::Error is the expected outcome for bad input and is swallowed.
template <typename F>
void expect_clean(F&& parse) {
  try {
    parse();
  } catch (const synaptix::Error&) {
  }
}

}  // namespace synaptix::fuzz
