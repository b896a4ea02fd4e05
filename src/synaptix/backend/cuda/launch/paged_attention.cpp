#include "synaptix/backend/cuda/launch/paged_attention.h"

#include <algorithm>
#include <sstream>
#include <string>

#include "synaptix/backend/cuda/module.h"
#include "synaptix/core/error.h"
#include "synaptix/hw/cuda/driver.h"
#include "synaptix/kernels/attention/cuda/kv_int8_layout.h"
#include "synaptix/kernels/rope/cuda/rope_kv_cuda.h"

namespace synaptix::kernels::cuda {
namespace bc = backend::cuda;
namespace {
// The cache format in a kernel's cache name.
const char* kv_suffix(const PagedAttentionArgs& a) {
  return a.kv_f32 ? "_kvf32" : a.kv_fp8 ? "_kvfp8" : a.kv_int8 ? "_kvint8" : "_kvbf16";
}
// One format at most; int8's layout needs block_size % 4 == 0 (kv_int8_layout.h).
void check_kv_format(const PagedAttentionArgs& a, const char* who) {
  if (int{a.kv_f32} + int{a.kv_fp8} + int{a.kv_int8} > 1)
    fail(who, ": the KV cache is one of f32, fp8 and int8 (kv_f32=", a.kv_f32, " kv_fp8=", a.kv_fp8, " kv_int8=", a.kv_int8, ")");
  if (a.kv_int8 && !kv_int8_block_size_ok(a.block_size))
    fail(who, ": an int8 KV cache needs a block size that is a multiple of 4, got ", a.block_size);
}
}  // namespace

void paged_attention(const PagedAttentionArgs& a, CUstream stream) {
  if (a.tokens <= 0 || a.heads <= 0 || a.kv_heads <= 0 || a.heads % a.kv_heads != 0 || a.head_dim <= 0)
    fail("paged_attention: bad shape tokens=", a.tokens, " heads=", a.heads, " kv_heads=", a.kv_heads, " head_dim=", a.head_dim);
  const int64_t g = a.heads / a.kv_heads;
  if (g * a.head_dim > kMaxAttentionGroupDim)
    fail("paged_attention: ", g, " query heads per KV head x head_dim ", a.head_dim, " exceeds ", kMaxAttentionGroupDim);
  if (a.splits < 1 || (a.splits > 1 && (a.split_size < 1 || !a.partial)))
    fail("paged_attention: splits=", a.splits, " needs split_size > 0 and a partial buffer");
  check_kv_format(a, "paged_attention");
  const std::string name = "paged_attention_g" + std::to_string(g) + "_d" + std::to_string(a.head_dim) + kv_suffix(a);
  auto make = [&] { return paged_attention_source(g, a.head_dim, a.kv_f32, 4, 4, 0, false, a.kv_fp8, a.kv_int8); };
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

void decode_attention_rope(const DecodeAttentionArgs& a, CUstream stream) {
  const RopeKvArgs& r = a.rope;
  const PagedAttentionArgs& at = a.attn;
  if (at.tokens <= 0 || at.heads <= 0 || at.kv_heads <= 0 || at.heads % at.kv_heads != 0 || at.head_dim <= 0 ||
      r.tokens != at.tokens || r.heads != at.heads || r.kv_heads != at.kv_heads || r.head_dim != at.head_dim)
    fail("decode_attention_rope: bad or mismatched shapes tokens=", at.tokens, "/", r.tokens, " heads=", at.heads, "/",
         r.heads, " kv_heads=", at.kv_heads, "/", r.kv_heads, " head_dim=", at.head_dim, "/", r.head_dim);
  if (r.rotary_dim > r.head_dim || r.rotary_dim % 2 != 0)
    fail("decode_attention_rope: rotary_dim ", r.rotary_dim, " must be even and <= head_dim ", r.head_dim);
  if (r.kv_f32 != at.kv_f32 || r.kv_fp8 != at.kv_fp8 || r.kv_int8 != at.kv_int8 || r.k_cache != at.k_cache ||
      r.v_cache != at.v_cache || (at.kv_int8 && r.block_size != at.block_size))
    fail("decode_attention_rope: RoPE and attention must name the same KV cache (format, buffers and, for int8, block size)");
  check_kv_format(at, "decode_attention_rope");
  const int64_t g = at.heads / at.kv_heads;
  if (g * at.head_dim > kMaxAttentionGroupDim)
    fail("decode_attention_rope: ", g, " query heads per KV head x head_dim ", at.head_dim, " exceeds ", kMaxAttentionGroupDim);
  const bool cluster = a.cluster && decode_cluster_supported(at.splits);
  if (at.splits < 1 || (at.splits > 1 && (at.split_size < 1 || (!cluster && (!at.partial || !a.counters)))))
    fail("decode_attention_rope: splits=", at.splits, " needs split_size > 0", cluster ? "" : ", a partial buffer and counters");
  int warps = a.warps;
  if (warps != 4 && warps != 8 && warps != 16) fail("decode_attention_rope: warps=", warps, " (4, 8 or 16)");
  if (a.keys_per_warp != 4 && a.keys_per_warp != 8) fail("decode_attention_rope: keys_per_warp=", a.keys_per_warp, " (4 or 8)");
  const int64_t d = at.head_dim;
  // The cluster variant's partial overlays the heads + freq region (see the kernel): sized for the larger.
  const int64_t heads_region = std::max((g + 2) * d + d / 2, cluster ? g * d + 2 * g : int64_t{0});
  // The cluster variant's inbox: each split's slice of the outputs and its maxima and sums (see the kernel).
  const int64_t cl_n = cluster ? at.splits : 0;
  const int64_t inbox = cl_n ? cl_n * ((g * d + cl_n - 1) / cl_n + 2 * g) : 0;
  auto smem_bytes = [&](int w) { return static_cast<unsigned>((heads_region + w * g * d + 2 * w * g + inbox) * sizeof(float)); };
  while (warps > 4 && smem_bytes(warps) > 48 * 1024) warps /= 2;  // wide heads: fewer warps, default shared memory
  if (smem_bytes(warps) > 48 * 1024)
    fail("decode_attention_rope: G=", g, " D=", d, " needs ", smem_bytes(warps), " bytes of shared memory at 4 warps (48 KB max)");
  // The token's heads in registers needs each lane's elements on one side of the rotation pairs, and
  // per-head norms (their sums taken in rope_kv_write's order) keep the shared-memory staging.
  const int64_t epl = (d + 31) / 32;
  const bool reg_heads = a.reg_heads && !r.q_norm && !r.k_norm && (r.rotary_dim / 2) % epl == 0;
  const std::string name = "paged_attention_g" + std::to_string(g) + "_d" + std::to_string(at.head_dim) +
                           kv_suffix(at) + "_dw" + std::to_string(warps) + "_dk" +
                           std::to_string(a.keys_per_warp) + (cluster ? "_cl" + std::to_string(at.splits) : "") +
                           (reg_heads ? "_rh" : "");
  const int cl = cluster ? static_cast<int>(at.splits) : 0;
  CUfunction f = bc::cached_kernel(
      name,
      [&] { return paged_attention_source(g, at.head_dim, at.kv_f32, warps, a.keys_per_warp, cl, reg_heads, at.kv_fp8, at.kv_int8); },
      "decode_attention_rope");
  // 16 blocks per cluster exceeds the portable 8; Hopper runs it once the function opts in.
  if (cl > 8)
    hw::cuda::check(cuFuncSetAttribute(f, CU_FUNC_ATTRIBUTE_NON_PORTABLE_CLUSTER_SIZE_ALLOWED, 1),
                    "cuFuncSetAttribute(decode_attention_rope non-portable cluster size)");
  long long qs = r.stride;
  float eps = r.eps, attn_scale = r.attention_scaling, scale = at.scale;
  int rot = static_cast<int>(r.rotary_dim), ts = static_cast<int>(at.table_stride), bs = static_cast<int>(at.block_size),
      kvh = static_cast<int>(at.kv_heads), win = static_cast<int>(at.window), ss = static_cast<int>(at.split_size);
  CUdeviceptr qkv = r.qkv, bias = r.bias, qn = r.q_norm, kn = r.k_norm, pos = r.positions, slots = r.slots,
              invf = r.inv_freq, kc = r.k_cache, vc = r.v_cache, seq = at.token_seq, bt = at.block_tables,
              part = at.partial, cnt = a.counters, out = at.out;
  void* args[] = {&qkv, &qs, &bias, &qn, &kn, &eps, &pos, &slots, &invf, &rot, &attn_scale, &kc, &vc,
                  &seq, &bt, &ts, &bs, &kvh, &win, &scale, &ss, &part, &cnt, &out};
  bc::launch(f, {static_cast<unsigned>(at.tokens), static_cast<unsigned>(at.kv_heads), static_cast<unsigned>(at.splits)},
             {static_cast<unsigned>(warps * 32)}, smem_bytes(warps), stream, args, "decode_attention_rope");
}

}  // namespace synaptix::kernels::cuda
