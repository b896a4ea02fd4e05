#pragma once
// Prefill attention on tensor cores (flash-attention style): a block takes a tile of up to 64 consecutive
// query tokens of one sequence and one query head, streams that sequence's keys and values from the paged
// bf16 KV cache through shared memory 64 at a time (double-buffered cp.async), computes S = Q K^T and
// O += P V with mma.sync m16n8k16 (bf16 in, f32 accumulate) and keeps the softmax online, so S never
// leaves registers. Causal, optional sliding window, GQA (the head's KV head is h / (H / KVH)).
#include <cuda.h>

#include <cstdint>
#include <string>

namespace synaptix::kernels::cuda {

inline constexpr int64_t kFlashTileTokens = 64;

struct FlashAttentionArgs {
  CUdeviceptr q = 0;            // [T, q_stride] f32 (RoPE applied); head h at offset h * D
  int64_t q_stride = 0;
  CUdeviceptr k_cache = 0, v_cache = 0;  // [slots, KVH, D] bf16, or fp8-e4m3 codes with kv_fp8
  bool kv_fp8 = false;
  bool kv_int8 = false;  // int8 codes and per-row scales (kv_int8_layout.h; block_size % 4 == 0)
  CUdeviceptr tiles = 0;        // [num_tiles, 3] int32: first token, tokens (1..64), block-table row
  int64_t num_tiles = 0;
  CUdeviceptr positions = 0;    // [T] int32; a tile's tokens have consecutive positions
  CUdeviceptr block_tables = 0; // [seqs, table_stride] int32
  int64_t table_stride = 0, block_size = 0;
  int64_t heads = 0, kv_heads = 0, head_dim = 0;
  int64_t window = 0;           // 0: full causal
  float scale = 1.0f;
  CUdeviceptr out = 0;          // [T, H * D] f32
};

// Head dims the kernel supports (its shared-memory swizzle needs a power of two of 16-byte chunks).
bool flash_attention_supports(int64_t head_dim);

// kv_fp8: the cache holds fp8-e4m3 codes (kv_fp8.cuh), widened to bf16 as the tiles are loaded (exact).
// kv_int8: int8 codes times their row's scale (kv_int8.cuh), rounded to bf16 as the tiles are loaded.
std::string flash_attention_source(int64_t head_dim, bool kv_fp8 = false, bool kv_int8 = false);

}  // namespace synaptix::kernels::cuda
