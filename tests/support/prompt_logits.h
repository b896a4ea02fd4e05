#pragma once
// Logits of every position of one prompt, from a fresh CPU executor and one prefill step (block size 16,
// blocks 0..15 in order): the form the reference fixtures store their logits in.
#include <cstdint>
#include <numeric>
#include <vector>

#include "synaptix/engine/cpu_executor.h"
#include "synaptix/model/model.h"

namespace synaptix::test {

inline std::vector<float> prompt_logits(const model::Model& m, const std::vector<int32_t>& ids) {
  auto ex = engine::make_cpu_executor(m, {16, 16});
  std::vector<int32_t> table(16);
  std::iota(table.begin(), table.end(), 0);
  std::vector<float> logits;
  engine::SeqChunk c{ids, 0, table, true};
  ex->step({&c, 1}, logits);
  return logits;
}

}  // namespace synaptix::test
