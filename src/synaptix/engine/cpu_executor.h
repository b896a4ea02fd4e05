#pragma once
#include <memory>

#include "synaptix/engine/executor.h"
#include "synaptix/kernels/kernel_set.h"

namespace synaptix::engine {

// Greedy decoding without logits: the CPU executor implements it beside Executor (reach it with
// dynamic_cast<GreedyStep*>). ids gets, per logit row that step() would fill, the argmax over the vocabulary
// (lowest id among equal maxima), through the recipe's fused LM head + argmax when it has one.
class GreedyStep {
 public:
  virtual ~GreedyStep() = default;
  virtual void step_argmax(std::span<const SeqChunk> chunks, std::vector<int32_t>& ids) = 0;
};

// The CPU executor: f32 activations and KV cache, weights used in place from the memory map (bf16/f16/f32,
// converted inside the kernels), multi-threaded over the global ThreadPool. `kernels` (optional, not owned,
// must outlive the executor) supplies tuned kernels chosen by a recipe: linear, fused gate+up+SiLU, residual
// add + RMSNorm, decode attention, and (step_argmax) the LM head with fused argmax.
std::unique_ptr<Executor> make_cpu_executor(const model::Model& m, KvConfig kv,
                                            const kernels::KernelSet* kernels = nullptr);

}  // namespace synaptix::engine
