#pragma once
// The tokens engine::generate produces for a prompt, collected; with stop_after > 0 the callback stops the
// generation after that many (as a client that has seen enough).
#include <cstdint>
#include <vector>

#include "synaptix/engine/generator.h"

namespace synaptix::test {

inline std::vector<int32_t> generate_tokens(engine::Executor& ex, const std::vector<int32_t>& prompt,
                                            const engine::GenerateOptions& o, int stop_after = -1) {
  std::vector<int32_t> out;
  engine::generate(ex, prompt, o, [&](int32_t t) {
    out.push_back(t);
    return static_cast<int>(out.size()) != stop_after;
  });
  return out;
}

}  // namespace synaptix::test
