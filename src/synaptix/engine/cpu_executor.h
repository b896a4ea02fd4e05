#pragma once
#include <memory>

#include "synaptix/engine/executor.h"
#include "synaptix/kernels/kernel_set.h"

namespace synaptix::engine {

// The CPU executor: f32 activations, the KV cache in kv.format (f32, bf16, int8 or fp8-e4m3), weights used in place from the memory map (bf16/f16/f32,
// converted inside the kernels), multi-threaded over the global ThreadPool. `kernels` (optional, not owned,
// must outlive the executor) supplies tuned kernels chosen by a recipe: linear, fused gate+up+SiLU, residual
// add + RMSNorm, decode attention, and (GreedyStep::step_argmax) the LM head with fused argmax.
std::unique_ptr<Executor> make_cpu_executor(const model::Model& m, KvConfig kv,
                                            const kernels::KernelSet* kernels = nullptr);

}  // namespace synaptix::engine
