// The fp8-e4m3 KV cache on the device against the CPU's definition of the format (kernels/attention/
// kv_format.h): the device codec (kv_fp8.cuh) bit for bit over every code and values at and around every
// rounding boundary; the RoPE + KV write storing codes; the paged attention (splits, lane per key), the fused
// RoPE + decode attention and the flash prefill reading them, each against the CPU reference over the same
// codes, outputs poisoned (NaN bytes) before every launch. Needs a GPU.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>

#include "support/cuda_device.h"
#include "synaptix/backend/cuda/device_buffer.h"
#include "synaptix/backend/cuda/launch/flash_attention.h"
#include "synaptix/backend/cuda/launch/paged_attention.h"
#include "synaptix/backend/cuda/launch/rope_kv.h"
#include "synaptix/backend/cuda/module.h"
#include "synaptix/kernels/attention/kv_format.h"
#include "synaptix/kernels/attention/reference.h"
#include "synaptix/kernels/common/cuda/device_prelude.h"
#include "synaptix/kernels/cuda_sources.h"
#include "synaptix/kernels/rope/reference.h"

namespace bc = synaptix::backend::cuda;
namespace kc = synaptix::kernels::cuda;
namespace kr = synaptix::kernels;
using kr::KvFormat;
using synaptix::testing::device_sync;
using synaptix::testing::rel_err;
using synaptix::testing::poisoned;
using synaptix::testing::upload;

namespace {

void ctx() { synaptix::testing::cuda_context(); }
std::mt19937& rng() { return synaptix::testing::test_rng(); }

std::vector<float> random_f32(size_t n, float scale = 1.0f) {
  std::uniform_real_distribution<float> u(-scale, scale);
  std::vector<float> v(n);
  for (float& x : v) x = u(rng());
  return v;
}

std::vector<uint8_t> encode_fp8(const std::vector<float>& x) {
  std::vector<uint8_t> c(x.size());
  kr::kv_encode_head(KvFormat::Fp8E4M3, x.data(), static_cast<int64_t>(x.size()), c.data(), nullptr);
  return c;
}

// A random fp8 paged cache: K/V codes and shuffled block tables.
struct Fp8Cache {
  std::vector<uint8_t> k, v;
  std::vector<int32_t> tables;
  Fp8Cache(int64_t num_blocks, int64_t bs, int64_t kvh, int64_t d, int64_t tables_len) {
    // N(0, 1.5^2)-ish magnitudes: normal and subnormal codes both occur.
    k = encode_fp8(random_f32(static_cast<size_t>(num_blocks * bs * kvh * d), 3.0f));
    v = encode_fp8(random_f32(k.size(), 3.0f));
    std::vector<int32_t> all(static_cast<size_t>(num_blocks));
    for (int64_t i = 0; i < num_blocks; ++i) all[static_cast<size_t>(i)] = static_cast<int32_t>(i);
    std::shuffle(all.begin(), all.end(), rng());
    tables.assign(all.begin(), all.begin() + tables_len);
  }
};

constexpr const char* kCodecKernels = R"(
extern "C" __global__ void fp8_encode(const float* x, unsigned char* c, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) c[i] = kv_f32_to_fp8(x[i]);
}
extern "C" __global__ void fp8_decode(const unsigned char* c, float* x, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) x[i] = kv_fp8_to_f32(c[i]);
}
)";

std::string codec_source() {
  return std::string(kc::kDevicePrelude) + std::string(kr::cuda_source("kernels/attention/cuda/kv_fp8.cuh")) + kCodecKernels;
}

}  // namespace

// Every code decodes to the CPU's value; every value at, just below and just above each midpoint between
// adjacent codes (the rounding ties), the saturation edge, subnormals, zeros and random magnitudes encode to
// the CPU's code.
TEST(KvFp8Device, CodecIsTheCpusBitForBit) {
  ctx();
  std::vector<uint8_t> all(256);
  for (int i = 0; i < 256; ++i) all[static_cast<size_t>(i)] = static_cast<uint8_t>(i);
  auto dc = upload(all);
  auto dx = poisoned(256 * 4);
  int n = 256;
  CUdeviceptr cp = dc.ptr(), xp = dx.ptr();
  void* dargs[] = {&cp, &xp, &n};
  bc::launch(bc::cached_kernel("kv_fp8_codec_test", codec_source, "fp8_decode"), {1}, {256}, 0, nullptr, dargs, "fp8_decode");
  device_sync();
  const auto dec = dx.to_host<float>(256);
  for (int i = 0; i < 256; ++i) {
    const float want = kr::kv_decode(KvFormat::Fp8E4M3, all.data(), i, 1.0f);
    if (std::isnan(want)) EXPECT_TRUE(std::isnan(dec[static_cast<size_t>(i)])) << "code " << i;
    else EXPECT_EQ(std::memcmp(&want, &dec[static_cast<size_t>(i)], 4), 0) << "code " << i << ": " << dec[static_cast<size_t>(i)] << " vs " << want;
  }
  std::vector<float> xs = {0.0f, -0.0f, 448.0f, -448.0f, 449.0f, 1e30f, -1e30f, INFINITY, -INFINITY, NAN, 1e-30f, 1e-45f};
  for (int c = 0; c < 0x7e; ++c) {  // positive finite codes: each midpoint to the next, and either side of it
    const float lo = kr::kv_decode(KvFormat::Fp8E4M3, &all[static_cast<size_t>(c)], 0, 1.0f);
    const float hi = kr::kv_decode(KvFormat::Fp8E4M3, &all[static_cast<size_t>(c + 1)], 0, 1.0f);
    const float mid = 0.5f * (lo + hi);
    for (float x : {lo, mid, std::nextafter(mid, 0.0f), std::nextafter(mid, 1e9f)}) xs.push_back(x), xs.push_back(-x);
  }
  for (float x : random_f32(4096, 500.0f)) xs.push_back(x), xs.push_back(x * 1e-3f);
  n = static_cast<int>(xs.size());
  auto dxs = upload(xs);
  auto dcs = poisoned(xs.size());
  CUdeviceptr xsp = dxs.ptr(), csp = dcs.ptr();
  void* eargs[] = {&xsp, &csp, &n};
  bc::launch(bc::cached_kernel("kv_fp8_codec_test", codec_source, "fp8_encode"), {static_cast<unsigned>((n + 255) / 256)}, {256},
             0, nullptr, eargs, "fp8_encode");
  device_sync();
  const auto got = dcs.to_host<uint8_t>(xs.size());
  const auto want = encode_fp8(xs);
  for (size_t i = 0; i < xs.size(); ++i) EXPECT_EQ(int{got[i]}, int{want[i]}) << "x = " << xs[i];
}

// rope_kv_write with kv_fp8 stores the codes of the rotated k and v rows: decoded, each within half an E4M3
// step of the CPU's rotated value (the rotation's own f32 rounding may move a value across a tie).
TEST(KvFp8Device, RopeKvWriteStoresCodes) {
  ctx();
  synaptix::model::Spec s;
  s.head_dim = 128;
  s.rope_theta = 10000.0;
  s.num_heads = 8;
  s.num_kv_heads = 2;
  s.hidden_size = 1024;
  s.max_position_embeddings = 4096;
  kr::RopeTable rt = kr::make_rope_table(s);
  const int64_t T = 3, H = 8, KVH = 2, D = 128, stride = (H + 2 * KVH) * D, slots_total = 40;
  auto qkv = random_f32(static_cast<size_t>(T * stride), 4.0f);
  std::vector<int32_t> pos = {0, 900, 77}, slots = {5, 39, 12};
  auto dq = upload(qkv), dp = upload(pos), ds = upload(slots), df = upload(rt.inv_freq);
  auto kc_ = poisoned(static_cast<size_t>(slots_total * KVH * D)), vc_ = poisoned(static_cast<size_t>(slots_total * KVH * D));
  kc::RopeKvArgs a;
  a.qkv = dq.ptr(); a.stride = stride; a.positions = dp.ptr(); a.slots = ds.ptr(); a.inv_freq = df.ptr();
  a.rotary_dim = rt.rotary_dim; a.attention_scaling = rt.attention_scaling; a.k_cache = kc_.ptr(); a.v_cache = vc_.ptr();
  a.kv_fp8 = true; a.tokens = T; a.heads = H; a.kv_heads = KVH; a.head_dim = D;
  kc::rope_kv_write(a, nullptr);
  device_sync();
  const auto got_k = kc_.to_host<uint8_t>(static_cast<size_t>(slots_total * KVH * D));
  const auto got_v = vc_.to_host<uint8_t>(static_cast<size_t>(slots_total * KVH * D));
  for (int64_t t = 0; t < T; ++t) {
    std::vector<float> v(qkv.begin() + t * stride, qkv.begin() + (t + 1) * stride);
    kr::rope_reference(v.data() + H * D, KVH, D, pos[static_cast<size_t>(t)], rt);
    const int64_t base = slots[static_cast<size_t>(t)] * KVH * D;
    for (int64_t i = 0; i < KVH * D; ++i) {
      const float kw = v[static_cast<size_t>(H * D + i)], vw = v[static_cast<size_t>((H + KVH) * D + i)];
      const float kg = kr::kv_decode(KvFormat::Fp8E4M3, got_k.data(), base + i, 1.0f);
      const float vg = kr::kv_decode(KvFormat::Fp8E4M3, got_v.data(), base + i, 1.0f);
      // Half a step (|x| / 16 in a binade, 2^-10 among subnormals) plus the rotation's f32 differences.
      EXPECT_LE(std::fabs(kg - kw), std::fabs(kw) * (1.0f / 16 + 1e-5f) + 0x1p-10f + 1e-6f) << "token " << t << " k " << i;
      EXPECT_EQ(vg, kr::kv_decode(KvFormat::Fp8E4M3, encode_fp8({vw}).data(), 0, 1.0f)) << "token " << t << " v " << i;
    }
  }
}

// The paged attention over fp8 codes equals the CPU reference over the same codes: GQA shapes, a head dim
// that is not a multiple of 32, windows, splits, lane per key; decode tokens and a prefill chunk.
TEST(KvFp8Device, PagedAttentionMatchesTheReference) {
  ctx();
  for (auto [H, KVH, D] : {std::tuple<int64_t, int64_t, int64_t>{4, 2, 16}, {32, 8, 128}, {9, 3, 64}, {6, 2, 80}}) {
    const int64_t bs = 16, num_blocks = 80, seqs = 3, stride = 26;
    Fp8Cache cache(num_blocks, bs, KVH, D, seqs * stride);
    std::vector<int32_t> pos = {400, 3, 100, 101, 102, 103, 104}, tseq = {0, 1, 2, 2, 2, 2, 2};
    const int64_t T = static_cast<int64_t>(pos.size());
    auto q = random_f32(static_cast<size_t>(T * H * D));
    auto dk = upload(cache.k), dv = upload(cache.v), dq = upload(q), dp = upload(pos), dts = upload(tseq), dt = upload(cache.tables);
    for (int64_t window : {int64_t{0}, int64_t{37}}) {
      std::vector<float> ref(static_cast<size_t>(T * H * D));
      for (int64_t t = 0; t < T; ++t) {
        kr::PagedKv kv{cache.k.data(), cache.v.data(), bs, KVH, D, cache.tables.data() + tseq[static_cast<size_t>(t)] * stride,
                       KvFormat::Fp8E4M3};
        kr::attention_decode_reference(q.data() + t * H * D, H, kv, pos[static_cast<size_t>(t)], window,
                                       1.0f / std::sqrt(static_cast<float>(D)), ref.data() + t * H * D);
      }
      for (auto [splits, split_size, lane_per_key] :
           {std::tuple<int64_t, int64_t, bool>{1, 0, false}, {8, 64, false}, {4, 101, false}, {1, 0, true}}) {
        auto part = bc::DeviceBuffer(static_cast<size_t>(T * H * splits * (D + 2)) * 4);
        auto dout = poisoned(ref.size() * 4);
        kc::PagedAttentionArgs a;
        a.q = dq.ptr(); a.q_stride = H * D; a.positions = dp.ptr();
        a.k_cache = dk.ptr(); a.v_cache = dv.ptr(); a.kv_fp8 = true;
        a.token_seq = dts.ptr(); a.block_tables = dt.ptr(); a.table_stride = stride; a.block_size = bs; a.tokens = T;
        a.heads = H; a.kv_heads = KVH; a.head_dim = D; a.window = window; a.scale = 1.0f / std::sqrt(static_cast<float>(D));
        a.splits = splits; a.split_size = split_size; a.partial = part.ptr(); a.out = dout.ptr();
        a.lane_per_key = lane_per_key;
        kc::paged_attention(a, nullptr);
        device_sync();
        EXPECT_LT(rel_err(dout.to_host<float>(ref.size()), ref), 2e-5)
            << "H=" << H << " KVH=" << KVH << " D=" << D << " window=" << window << " splits=" << splits
            << " lane_per_key=" << lane_per_key;
      }
    }
  }
}

// The fused RoPE + KV write + decode attention over an fp8 cache against rope_kv_write then paged_attention
// (both checked above): the same outputs and the same cache bytes, with and without per-head norms, split
// counts with and without clusters, both head layouts.
TEST(KvFp8Device, FusedDecodeMatchesRopeThenPagedAttention) {
  ctx();
  for (auto [H, KVH, D] : {std::tuple<int64_t, int64_t, int64_t>{32, 8, 128}, {9, 3, 64}, {6, 2, 80}}) {
    synaptix::model::Spec s;
    s.head_dim = D;
    s.rope_theta = 10000.0;
    s.num_heads = H;
    s.num_kv_heads = KVH;
    s.hidden_size = H * D;
    s.max_position_embeddings = 4096;
    kr::RopeTable rt = kr::make_rope_table(s);
    const int64_t bs = 16, num_blocks = 80, stride_t = 26, qkv_n = (H + 2 * KVH) * D;
    Fp8Cache cache(num_blocks, bs, KVH, D, 3 * stride_t);
    std::vector<int32_t> pos = {400, 3, 100}, tseq = {0, 1, 2}, slots;
    const int64_t T = static_cast<int64_t>(pos.size());
    for (int64_t t = 0; t < T; ++t) {
      const int32_t p = pos[static_cast<size_t>(t)];
      slots.push_back(static_cast<int32_t>(cache.tables[static_cast<size_t>(t * stride_t + p / bs)] * bs + p % bs));
    }
    auto dp = upload(pos), dts = upload(tseq), dt = upload(cache.tables), dsl = upload(slots), df = upload(rt.inv_freq);
    for (bool with_norm : {false, true})
      for (auto [splits, split_size] : {std::pair<int64_t, int64_t>{1, 0}, {8, 64}, {4, 101}}) {
        auto qkv = random_f32(static_cast<size_t>(T * qkv_n), 3.0f);
        auto qn = random_f32(static_cast<size_t>(D)), kn = random_f32(static_cast<size_t>(D));
        auto dq_ref = upload(qkv), dq = upload(qkv), dqn = upload(qn), dkn = upload(kn);
        auto k_ref = upload(cache.k), v_ref = upload(cache.v), k_got = upload(cache.k), v_got = upload(cache.v);
        auto part_ref = bc::DeviceBuffer(static_cast<size_t>(T * H * splits * (D + 2)) * 4);
        auto part = bc::DeviceBuffer(static_cast<size_t>(T * H * splits * (D + 2)) * 4);
        auto counters = bc::DeviceBuffer(static_cast<size_t>(T * KVH) * 4);
        ASSERT_EQ(cuMemsetD32(counters.ptr(), 0, static_cast<size_t>(T * KVH)), CUDA_SUCCESS);
        auto out_ref = poisoned(static_cast<size_t>(T * H * D) * 4), out = poisoned(static_cast<size_t>(T * H * D) * 4);
        auto args = [&](CUdeviceptr q, CUdeviceptr kcache, CUdeviceptr vcache, CUdeviceptr partial, CUdeviceptr o) {
          kc::DecodeAttentionArgs a;
          a.rope.qkv = q; a.rope.stride = qkv_n;
          a.rope.q_norm = with_norm ? dqn.ptr() : 0; a.rope.k_norm = with_norm ? dkn.ptr() : 0; a.rope.eps = 1e-6f;
          a.rope.positions = dp.ptr(); a.rope.slots = dsl.ptr(); a.rope.inv_freq = df.ptr();
          a.rope.rotary_dim = rt.rotary_dim; a.rope.attention_scaling = rt.attention_scaling;
          a.rope.k_cache = kcache; a.rope.v_cache = vcache; a.rope.kv_fp8 = true;
          a.rope.tokens = T; a.rope.heads = H; a.rope.kv_heads = KVH; a.rope.head_dim = D;
          a.attn.q = q; a.attn.q_stride = qkv_n; a.attn.k_cache = kcache; a.attn.v_cache = vcache; a.attn.kv_fp8 = true;
          a.attn.positions = dp.ptr(); a.attn.token_seq = dts.ptr(); a.attn.block_tables = dt.ptr();
          a.attn.table_stride = stride_t; a.attn.block_size = bs; a.attn.tokens = T; a.attn.heads = H;
          a.attn.kv_heads = KVH; a.attn.head_dim = D; a.attn.scale = 1.0f / std::sqrt(static_cast<float>(D));
          a.attn.splits = splits; a.attn.split_size = split_size; a.attn.partial = partial; a.attn.out = o;
          a.counters = counters.ptr();
          return a;
        };
        const kc::DecodeAttentionArgs ref = args(dq_ref.ptr(), k_ref.ptr(), v_ref.ptr(), part_ref.ptr(), out_ref.ptr());
        kc::rope_kv_write(ref.rope, nullptr);
        kc::paged_attention(ref.attn, nullptr);
        const auto want = out_ref.to_host<float>(static_cast<size_t>(T * H * D));
        const std::string what = "H=" + std::to_string(H) + " D=" + std::to_string(D) + " norm=" + std::to_string(with_norm) +
                                 " splits=" + std::to_string(splits);
        for (bool cluster : {false, true}) {
          if (cluster && !kc::decode_cluster_supported(splits)) continue;
          for (int launch = 0; launch < 2; ++launch) {
            kc::DecodeAttentionArgs a = args(dq.ptr(), k_got.ptr(), v_got.ptr(), part.ptr(), out.ptr());
            a.warps = 8;
            a.keys_per_warp = 4;
            a.cluster = cluster;
            a.reg_heads = launch == 0;
            if (cluster) { a.counters = 0; a.attn.partial = 0; }
            out.fill_bytes(0xFF);
            kc::decode_attention_rope(a, nullptr);
            device_sync();
            EXPECT_LT(rel_err(out.to_host<float>(want.size()), want), 1e-5) << what << " cluster " << cluster << " launch " << launch;
          }
        }
        EXPECT_EQ(k_got.to_host<uint8_t>(cache.k.size()), k_ref.to_host<uint8_t>(cache.k.size())) << what;
        EXPECT_EQ(v_got.to_host<uint8_t>(cache.v.size()), v_ref.to_host<uint8_t>(cache.v.size())) << what;
      }
  }
}

// The tensor-core prefill over fp8 codes (widened to bf16 as tiles load) against the CPU reference over the
// same codes: Q and P enter the tensor cores as bf16, so a bf16-sized tolerance.
TEST(KvFp8Device, FlashAttentionMatchesTheReference) {
  ctx();
  for (auto [H, KVH, D] : {std::tuple<int64_t, int64_t, int64_t>{8, 2, 64}, {32, 8, 128}, {4, 1, 16}}) {
    const int64_t bs = 16, num_blocks = 40, stride = 20;
    Fp8Cache cache(num_blocks, bs, KVH, D, 2 * stride);
    std::vector<int32_t> pos, tseq, tiles;
    auto add_chunk = [&](int32_t seq, int32_t start, int32_t n) {
      const int32_t t0 = static_cast<int32_t>(pos.size());
      for (int32_t i = 0; i < n; ++i) pos.push_back(start + i), tseq.push_back(seq);
      for (int32_t i = 0; i < n; i += 64) tiles.insert(tiles.end(), {t0 + i, std::min(64, n - i), seq});
    };
    add_chunk(0, 37, 150);
    add_chunk(1, 0, 70);
    const int64_t T = static_cast<int64_t>(pos.size());
    auto q = random_f32(static_cast<size_t>(T * H * D));
    auto dk = upload(cache.k), dv = upload(cache.v), dq = upload(q), dp = upload(pos), dt = upload(cache.tables),
         dtl = upload(tiles);
    for (int64_t window : {int64_t{0}, int64_t{50}}) {
      std::vector<float> ref(static_cast<size_t>(T * H * D));
      for (int64_t t = 0; t < T; ++t) {
        kr::PagedKv kv{cache.k.data(), cache.v.data(), bs, KVH, D, cache.tables.data() + tseq[static_cast<size_t>(t)] * stride,
                       KvFormat::Fp8E4M3};
        kr::attention_decode_reference(q.data() + t * H * D, H, kv, pos[static_cast<size_t>(t)], window,
                                       1.0f / std::sqrt(static_cast<float>(D)), ref.data() + t * H * D);
      }
      auto dout = poisoned(ref.size() * 4);
      kc::FlashAttentionArgs a;
      a.q = dq.ptr(); a.q_stride = H * D; a.k_cache = dk.ptr(); a.v_cache = dv.ptr(); a.kv_fp8 = true;
      a.tiles = dtl.ptr(); a.num_tiles = static_cast<int64_t>(tiles.size() / 3); a.positions = dp.ptr();
      a.block_tables = dt.ptr(); a.table_stride = stride; a.block_size = bs;
      a.heads = H; a.kv_heads = KVH; a.head_dim = D; a.window = window; a.scale = 1.0f / std::sqrt(static_cast<float>(D));
      a.out = dout.ptr();
      kc::flash_attention(a, nullptr);
      device_sync();
      EXPECT_LT(rel_err(dout.to_host<float>(ref.size()), ref), 2e-2) << "H=" << H << " KVH=" << KVH << " D=" << D << " window=" << window;
    }
  }
}
