#pragma once
// Grouped expert GEMVs for decode-sized MoE steps, reading the routing from device memory (moe_route), so
// the whole MoE block runs without a host round trip. Two kernels:
//   gate_up: grid (intermediate block, expert slot); each slot is one distinct expert of the step and runs
//            every token routed to it, so an expert's weights stream once per step however many tokens
//            chose it; SwiGLU in the epilogue (gate/up rows interleaved, as the device weights are);
//            writes act[pair, inter] per (token, slot) pair.
//   down:    grid over row blocks of hidden; each block loops over the step's distinct experts, keeps
//            every pair's output rows in shared memory and then adds sum_s weight[t, s] * out[t, s] into
//            the residual in slot order: no float atomics, the same result on every run. Or spread over
//            (row block, slot) with the last block of each row block adding the sums in the same order.
// Weights: per expert a bf16 gate_up [2 inter, hidden] (rows g0 u0 g1 u1 ...) and down [hidden, inter],
// found through device arrays of per-expert base pointers indexed by the routed expert id.
#include <cuda.h>

#include <cstdint>
#include <string>

namespace synaptix::kernels::cuda {

// The most tokens and (token, expert) pairs one call takes: the grouping runs on one block's first two
// warps (a 64-bit mask of pairs) and each token's accumulators live in registers.
inline constexpr int64_t kMoeExpertsMaxTokens = 8;
inline constexpr int64_t kMoeExpertsMaxPairs = 64;
// The kernels' fixed schedule (the source's #defines and the launcher's grid).
inline constexpr int kMoeExpertsWarps = 4;     // per block, both kernels (the grouping needs at least two)
inline constexpr int kMoeDownRowsPerWarp = 2;  // hidden rows per warp in the down kernel
inline constexpr int kMoeExpertsUnroll = 2;    // 16-byte weight loads in flight per lane and row

struct MoeExpertsArgs {
  CUdeviceptr x = 0;             // f32 [tokens, hidden]: the normalised input of the MoE block
  CUdeviceptr residual = 0;      // f32 [tokens, hidden]: += sum over slots of weight * expert output
  CUdeviceptr ids = 0;           // int32 [tokens, top_k]: routed experts, distinct per token, in 0..experts-1
  CUdeviceptr weights = 0;       // f32 [tokens, top_k]
  CUdeviceptr gate_up_ptrs = 0;  // u64 [experts]: each expert's gate_up base pointer (16-byte aligned)
  CUdeviceptr down_ptrs = 0;     // u64 [experts]: each expert's down base pointer (16-byte aligned)
  CUdeviceptr act = 0;           // f32 scratch [tokens * top_k, inter]
  int64_t tokens = 0, top_k = 0, experts = 0, hidden = 0, inter = 0;
  // Optional: the down projection spread over (row block, slot) blocks instead of one block walking every
  // expert: f32 scratch [tokens * top_k, hidden] and moe_down_counters(hidden) zeroed uint32 (left zeroed).
  // Same arithmetic and summation order, so the same result.
  CUdeviceptr down_scratch = 0;
  CUdeviceptr down_counters = 0;
  // Optional: f32 [tokens], each token's sum of squares of its updated residual row is added here (the next
  // RMSNorm's statistic when it runs in a GEMV prologue), by float atomics: its last bits vary run to run.
  CUdeviceptr ss_out = 0;
};

// uint32 counters the spread down kernel needs for `hidden` rows.
int64_t moe_down_counters(int64_t hidden);

// Whether a step of this shape fits the grouped kernels (else the caller takes another path).
bool moe_experts_supports(int64_t tokens, int64_t top_k, int64_t hidden, int64_t inter);

// Source of both kernels for `tokens` tokens of `top_k` experts each.
std::string moe_experts_source(int64_t tokens, int64_t top_k);

}  // namespace synaptix::kernels::cuda
