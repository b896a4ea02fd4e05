#include "synaptix/kernels/attention/cuda/paged_attention_cuda.h"

#include <sstream>
#include <string>

#include "synaptix/backend/cuda/device_prelude.h"
#include "synaptix/backend/cuda/module.h"
#include "synaptix/core/error.h"

namespace synaptix::kernels::cuda {
namespace bc = backend::cuda;
namespace {

// Each warp walks its keys KPW at a time: the K and V rows of KPW keys are loaded before the first is used,
// so several loads are in flight per warp. Lane i holds elements [i * EPL, i * EPL + EPL) of a head.
const char* kBody = R"(
#define EPL ((D + 31) / 32)
#define WARPS 4
#define KPW 4
#if KV_F32
typedef float kv_t;
__device__ __forceinline__ void load_row(const float* p, int lane, float* f) {
  const int e0 = lane * EPL;
#if EPL == 4 && (D % 4 == 0)
  if (e0 < D) { float4 u = *reinterpret_cast<const float4*>(p + e0); f[0] = u.x; f[1] = u.y; f[2] = u.z; f[3] = u.w; }
  else { f[0] = f[1] = f[2] = f[3] = 0.f; }
#else
#pragma unroll
  for (int e = 0; e < EPL; ++e) f[e] = e0 + e < D ? p[e0 + e] : 0.f;
#endif
}
#else
typedef bf16_t kv_t;
__device__ __forceinline__ void load_row(const bf16_t* p, int lane, float* f) {
  const int e0 = lane * EPL;
#if EPL == 4 && (D % 4 == 0)
  if (e0 < D) { uint2 u = *reinterpret_cast<const uint2*>(p + e0); f[0] = bf16_lo(u.x); f[1] = bf16_hi(u.x); f[2] = bf16_lo(u.y); f[3] = bf16_hi(u.y); }
  else { f[0] = f[1] = f[2] = f[3] = 0.f; }
#elif EPL == 8 && (D % 8 == 0)
  if (e0 < D) { uint4 u = *reinterpret_cast<const uint4*>(p + e0);
    f[0] = bf16_lo(u.x); f[1] = bf16_hi(u.x); f[2] = bf16_lo(u.y); f[3] = bf16_hi(u.y);
    f[4] = bf16_lo(u.z); f[5] = bf16_hi(u.z); f[6] = bf16_lo(u.w); f[7] = bf16_hi(u.w); }
  else { for (int e = 0; e < 8; ++e) f[e] = 0.f; }
#elif EPL == 2 && (D % 2 == 0)
  if (e0 < D) { unsigned int u = *reinterpret_cast<const unsigned int*>(p + e0); f[0] = bf16_lo(u); f[1] = bf16_hi(u); }
  else { f[0] = f[1] = 0.f; }
#else
#pragma unroll
  for (int e = 0; e < EPL; ++e) f[e] = e0 + e < D ? bf16_to_f32(p[e0 + e]) : 0.f;
#endif
}
#endif

extern "C" __global__ void __launch_bounds__(WARPS * 32)
paged_attention(const float* __restrict__ q, long long q_stride, const kv_t* __restrict__ kc, const kv_t* __restrict__ vc,
                const int* __restrict__ positions, const int* __restrict__ token_seq, const int* __restrict__ block_tables,
                int table_stride, int block_size, int KVH, int window, float scale, int split_size,
                float* __restrict__ partial, float* __restrict__ out) {
  pdl_wait();
  pdl_launch_dependents();
  extern __shared__ float sm[];  // [WARPS][G][D] acc, then [WARPS][G] m, [WARPS][G] l
  float* sm_acc = sm;
  float* sm_m = sm + WARPS * G * D;
  float* sm_l = sm_m + WARPS * G;
  const int t = blockIdx.x, kvh = blockIdx.y, s = blockIdx.z, S = gridDim.z;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int H = KVH * G;
  const int pos = positions[t];
  const int lo = window > 0 ? max(0, pos - window + 1) : 0;
  const int start = S > 1 ? lo + s * split_size : lo;
  const int end = S > 1 ? min(pos + 1, start + split_size) : pos + 1;
  const int* table = block_tables + (long long)token_seq[t] * table_stride;

  float qv[G][EPL];
#pragma unroll
  for (int g = 0; g < G; ++g) {
    const float* qp = q + (long long)t * q_stride + (long long)(kvh * G + g) * D;
#pragma unroll
    for (int e = 0; e < EPL; ++e) qv[g][e] = lane * EPL + e < D ? qp[lane * EPL + e] * scale : 0.f;
  }
  float m[G], l[G], acc[G][EPL];
#pragma unroll
  for (int g = 0; g < G; ++g) {
    m[g] = -INFINITY; l[g] = 0.f;
#pragma unroll
    for (int e = 0; e < EPL; ++e) acc[g][e] = 0.f;
  }
  for (int j0 = start + warp * KPW; j0 < end; j0 += WARPS * KPW) {
    float kf[KPW][EPL], vf[KPW][EPL];
#pragma unroll
    for (int u = 0; u < KPW; ++u) {
      const int j = j0 + u;
      if (j < end) {
        const long long slot = (long long)table[j / block_size] * block_size + j % block_size;
        load_row(kc + (slot * KVH + kvh) * D, lane, kf[u]);
        load_row(vc + (slot * KVH + kvh) * D, lane, vf[u]);
      }
    }
#pragma unroll
    for (int u = 0; u < KPW; ++u) {
      if (j0 + u >= end) break;
#pragma unroll
      for (int g = 0; g < G; ++g) {
        float d = 0.f;
#pragma unroll
        for (int e = 0; e < EPL; ++e) d = fmaf(qv[g][e], kf[u][e], d);
        d = warp_sum(d);
        const float nm = fmaxf(m[g], d);
        const float corr = expf(m[g] - nm), p = expf(d - nm);
        l[g] = l[g] * corr + p;
#pragma unroll
        for (int e = 0; e < EPL; ++e) acc[g][e] = fmaf(acc[g][e], corr, p * vf[u][e]);
        m[g] = nm;
      }
    }
  }
#pragma unroll
  for (int g = 0; g < G; ++g) {
#pragma unroll
    for (int e = 0; e < EPL; ++e)
      if (lane * EPL + e < D) sm_acc[(warp * G + g) * D + lane * EPL + e] = acc[g][e];
    if (lane == 0) { sm_m[warp * G + g] = m[g]; sm_l[warp * G + g] = l[g]; }
  }
  __syncthreads();
  for (int i = threadIdx.x; i < G * D; i += blockDim.x) {
    const int g = i / D, d = i % D;
    float M = -INFINITY;
#pragma unroll
    for (int w = 0; w < WARPS; ++w) M = fmaxf(M, sm_m[w * G + g]);
    float L = 0.f, O = 0.f;
    if (M != -INFINITY) {
#pragma unroll
      for (int w = 0; w < WARPS; ++w) {
        const float c = expf(sm_m[w * G + g] - M);
        L = fmaf(sm_l[w * G + g], c, L);
        O = fmaf(sm_acc[(w * G + g) * D + d], c, O);
      }
    }
    const int h = kvh * G + g;
    if (S == 1) {
      out[(long long)t * H * D + (long long)h * D + d] = O / L;
    } else {
      float* p = partial + (((long long)t * H + h) * S + s) * (D + 2);
      p[d] = O;
      if (d == 0) { p[D] = M; p[D + 1] = L; }
    }
  }
}

// Prefill variant, one key per lane: each lane computes whole dot products for its own key against the G
// query heads (q in shared memory), so the softmax needs one warp reduction per 32 keys instead of one per
// key, and P*V broadcasts each key's weight with one shuffle. Same result as paged_attention with S = 1.
__device__ __forceinline__ void load8(const kv_t* p, float* f) {
#if KV_F32
  const float4 a = *reinterpret_cast<const float4*>(p), b = *reinterpret_cast<const float4*>(p + 4);
  f[0] = a.x; f[1] = a.y; f[2] = a.z; f[3] = a.w; f[4] = b.x; f[5] = b.y; f[6] = b.z; f[7] = b.w;
#else
  const uint4 u = *reinterpret_cast<const uint4*>(p);
  f[0] = bf16_lo(u.x); f[1] = bf16_hi(u.x); f[2] = bf16_lo(u.y); f[3] = bf16_hi(u.y);
  f[4] = bf16_lo(u.z); f[5] = bf16_hi(u.z); f[6] = bf16_lo(u.w); f[7] = bf16_hi(u.w);
#endif
}
__device__ __forceinline__ float kv_at(const kv_t* p, int i) {
#if KV_F32
  return p[i];
#else
  return bf16_to_f32(p[i]);
#endif
}

extern "C" __global__ void __launch_bounds__(WARPS * 32)
paged_attention_lanekey(const float* __restrict__ q, long long q_stride, const kv_t* __restrict__ kc, const kv_t* __restrict__ vc,
                        const int* __restrict__ positions, const int* __restrict__ token_seq, const int* __restrict__ block_tables,
                        int table_stride, int block_size, int KVH, int window, float scale, float* __restrict__ out) {
  pdl_wait();
  pdl_launch_dependents();
  extern __shared__ float sm[];  // q [G][D], acc [WARPS][G][D], m [WARPS][G], l [WARPS][G]
  float* qs = sm;
  float* sm_acc = qs + G * D;
  float* sm_m = sm_acc + WARPS * G * D;
  float* sm_l = sm_m + WARPS * G;
  const int t = blockIdx.x, kvh = blockIdx.y;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int H = KVH * G;
  const int pos = positions[t];
  const int lo = window > 0 ? max(0, pos - window + 1) : 0;
  const int end = pos + 1;
  const int* table = block_tables + (long long)token_seq[t] * table_stride;
  for (int i = threadIdx.x; i < G * D; i += blockDim.x)
    qs[i] = q[(long long)t * q_stride + (long long)(kvh * G + i / D) * D + i % D] * scale;
  __syncthreads();
  float m[G], l[G], acc[G][EPL];
#pragma unroll
  for (int g = 0; g < G; ++g) {
    m[g] = -INFINITY; l[g] = 0.f;
#pragma unroll
    for (int e = 0; e < EPL; ++e) acc[g][e] = 0.f;
  }
  for (int base = lo + warp * 32; base < end; base += WARPS * 32) {
    const int j = base + lane;
    const bool valid = j < end;
    long long slot = 0;
    float s[G];
#pragma unroll
    for (int g = 0; g < G; ++g) s[g] = 0.f;
    if (valid) {
      slot = (long long)table[j / block_size] * block_size + j % block_size;
      const kv_t* kp = kc + (slot * KVH + kvh) * D;
#if D % 8 == 0
      for (int e = 0; e < D; e += 8) {
        float kf[8];
        load8(kp + e, kf);
#pragma unroll
        for (int g = 0; g < G; ++g) {
          const float4 qa = *reinterpret_cast<const float4*>(qs + g * D + e), qb = *reinterpret_cast<const float4*>(qs + g * D + e + 4);
          s[g] += qa.x * kf[0] + qa.y * kf[1] + qa.z * kf[2] + qa.w * kf[3] + qb.x * kf[4] + qb.y * kf[5] + qb.z * kf[6] + qb.w * kf[7];
        }
      }
#else
      for (int e = 0; e < D; ++e) {
        const float kf = kv_at(kp, e);
#pragma unroll
        for (int g = 0; g < G; ++g) s[g] = fmaf(qs[g * D + e], kf, s[g]);
      }
#endif
    }
    float p[G];
#pragma unroll
    for (int g = 0; g < G; ++g) {
      const float cm = warp_max(valid ? s[g] : -INFINITY);
      const float nm = fmaxf(m[g], cm);
      const float corr = expf(m[g] - nm);
      p[g] = valid ? expf(s[g] - nm) : 0.f;
      l[g] = l[g] * corr + p[g];
#pragma unroll
      for (int e = 0; e < EPL; ++e) acc[g][e] *= corr;
      m[g] = nm;
    }
    const int n = min(32, end - base);
    for (int jj = 0; jj < n; ++jj) {
      const long long sj = __shfl_sync(0xffffffffu, slot, jj);
      float vf[EPL];
      load_row(vc + (sj * KVH + kvh) * D, lane, vf);
#pragma unroll
      for (int g = 0; g < G; ++g) {
        const float pj = __shfl_sync(0xffffffffu, p[g], jj);
#pragma unroll
        for (int e = 0; e < EPL; ++e) acc[g][e] = fmaf(pj, vf[e], acc[g][e]);
      }
    }
  }
#pragma unroll
  for (int g = 0; g < G; ++g) {
    const float lt = warp_sum(l[g]);
#pragma unroll
    for (int e = 0; e < EPL; ++e)
      if (lane * EPL + e < D) sm_acc[(warp * G + g) * D + lane * EPL + e] = acc[g][e];
    if (lane == 0) { sm_m[warp * G + g] = m[g]; sm_l[warp * G + g] = lt; }
  }
  __syncthreads();
  for (int i = threadIdx.x; i < G * D; i += blockDim.x) {
    const int g = i / D, d = i % D;
    float M = -INFINITY;
#pragma unroll
    for (int w = 0; w < WARPS; ++w) M = fmaxf(M, sm_m[w * G + g]);
    float L = 0.f, O = 0.f;
#pragma unroll
    for (int w = 0; w < WARPS; ++w) {
      if (sm_m[w * G + g] == -INFINITY) continue;
      const float c = expf(sm_m[w * G + g] - M);
      L = fmaf(sm_l[w * G + g], c, L);
      O = fmaf(sm_acc[(w * G + g) * D + d], c, O);
    }
    out[(long long)t * H * D + (long long)(kvh * G + g) * D + d] = O / L;
  }
}

extern "C" __global__ void attention_combine(const float* __restrict__ partial, float* __restrict__ out, int H, int S) {
  pdl_wait();
  pdl_launch_dependents();
  const int t = blockIdx.x, h = blockIdx.y;
  const float* p = partial + ((long long)t * H + h) * S * (D + 2);
  float M = -INFINITY;
  for (int s = 0; s < S; ++s) if (p[s * (D + 2) + D + 1] > 0.f) M = fmaxf(M, p[s * (D + 2) + D]);
  for (int d = threadIdx.x; d < D; d += blockDim.x) {
    float L = 0.f, O = 0.f;
    for (int s = 0; s < S; ++s) {
      const float* ps = p + s * (D + 2);
      if (ps[D + 1] > 0.f) {
        const float c = expf(ps[D] - M);
        L = fmaf(ps[D + 1], c, L);
        O = fmaf(ps[d], c, O);
      }
    }
    out[(long long)t * H * D + (long long)h * D + d] = O / L;
  }
}
)";

}  // namespace

std::string paged_attention_source(int64_t g, int64_t d, bool kv_f32) {
  std::ostringstream os;
  os << bc::kDevicePrelude << "#define G " << g << "\n#define KV_F32 " << (kv_f32 ? 1 : 0) << "\n#define D " << d
     << "\n" << kBody;
  return os.str();
}

void paged_attention(const PagedAttentionArgs& a, CUstream stream) {
  if (a.tokens <= 0 || a.heads <= 0 || a.kv_heads <= 0 || a.heads % a.kv_heads != 0 || a.head_dim <= 0)
    fail("paged_attention: bad shape tokens=", a.tokens, " heads=", a.heads, " kv_heads=", a.kv_heads, " head_dim=", a.head_dim);
  const int64_t g = a.heads / a.kv_heads;
  if (g * a.head_dim > kMaxAttentionGroupDim)
    fail("paged_attention: ", g, " query heads per KV head x head_dim ", a.head_dim, " exceeds ", kMaxAttentionGroupDim);
  if (a.splits < 1 || (a.splits > 1 && (a.split_size < 1 || !a.partial)))
    fail("paged_attention: splits=", a.splits, " needs split_size > 0 and a partial buffer");
  const std::string name = "paged_attention_g" + std::to_string(g) + "_d" + std::to_string(a.head_dim) +
                           (a.kv_f32 ? "_kvf32" : "_kvbf16");
  auto make = [&] { return paged_attention_source(g, a.head_dim, a.kv_f32); };
  CUfunction f = bc::cached_kernel(name, make, "paged_attention");
  long long qs = a.q_stride;
  int ts = static_cast<int>(a.table_stride), bs = static_cast<int>(a.block_size), kvh = static_cast<int>(a.kv_heads),
      win = static_cast<int>(a.window), ss = static_cast<int>(a.split_size);
  float scale = a.scale;
  CUdeviceptr q = a.q, kc = a.k_cache, vc = a.v_cache, pos = a.positions, seq = a.token_seq, bt = a.block_tables,
              part = a.partial, out = a.out;
  void* args[] = {&q, &qs, &kc, &vc, &pos, &seq, &bt, &ts, &bs, &kvh, &win, &scale, &ss, &part, &out};
  if (a.lane_per_key) {
    if (a.splits != 1) fail("paged_attention: the lane-per-key variant takes no splits");
    CUfunction k = bc::cached_kernel(name, make, "paged_attention_lanekey");
    void* kargs[] = {&q, &qs, &kc, &vc, &pos, &seq, &bt, &ts, &bs, &kvh, &win, &scale, &out};
    const unsigned ksmem = static_cast<unsigned>((5 * g * a.head_dim + 8 * g) * sizeof(float));
    bc::launch(k, {static_cast<unsigned>(a.tokens), static_cast<unsigned>(a.kv_heads)}, {128}, ksmem, stream, kargs,
               "paged_attention_lanekey");
    return;
  }
  const unsigned smem = static_cast<unsigned>((4 * g * a.head_dim + 8 * g) * sizeof(float));
  bc::launch(f, {static_cast<unsigned>(a.tokens), static_cast<unsigned>(a.kv_heads), static_cast<unsigned>(a.splits)},
             {128}, smem, stream, args, "paged_attention");
  if (a.splits > 1) {
    CUfunction c = bc::cached_kernel(name, make, "attention_combine");
    int H = static_cast<int>(a.heads), S = static_cast<int>(a.splits);
    void* cargs[] = {&part, &out, &H, &S};
    bc::launch(c, {static_cast<unsigned>(a.tokens), static_cast<unsigned>(a.heads)}, {128}, 0, stream, cargs,
               "attention_combine");
  }
}

}  // namespace synaptix::kernels::cuda
