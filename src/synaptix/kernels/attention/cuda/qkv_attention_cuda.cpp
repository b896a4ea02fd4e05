#include "synaptix/kernels/attention/cuda/qkv_attention_cuda.h"

#include <algorithm>
#include <string>

#include "synaptix/core/error.h"

namespace synaptix::kernels::cuda {
namespace {

// The tail of the qkv GEMV (see GemvTail): after attention_helpers_source. TKPW keys per warp at a time.
const char* kTail = R"(
#define TKPW 2
struct QkvAttentionTail {
  const int* positions; const int* slots; const int* token_seq; const int* block_tables;
  const float* inv_freq; const float* bias; kv_t* kc; kv_t* vc; float* partial; float* out;
  unsigned int* counters;
  int table_stride, block_size, kv_heads, window, rot, splits;
  float attn_scale, scale;
};
// Rows grouped by KV head: group g's G query heads, then its k head, then its v head.
__device__ __forceinline__ int qkv_tail_row(int i, int n) {
  const int per = (G + 2) * D, kvh = n / per, g = i / per, r = i - g * per;
  if (r < G * D) return g * G * D + r;
  if (r < (G + 1) * D) return kvh * G * D + g * D + (r - G * D);
  return kvh * (G + 1) * D + g * D + (r - (G + 1) * D);
}
__device__ __forceinline__ unsigned int ld_acquire_u32(const unsigned int* p) {
  unsigned int v;
  asm volatile("ld.acquire.gpu.global.u32 %0, [%1];" : "=r"(v) : "l"(p) : "memory");
  return v;
}
// This lane's elements of head h of the projection row (+ bias), read from L2: other blocks wrote them.
__device__ __forceinline__ void load_head_cg(const float* row, const float* bias, int h, int lane, float (&v)[EPL]) {
#pragma unroll
  for (int e = 0; e < EPL; ++e) {
    const int i = lane * EPL + e;
    v[e] = i < D ? load_cg(row + (long long)h * D + i) + (bias ? bias[h * D + i] : 0.f) : 0.f;
  }
}
// Blocks in order: for each KV group, its GEMV blocks (rows_per_block rows each), then its `splits` split
// blocks, which become resident as their group's rows are being computed and attend while later groups
// stream. Row group of block b (< 0: a split block).
__device__ __forceinline__ int qkv_tail_block_group(unsigned int b, int rows_per_block, int splits) {
  const int bpg = (G + 2) * D / rows_per_block, g = (int)b / (bpg + splits), r = (int)b - g * (bpg + splits);
  return r < bpg ? g * bpg + r : -1;
}
__device__ __forceinline__ void red_add_release_u32(unsigned int* p, unsigned int v) {
  asm volatile("red.release.gpu.global.add.u32 [%0], %1;" :: "l"(p), "r"(v) : "memory");
}
// Run by every block after the GEMV part. A GEMV block counts itself done for its group (no wait for the
// count: the add returns nothing). Split block s of group g waits until all of its group's blocks have
// counted, then attends over positions [lo + s * ss, lo + (s + 1) * ss) (ss from the position) as
// decode_attention_rope does with heads in registers, its cached keys loaded before the wait; the last
// split to finish combines the partials and re-arms the counters.
template <int NW>
__device__ void qkv_attention_tail(const QkvAttentionTail& a, const float* qkv, int n, int rows_per_block) {
  __shared__ int is_last;
  __shared__ float tail_sm[NW * G * D + 2 * NW * G];
  const int S = a.splits, bpg = (G + 2) * D / rows_per_block;
  const int kvh = (int)blockIdx.x / (bpg + S), s = (int)blockIdx.x - kvh * (bpg + S) - bpg;
  const int KVH = a.kv_heads, H = KVH * G;
  // One 128-byte line per counter: a group's blocks all add to one address.
  unsigned int* done = a.counters + kvh * 32;
  unsigned int* finished = a.counters + (KVH + kvh) * 32;
  if (s < 0) {
    // The barrier orders every thread's row stores before thread 0's release add.
    __syncthreads();
    if (threadIdx.x == 0) red_add_release_u32(done, 1u);
    return;
  }
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int pos = a.positions[0];
  const int lo = a.window > 0 ? max(0, pos - a.window + 1) : 0;
  const int ss = (pos + 1 - lo + S - 1) / S;
  const int start = lo + s * ss, end = min(pos + 1, start + ss);
  const int* table = a.block_tables + (long long)a.token_seq[0] * a.table_stride;
  int j0 = start + warp * TKPW;
  float kf[TKPW][EPL], vf[TKPW][EPL];
  // The cached keys do not depend on this step's rows: load them before waiting for the group.
  load_keys<TKPW>(a.kc, a.vc, table, a.block_size, KVH, kvh, j0, min(end, pos), lane, kf, vf);
  const int half = a.rot / 2;
  float fr[EPL];
#pragma unroll
  for (int e = 0; e < EPL; ++e) {
    const int idx = lane * EPL + e;
    fr[e] = idx < a.rot ? a.inv_freq[idx < half ? idx : idx - half] : 0.f;
  }
  if (threadIdx.x == 0)
    while (ld_acquire_u32(done) < (unsigned int)bpg) __nanosleep(32);
  __syncthreads();
  float hq[G][EPL], hk[EPL], hv[EPL];
#pragma unroll
  for (int g = 0; g < G; ++g) load_head_cg(qkv, a.bias, kvh * G + g, lane, hq[g]);
  load_head_cg(qkv, a.bias, H + kvh, lane, hk);
  load_head_cg(qkv, a.bias, H + KVH + kvh, lane, hv);
  if (half > 0) {
    const bool first = lane * EPL < half, rotated = lane * EPL < a.rot;
    const int src = !rotated ? lane : first ? lane + half / EPL : lane - half / EPL;
    float c[EPL], sn[EPL];
#pragma unroll
    for (int e = 0; e < EPL; ++e) {
      sincosf((float)pos * fr[e], &sn[e], &c[e]);
      c[e] *= a.attn_scale; sn[e] *= a.attn_scale;
    }
    rotate_lane(hk, c, sn, src, first, rotated);
#pragma unroll
    for (int g = 0; g < G; ++g) rotate_lane(hq[g], c, sn, src, first, rotated);
  }
#if !KV_F32
  // Position pos is attended with the values the cache holds (bf16), as every later step will see it.
#pragma unroll
  for (int e = 0; e < EPL; ++e) { hk[e] = bf16_to_f32(f32_to_bf16(hk[e])); hv[e] = bf16_to_f32(f32_to_bf16(hv[e])); }
#endif
  if (s == 0 && warp == 0) {
    const long long off = ((long long)a.slots[0] * KVH + kvh) * D;
#pragma unroll
    for (int e = 0; e < EPL; ++e)
      if (lane * EPL + e < D) { a.kc[off + lane * EPL + e] = to_kv(hk[e]); a.vc[off + lane * EPL + e] = to_kv(hv[e]); }
  }
#pragma unroll
  for (int g = 0; g < G; ++g)
#pragma unroll
    for (int e = 0; e < EPL; ++e) hq[g][e] = lane * EPL + e < D ? hq[g][e] * a.scale : 0.f;
  float m[G], l[G], acc[G][EPL];
#pragma unroll
  for (int g = 0; g < G; ++g) {
    m[g] = -INFINITY; l[g] = 0.f;
#pragma unroll
    for (int e = 0; e < EPL; ++e) acc[g][e] = 0.f;
  }
  while (j0 < end) {
    if (pos >= j0 && pos < j0 + TKPW) {
#pragma unroll
      for (int u = 0; u < TKPW; ++u)
        if (j0 + u == pos)
#pragma unroll
          for (int e = 0; e < EPL; ++e) {
            kf[u][e] = lane * EPL + e < D ? hk[e] : 0.f;
            vf[u][e] = lane * EPL + e < D ? hv[e] : 0.f;
          }
    }
    attend_keys<TKPW>(hq, kf, vf, end - j0, m, l, acc);
    j0 += NW * TKPW;
    if (j0 < end) load_keys<TKPW>(a.kc, a.vc, table, a.block_size, KVH, kvh, j0, min(end, pos), lane, kf, vf);
  }
  combine_warps<NW>(m, l, acc, tail_sm, tail_sm + NW * G * D, tail_sm + NW * G * D + NW * G, 0, kvh, H, s, S,
                    a.partial, a.out);
  if (S == 1) {
    if (threadIdx.x == 0) *done = 0u;  // every block of the group has counted: re-arm for the next launch
    return;
  }
  __threadfence();
  __syncthreads();
  if (threadIdx.x == 0) is_last = atomicAdd(finished, 1u) == (unsigned int)(S - 1);
  __syncthreads();
  if (!is_last) return;
  __threadfence();
  for (int i = threadIdx.x; i < G * D; i += blockDim.x) {
    const int g = i / D, d = i % D, h = kvh * G + g;
    a.out[(long long)h * D + d] = combine_splits(a.partial + (long long)h * S * (D + 2), d, S);
  }
  if (threadIdx.x == 0) { *done = 0u; *finished = 0u; }
}
)";

// The host mirror of the device struct QkvAttentionTail (same order, pointers as 8-byte device addresses).
struct TailParam {
  CUdeviceptr positions, slots, token_seq, block_tables, inv_freq, bias, kc, vc, partial, out, counters;
  int32_t table_stride, block_size, kv_heads, window, rot, splits;
  float attn_scale, scale;
};
static_assert(sizeof(TailParam) == 11 * 8 + 8 * 4, "TailParam mirrors the device struct");

// The GEMV tail for G query heads per KV head, head_dim D and the cache type, under GEMV schedule p.
GemvTail make_tail(int64_t g, int64_t d, bool kv_f32, const GemvParams& p) {
  GemvTail tail;
  tail.key = "qkvattn_g" + std::to_string(g) + "_d" + std::to_string(d) + (kv_f32 ? "_kvf32" : "_kvbf16");
  tail.source = attention_helpers_source(g, d, kv_f32) + kTail;
  tail.param = "QkvAttentionTail tail";
  tail.row_map = "qkv_tail_row(i, n)";
  tail.call = "qkv_attention_tail<WARPS>(tail, y, n, GROUPS * RPW);";
  tail.block_group = "qkv_tail_block_group(blockIdx.x, GROUPS * RPW, tail.splits)";
  tail.row_align = d;
  // Half the schedule's resident warps: 64 registers a thread, room for the attention's without spilling
  // much, while the GEMV keeps enough loads in flight.
  tail.min_blocks_per_sm = std::max(1, 1024 / (p.warps * 32));
  return tail;
}

}  // namespace

std::string qkv_attention_source(int64_t g, int64_t d, bool kv_f32, const GemvParams& p, const GemvFusion& f) {
  const GemvTail tail = make_tail(g, d, kv_f32, p);
  GemvFusion ft = f;
  ft.tail = &tail;
  return gemv_bf16_source(1, p, ft);
}

bool qkv_attention_supported(const QkvAttentionArgs& a) {
  const RopeKvArgs& r = a.rope;
  const PagedAttentionArgs& at = a.attn;
  if (at.tokens != 1 || r.tokens != 1 || at.heads <= 0 || at.kv_heads <= 0 || at.heads % at.kv_heads != 0) return false;
  if (r.q_norm || r.k_norm || r.rotary_dim > at.head_dim || r.rotary_dim % 2 != 0) return false;
  const int64_t g = at.heads / at.kv_heads, d = at.head_dim, epl = (d + 31) / 32;
  if (g * d > kMaxAttentionGroupDim || (r.rotary_dim / 2) % epl != 0) return false;
  if (at.splits < 1 || at.splits > 16 || !at.partial || !a.counters) return false;
  if (a.gemv.persistent || a.fusion.output != GemvOutput::Plain || a.fusion.tail) return false;
  if (!gemv_params_valid(a.gemv, 1) || d % a.gemv.rows_per_block() != 0) return false;
  // The split blocks of one group must be able to exist: the group has at least `splits` blocks.
  return (g + 2) * d / a.gemv.rows_per_block() >= at.splits;
}

void qkv_attention(const QkvAttentionArgs& a, CUstream stream) {
  if (!qkv_attention_supported(a))
    fail("qkv_attention: unsupported shapes or schedule (tokens ", a.attn.tokens, ", heads ", a.attn.heads, "/",
         a.attn.kv_heads, ", head_dim ", a.attn.head_dim, ", splits ", a.attn.splits, ", GEMV ", a.gemv.str(), ")");
  const RopeKvArgs& r = a.rope;
  const PagedAttentionArgs& at = a.attn;
  if (r.qkv != at.q || r.k_cache != at.k_cache || r.v_cache != at.v_cache || r.kv_f32 != at.kv_f32)
    fail("qkv_attention: RoPE and attention must name the same projection rows and KV cache");
  const int64_t g = at.heads / at.kv_heads, d = at.head_dim, n = (at.heads + 2 * at.kv_heads) * d;
  if (r.stride != n) fail("qkv_attention: the projection row stride ", r.stride, " must be its width ", n);
  TailParam tp{r.positions, r.slots,  at.token_seq, at.block_tables, r.inv_freq, r.bias, r.k_cache, r.v_cache,
               at.partial,  at.out,   a.counters,   static_cast<int32_t>(at.table_stride),
               static_cast<int32_t>(at.block_size), static_cast<int32_t>(at.kv_heads),
               static_cast<int32_t>(at.window),     static_cast<int32_t>(r.rotary_dim),
               static_cast<int32_t>(at.splits),     r.attention_scaling, at.scale};
  GemvTail tail = make_tail(g, d, at.kv_f32, a.gemv);
  tail.arg = &tp;
  tail.extra_blocks = at.kv_heads * at.splits;
  GemvFusion f = a.fusion;
  f.tail = &tail;
  gemv_bf16(a.x, a.w, r.qkv, 1, n, a.k, false, a.gemv, stream, f);
}

}  // namespace synaptix::kernels::cuda
