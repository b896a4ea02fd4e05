#pragma once
// The kernels an executor uses in place of its defaults: what a recipe chose, loaded and ready. The engine
// asks for a kernel by op and exact shape; a null answer means "use the default implementation".
#include <cstdint>
#include <functional>

#include "synaptix/kernels/linear/reference.h"

namespace synaptix::kernels {

using LinearFn = std::function<void(const LinearArgs&)>;
// y[m, n] = silu(x Wg^T) * (x Wu^T); Wg and Wu are [n, k] in the shape's dtype.
using GateUpSiluFn = std::function<void(const float* x, const void* w_gate, const void* w_up, float* y, int64_t m)>;
// residual[m, n] += x; y = rmsnorm(residual) * gamma. y may alias x.
using AddRmsNormFn =
    std::function<void(float* residual, const float* x, const float* gamma, float* y, int64_t m, float eps)>;

// m query tokens, each at its own position over its own block table, of one layer's paged KV cache.
struct AttentionBatch {
  const float* q;                     // [m, heads * head_dim]
  const float* k_cache;               // [num_blocks * block_size, kv_heads * head_dim]
  const float* v_cache;
  int64_t block_size;
  const int32_t* const* block_tables;  // [m]
  const int64_t* pos;                  // [m]
  int64_t window;                      // 0: full causal
  float scale;
  float* out;                          // [m, heads * head_dim]
  int64_t m;
};
using AttentionFn = std::function<void(const AttentionBatch&)>;
// Greedy LM head: ids[i] = argmax_j (x[i] . W[j]) over the n vocabulary rows; the logits are not stored.
using LmHeadArgmaxFn = std::function<void(const float* x, const void* w, int32_t* ids, int64_t m)>;

class KernelSet {
 public:
  virtual ~KernelSet() = default;
  // Tuned linear for m rows of x against an [n, k] weight of dtype w, or nullptr.
  virtual const LinearFn* linear(int64_t m, int64_t n, int64_t k, DType w) const = 0;
  // Tuned fused gate+up+SiLU·mul for m rows against two [n, k] weights, or nullptr.
  virtual const GateUpSiluFn* gate_up_silu(int64_t m, int64_t n, int64_t k, DType w) const { return nullptr; }
  // Tuned residual add + RMSNorm over m rows of n, or nullptr.
  virtual const AddRmsNormFn* add_rmsnorm(int64_t m, int64_t n) const { return nullptr; }
  // Tuned decode attention for m tokens of `heads` query heads over kv_heads x head_dim, whose longest
  // sequence holds ctx positions, or nullptr.
  virtual const AttentionFn* attention(int64_t m, int64_t heads, int64_t kv_heads, int64_t head_dim,
                                       int64_t ctx) const {
    return nullptr;
  }
  // Tuned LM head with fused argmax (greedy sampling only), or nullptr.
  virtual const LmHeadArgmaxFn* lm_head_argmax(int64_t m, int64_t n, int64_t k, DType w) const { return nullptr; }
};

}  // namespace synaptix::kernels
