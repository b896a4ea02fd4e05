#pragma once
// Causal attention over the paged KV cache (bf16, or f32 where exactness matters) for any mix of decode tokens and prefill chunks: one query
// token per block row, GQA-aware (a block serves the G = H / KVH query heads that share one KV head, so each
// K/V row is read once for all of them), optional sliding window, and split-K over the sequence: with S > 1
// splits each block covers `split_size` positions and writes a partial (max, sum, unnormalised output) that
// a second kernel combines; that keeps all SMs busy for long contexts at small batch.
#include <cuda.h>

#include <cstdint>
#include <string>

#include "synaptix/kernels/rope/cuda/rope_kv_cuda.h"

namespace synaptix::kernels::cuda {

struct PagedAttentionArgs {
  CUdeviceptr q = 0;            // [T, q_stride] f32; head h at offset h * D
  int64_t q_stride = 0;
  CUdeviceptr k_cache = 0, v_cache = 0;  // [slots, KVH, D], bf16, f32 (kv_f32) or fp8-e4m3 codes (kv_fp8); int8: see kv_int8
  bool kv_f32 = false;
  bool kv_fp8 = false;  // unscaled E4M3, as kernels/attention/kv_format.h defines it (kv_f32 false)
  // int8 codes with one f32 scale per token per KV head (kv_format.h), each block's scales after its codes
  // (kv_int8_layout.h); block_size % 4 == 0. At most one of kv_f32, kv_fp8, kv_int8.
  bool kv_int8 = false;
  CUdeviceptr positions = 0;    // [T] int32: the query's position; keys [lo, pos] are attended
  CUdeviceptr token_seq = 0;    // [T] int32: which block-table row the token reads
  CUdeviceptr block_tables = 0; // [seqs, table_stride] int32
  int64_t table_stride = 0, block_size = 0;
  int64_t tokens = 0, heads = 0, kv_heads = 0, head_dim = 0;
  int64_t window = 0;           // 0: full causal
  float scale = 1.0f;
  int64_t splits = 1, split_size = 0;  // splits * split_size must cover the longest key range when splits > 1
  CUdeviceptr partial = 0;      // [T, H, splits, D + 2] f32 when splits > 1
  CUdeviceptr out = 0;          // [T, H * D] f32
  // One key per lane instead of one key per warp: fewer reductions per key, for prefill (many query tokens,
  // each with many keys). Requires splits == 1.
  bool lane_per_key = false;
};

// Largest G * D the kernel's shared memory allows.
inline constexpr int64_t kMaxAttentionGroupDim = 2048;

// Split counts the fused decode kernel can run as one thread block cluster (sm_90+; 16 is non-portable).
inline constexpr bool decode_cluster_supported(int64_t splits) {
  return splits == 2 || splits == 4 || splits == 8 || splits == 16;
}

// The fused RoPE + decode attention kernel's points (DecodeAttentionArgs): warps 4, 8 or 16 per block, 4 or
// 8 keys per warp.
inline constexpr bool decode_attention_supported(int warps, int keys_per_warp) {
  return (warps == 4 || warps == 8 || warps == 16) && (keys_per_warp == 4 || keys_per_warp == 8);
}

// The kernel source for G query heads per KV head and head_dim D (the fused decode kernel with
// decode_warps warps per block, each taking decode_keys_per_warp keys at a time, and with decode_cluster
// > 0 compiled as clusters of that many split blocks; 0: the counter + global partial combine).
// decode_reg_heads: the fused decode kernel keeps the token's heads in registers (RoPE through warp shuffles, no
// shared-memory staging or block barriers before the attention); needs (rotary_dim / 2) % ceil(D / 32) == 0
// and no per-head norms, which the launcher checks.
// kv_fp8: the cache holds fp8-e4m3 codes (kv_fp8.cuh); kv_int8: int8 codes and per-row scales (kv_int8.cuh);
// at most one of kv_f32, kv_fp8 and kv_int8.
std::string paged_attention_source(int64_t g, int64_t d, bool kv_f32, int decode_warps = 4, int decode_keys_per_warp = 4,
                                   int decode_cluster = 0, bool decode_reg_heads = false, bool kv_fp8 = false,
                                   bool kv_int8 = false);

// RoPE + KV write + split decode attention + combine in one kernel, for steps whose every token is the one
// new token of its sequence. rope describes the projection and the cache write (as rope_kv_write), attn the
// attention (its q is the raw projection, rope.qkv); with attn.splits > 1, counters holds tokens * kv_heads
// zeroed uint32 (the kernel leaves them zeroed).
// warps (4, 8, 16; fewer when the heads are too wide for 48 KB of shared memory) and keys_per_warp (4, 8)
// set how many keys a block has in flight.
// cluster: when attn.splits is 2, 4, 8 or 16, the S split blocks of a (token, KV head) run as one cluster
// (Hopper or later; 16 needs the non-portable cluster size, which the launcher enables) and combine their
// partials through distributed shared memory, all S blocks at once: no counters, no partial buffer (both
// may be 0), no fence. All S blocks must be resident together, so a cluster may wait for free SMs. Other
// split counts (1, or above 16) ignore it and take the counter path, which needs counters and partial.
struct DecodeAttentionArgs {
  RopeKvArgs rope;
  PagedAttentionArgs attn;
  CUdeviceptr counters = 0;
  int warps = 4;
  int keys_per_warp = 4;
  bool cluster = false;
  // The token's heads kept in registers where the shapes allow (see paged_attention_source), else staged
  // in shared memory.
  bool reg_heads = true;
};

}  // namespace synaptix::kernels::cuda
