#include "synaptix/kernels/rope/cuda/rope_kv_cuda.h"

#include <string>

#include "synaptix/backend/cuda/device_prelude.h"
#include "synaptix/backend/cuda/module.h"
#include "synaptix/core/error.h"

namespace synaptix::kernels::cuda {
namespace bc = backend::cuda;
namespace {

const char* kRopeHead = R"(
// One warp: the per-head RMSNorm (qwen3's q_norm / k_norm) of v[0, dim) in place.
__device__ __forceinline__ void head_rms_norm(float* v, const float* nw, float eps, int dim, int lane) {
  float ss = 0.f;
  for (int i = lane; i < dim; i += 32) ss = fmaf(v[i], v[i], ss);
  const float inv = rsqrtf(warp_sum(ss) / (float)dim + eps);
  for (int i = lane; i < dim; i += 32) v[i] = v[i] * inv * nw[i];
}
// Rotation of pair (v[i], v[i + half]) by pos * inv_freq_i (rotate_half layout), cos and sin scaled by the yarn
// attention scaling.
__device__ __forceinline__ void rope_pair(float* v, int i, int half, float pos, float inv_freq_i, float attn_scale) {
  float s, c;
  sincosf(pos * inv_freq_i, &s, &c);
  c *= attn_scale; s *= attn_scale;
  const float a = v[i], b = v[i + half];
  v[i] = a * c - b * s;
  v[i + half] = b * c + a * s;
}
__device__ __forceinline__ void rope_head(float* v, const float* nw, float eps, int dim, int rot, const float* inv_freq,
                                          float pos, float attn_scale, int lane) {
  if (nw) {
    head_rms_norm(v, nw, eps, dim, lane);
    __syncwarp();
  }
  const int half = rot >> 1;
  for (int i = lane; i < half; i += 32) rope_pair(v, i, half, pos, inv_freq[i], attn_scale);
  __syncwarp();
}
)";

const char* kBody = R"(
extern "C" __global__ void __launch_bounds__(128)
rope_kv_write(float* qkv, long long stride, const float* bias, const float* q_norm, const float* k_norm, float eps,
              const int* positions, const int* slots, const float* inv_freq, int rot, float attn_scale,
              void* kc, void* vc, int H, int KVH, int D, int kv_f32) {
  pdl_wait();
  pdl_launch_dependents();
  extern __shared__ float buf[];
  const int t = blockIdx.x, warp = threadIdx.x >> 5, lane = threadIdx.x & 31, nwarps = blockDim.x >> 5;
  float* v = buf + warp * D;
  const float pos = (float)positions[t];
  const long long slot = slots[t];
  // blockIdx.y spreads a token's heads over blocks: at decode (one token) a single block would walk all
  // heads serially.
  for (int h = blockIdx.y * nwarps + warp; h < H + 2 * KVH; h += nwarps * gridDim.y) {
    float* src = qkv + (long long)t * stride + (long long)h * D;
    for (int i = lane; i < D; i += 32) v[i] = src[i] + (bias ? bias[h * D + i] : 0.f);
    __syncwarp();
    if (h < H + KVH) rope_head(v, h < H ? q_norm : k_norm, eps, D, rot, inv_freq, pos, attn_scale, lane);
    if (h < H) {
      for (int i = lane; i < D; i += 32) src[i] = v[i];
    } else {
      const long long off = (slot * KVH + (h < H + KVH ? h - H : h - H - KVH)) * D;
      void* base = h < H + KVH ? kc : vc;
      if (kv_f32) { float* dst = (float*)base + off; for (int i = lane; i < D; i += 32) dst[i] = v[i]; }
      else { bf16_t* dst = (bf16_t*)base + off; for (int i = lane; i < D; i += 32) dst[i] = f32_to_bf16(v[i]); }
    }
    __syncwarp();
  }
}
)";

}  // namespace

std::string rope_head_device_source() { return kRopeHead; }

std::string rope_kv_source() { return std::string(bc::kDevicePrelude) + kRopeHead + kBody; }

void rope_kv_write(const RopeKvArgs& a, CUstream stream) {
  if (a.tokens <= 0 || a.heads <= 0 || a.kv_heads <= 0 || a.head_dim <= 0 || a.rotary_dim > a.head_dim ||
      a.rotary_dim % 2 != 0)
    fail("rope_kv_write: bad shape tokens=", a.tokens, " heads=", a.heads, " kv_heads=", a.kv_heads,
         " head_dim=", a.head_dim, " rotary_dim=", a.rotary_dim);
  CUfunction f = bc::cached_kernel("rope_kv_write", rope_kv_source, "rope_kv_write");
  long long stride = a.stride;
  int rot = static_cast<int>(a.rotary_dim), H = static_cast<int>(a.heads), KVH = static_cast<int>(a.kv_heads),
      D = static_cast<int>(a.head_dim);
  float eps = a.eps, scale = a.attention_scaling;
  CUdeviceptr qkv = a.qkv, bias = a.bias, qn = a.q_norm, kn = a.k_norm, pos = a.positions, slots = a.slots,
              invf = a.inv_freq, kc = a.k_cache, vc = a.v_cache;
  int kvf = a.kv_f32 ? 1 : 0;
  void* args[] = {&qkv, &stride, &bias, &qn, &kn, &eps, &pos, &slots, &invf, &rot, &scale, &kc, &vc, &H, &KVH, &D, &kvf};
  const unsigned head_blocks = static_cast<unsigned>((a.heads + 2 * a.kv_heads + 3) / 4);
  bc::launch(f, {static_cast<unsigned>(a.tokens), head_blocks}, {128}, static_cast<unsigned>(4 * D * sizeof(float)), stream, args,
             "rope_kv_write");
}

}  // namespace synaptix::kernels::cuda
