#pragma once
// RoPE fused with the KV-cache write. Input is the fused q|k|v projection of each token, [T, (H + 2 KVH) * D]
// f32. Per head: add the projection bias (qwen2), apply the per-head RMSNorm (qwen3 q_norm / k_norm), rotate
// the first `rotary_dim` dims in the rotate_half layout by pos * inv_freq (cos and sin times the yarn
// attention scaling), then write q back in place (f32) and k, v into the layer's paged cache (bf16, f32 or fp8-e4m3,
// [slots, KVH, D], slot = block * block_size + offset, given per token; int8: codes and a scale per row, each
// block's scales after its codes, kernels/attention/cuda/kv_int8_layout.h).
#include <cuda.h>

#include <cstdint>
#include <string>

namespace synaptix::kernels::cuda {

struct RopeKvArgs {
  CUdeviceptr qkv = 0;        // [T, stride] f32, q rewritten in place
  int64_t stride = 0;         // floats between tokens
  CUdeviceptr bias = 0;       // [(H + 2 KVH) * D] f32 or 0
  CUdeviceptr q_norm = 0;     // [D] f32 or 0
  CUdeviceptr k_norm = 0;     // [D] f32 or 0
  float eps = 1e-6f;
  CUdeviceptr positions = 0;  // [T] int32
  CUdeviceptr slots = 0;      // [T] int32
  CUdeviceptr inv_freq = 0;   // [rotary_dim / 2] f32
  int64_t rotary_dim = 0;
  float attention_scaling = 1.0f;
  CUdeviceptr k_cache = 0, v_cache = 0;  // bf16, f32 with kv_f32, fp8-e4m3 codes with kv_fp8
  bool kv_f32 = false;
  bool kv_fp8 = false;
  bool kv_int8 = false;      // at most one of kv_f32, kv_fp8, kv_int8
  int64_t block_size = 0;    // the cache's block size: int8 finds a row's scale by it (a multiple of 4)
  int64_t tokens = 0, heads = 0, kv_heads = 0, head_dim = 0;
};

std::string rope_kv_source();
// The device functions both RoPE kernels share (this one and the fused decode attention), so both round
// alike: head_rms_norm(v, norm_weight, eps, dim, lane) (one warp), rope_pair(v, i, half, pos, inv_freq_i,
// attention_scaling) (one rotation pair), and rope_head(...) (one warp: the norm, then every pair).
std::string rope_head_device_source();

}  // namespace synaptix::kernels::cuda
