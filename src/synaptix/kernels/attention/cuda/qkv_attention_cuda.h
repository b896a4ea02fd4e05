#pragma once
// The decode step's qkv projection and its attention in one launch (batch 1): the qkv GEMV computes its rows
// grouped by KV head (each group's q heads, then its k and v head), and the last `splits` blocks of a group
// to finish its rows attend for that group — RoPE of the token's heads, the K/V write, the split attention
// over the cached positions and the split combine by the last of them — while the other blocks still
// stream weights. Against the GEMV followed by decode_attention_rope it saves a kernel boundary and starts
// each group's attention as soon as its rows exist; the split blocks load their cached keys before waiting
// for the group's last rows.
#include <cuda.h>

#include <cstdint>

#include "synaptix/kernels/attention/cuda/paged_attention_cuda.h"
#include "synaptix/kernels/linear/cuda/gemv_bf16.h"

namespace synaptix::kernels::cuda {

struct QkvAttentionArgs {
  // The projection: qkv[n] = W x (one token), W bf16 [n = (H + 2 KVH) * D, k], with its fusion (the
  // attention RMSNorm in the prologue) and schedule.
  CUdeviceptr x = 0, w = 0;
  int64_t k = 0;
  GemvParams gemv;
  GemvFusion fusion;
  // The attention, as decode_attention_rope takes it (one token; splits is the number of split blocks per
  // KV head, split_size is taken from the position at run time, partial holds [H, splits, D + 2]).
  RopeKvArgs rope;
  PagedAttentionArgs attn;
  CUdeviceptr counters = 0;  // u32 [qkv_attention_counters(KVH)], zero before the first launch; left zero
};

// Whether the fused form serves these shapes: one token, no per-head norms, a head layout the register
// RoPE handles, a GEMV schedule whose rows per block divide head_dim and 1..16 splits.
// The u32 counters a launch needs for kv_heads KV heads (two per head, a 128-byte line each).
inline constexpr int64_t qkv_attention_counters(int64_t kv_heads) { return 2 * kv_heads * 32; }

bool qkv_attention_supported(const QkvAttentionArgs& a);

// The launch's kernel source (the GEMV with its attention tail), for G query heads per KV head and head_dim D.
std::string qkv_attention_source(int64_t g, int64_t d, bool kv_f32, const GemvParams& p, const GemvFusion& f);

void qkv_attention(const QkvAttentionArgs& a, CUstream stream);

}  // namespace synaptix::kernels::cuda
