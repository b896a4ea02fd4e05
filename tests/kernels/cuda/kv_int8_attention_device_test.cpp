// The int8 KV cache on the device against the CPU's definition of the format (kernels/attention/kv_format.h):
// the device quantizer (kv_int8.cuh) bit for bit over random rows, rows with rounding ties, zero rows and
// tiny rows; the RoPE + KV write storing codes and scales in the device layout (kv_int8_layout.h); the paged
// attention (splits, lane per key), the fused RoPE + decode attention and the flash prefill reading them, each
// against the CPU reference over the same codes and scales, outputs poisoned (NaN bytes) before every launch.
// Needs a GPU.
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
#include "synaptix/kernels/attention/cuda/kv_int8_layout.h"
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
using synaptix::testing::poisoned;
using synaptix::testing::rel_err;
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

// A random int8 paged cache: the CPU's codes [slots][KVH][D] and scales [slots][KVH] (what the reference
// reads), the same packed into the device layout, and shuffled block tables.
struct Int8Cache {
  int64_t bs, kvh, d;
  std::vector<int8_t> k, v;
  std::vector<float> ks, vs;
  std::vector<uint8_t> dk, dv;  // device layout
  std::vector<int32_t> tables;
  Int8Cache(int64_t num_blocks, int64_t bs_, int64_t kvh_, int64_t d_, int64_t tables_len) : bs(bs_), kvh(kvh_), d(d_) {
    const int64_t rows = num_blocks * bs * kvh;
    k.resize(static_cast<size_t>(rows * d));
    v.resize(k.size());
    ks.resize(static_cast<size_t>(rows));
    vs.resize(ks.size());
    for (int64_t r = 0; r < rows; ++r) {
      // Row magnitudes spread over two decades up to ~3 (the fp8 test's range), so the scales differ row to
      // row while the scores stay small enough for the tolerances' f32 (and bf16) summation orders.
      const float mag = std::pow(10.0f, std::uniform_real_distribution<float>(-1.5f, 0.5f)(rng()));
      const auto kx = random_f32(static_cast<size_t>(d), mag), vx = random_f32(static_cast<size_t>(d), mag);
      kr::kv_encode_head(KvFormat::Int8, kx.data(), d, k.data() + r * d, &ks[static_cast<size_t>(r)]);
      kr::kv_encode_head(KvFormat::Int8, vx.data(), d, v.data() + r * d, &vs[static_cast<size_t>(r)]);
    }
    dk = pack(k, ks, num_blocks);
    dv = pack(v, vs, num_blocks);
    std::vector<int32_t> all(static_cast<size_t>(num_blocks));
    for (int64_t i = 0; i < num_blocks; ++i) all[static_cast<size_t>(i)] = static_cast<int32_t>(i);
    std::shuffle(all.begin(), all.end(), rng());
    tables.assign(all.begin(), all.begin() + tables_len);
  }
  std::vector<uint8_t> pack(const std::vector<int8_t>& codes, const std::vector<float>& scales, int64_t num_blocks) const {
    std::vector<uint8_t> out(static_cast<size_t>(num_blocks * kc::kv_int8_block_bytes(bs, kvh, d)));
    for (int64_t slot = 0; slot < num_blocks * bs; ++slot)
      for (int64_t h = 0; h < kvh; ++h) {
        std::memcpy(out.data() + kc::kv_int8_row_offset(slot, bs, kvh, h, d), codes.data() + (slot * kvh + h) * d, static_cast<size_t>(d));
        std::memcpy(out.data() + kc::kv_int8_scale_offset(slot, bs, kvh, h, d), &scales[static_cast<size_t>(slot * kvh + h)], 4);
      }
    return out;
  }
  kr::PagedKv paged(const int32_t* table) const {
    return kr::PagedKv{k.data(), v.data(), bs, kvh, d, table, KvFormat::Int8, ks.data(), vs.data()};
  }
};

// One warp per row of n values: the scale and codes as rope_kv_write computes them (warp_max of |x|).
constexpr const char* kCodecKernels = R"(
extern "C" __global__ void int8_encode(const float* x, signed char* c, float* s, int n) {
  const float* row = x + (long long)blockIdx.x * n;
  float a = 0.f;
  for (int i = threadIdx.x; i < n; i += 32) a = fmaxf(a, fabsf(row[i]));
  const float sc = kv_int8_scale(warp_max(a));
  for (int i = threadIdx.x; i < n; i += 32) c[(long long)blockIdx.x * n + i] = (signed char)kv_int8_code(row[i], sc);
  if (threadIdx.x == 0) s[blockIdx.x] = sc;
}
extern "C" __global__ void int8_decode(const unsigned int* w, float s, float* x, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) x[i] = kv_int8_lane(w[i / 4], i % 4) * s;
}
)";

std::string codec_source() {
  return std::string(kc::kDevicePrelude) + std::string(kr::cuda_source("kernels/attention/cuda/kv_int8.cuh")) + kCodecKernels;
}

}  // namespace

// Rows of random magnitudes, rows whose values sit exactly on rounding ties (amax 127: scale 1, so x.5
// values are ties; and scaled copies), a zero row and rows of subnormal-sized values: codes and scales equal
// the CPU's bit for bit. Every code times a scale decodes to the CPU's value.
TEST(KvInt8Device, QuantizerIsTheCpusBitForBit) {
  ctx();
  const int n = 128;
  std::vector<std::vector<float>> rows;
  for (int r = 0; r < 64; ++r) rows.push_back(random_f32(n, std::pow(10.0f, static_cast<float>(r % 9) - 4.0f)));
  std::vector<float> ties(n);
  for (int i = 0; i < n; ++i) ties[static_cast<size_t>(i)] = static_cast<float>(i % 64) - 63.5f + (i % 3 == 0 ? 1.0f : 0.0f);
  ties[0] = 127.0f;
  rows.push_back(ties);
  for (float m : {0.5f, 3.0f, 1e-3f}) {
    std::vector<float> t = ties;
    for (float& x : t) x *= m;
    rows.push_back(t);
  }
  rows.push_back(std::vector<float>(n, 0.0f));
  rows.push_back(random_f32(n, 1e-40f));
  std::vector<float> flat;
  for (const auto& r : rows) flat.insert(flat.end(), r.begin(), r.end());
  const int R = static_cast<int>(rows.size());
  auto dx = upload(flat);
  auto dc = poisoned(flat.size()), ds = poisoned(static_cast<size_t>(R) * 4);
  CUdeviceptr xp = dx.ptr(), cp = dc.ptr(), sp = ds.ptr();
  int nn = n;
  void* eargs[] = {&xp, &cp, &sp, &nn};
  bc::launch(bc::cached_kernel("kv_int8_codec_test", codec_source, "int8_encode"), {static_cast<unsigned>(R)}, {32}, 0, nullptr,
             eargs, "int8_encode");
  device_sync();
  const auto codes = dc.to_host<int8_t>(flat.size());
  const auto scales = ds.to_host<float>(static_cast<size_t>(R));
  for (int r = 0; r < R; ++r) {
    std::vector<int8_t> want(n);
    float want_s = -1;
    kr::kv_encode_head(KvFormat::Int8, rows[static_cast<size_t>(r)].data(), n, want.data(), &want_s);
    EXPECT_EQ(std::memcmp(&want_s, &scales[static_cast<size_t>(r)], 4), 0) << "row " << r << ": " << scales[static_cast<size_t>(r)] << " vs " << want_s;
    for (int i = 0; i < n; ++i)
      EXPECT_EQ(int{codes[static_cast<size_t>(r * n + i)]}, int{want[static_cast<size_t>(i)]}) << "row " << r << " x = " << rows[static_cast<size_t>(r)][static_cast<size_t>(i)];
  }
  // Every code, decoded with a few scales.
  std::vector<int8_t> all(256);
  for (int i = 0; i < 256; ++i) all[static_cast<size_t>(i)] = static_cast<int8_t>(i - 128);
  auto dall = upload(all);
  for (float s : {1.0f, 0.0123f, 3.7e-5f}) {
    auto dout = poisoned(256 * 4);
    CUdeviceptr wp = dall.ptr(), op = dout.ptr();
    int n256 = 256;
    void* dargs[] = {&wp, &s, &op, &n256};
    bc::launch(bc::cached_kernel("kv_int8_codec_test", codec_source, "int8_decode"), {1}, {256}, 0, nullptr, dargs, "int8_decode");
    device_sync();
    const auto got = dout.to_host<float>(256);
    for (int i = 0; i < 256; ++i) {
      const float want = kr::kv_decode(KvFormat::Int8, all.data(), i, s);
      EXPECT_EQ(std::memcmp(&want, &got[static_cast<size_t>(i)], 4), 0) << "code " << i - 128 << " scale " << s;
    }
  }
}

// rope_kv_write with kv_int8 stores each row's codes and scale where kv_int8_layout.h says: the V rows (not
// rotated) bit for bit the CPU's quantization of the input; the K rows within half a step of the CPU's
// rotated values (the rotation's own f32 rounding may move a value across a tie or the maximum a little).
TEST(KvInt8Device, RopeKvWriteStoresCodesAndScales) {
  ctx();
  synaptix::model::Spec s;
  s.head_dim = 128;
  s.rope_theta = 10000.0;
  s.num_heads = 8;
  s.num_kv_heads = 2;
  s.hidden_size = 1024;
  s.max_position_embeddings = 4096;
  kr::RopeTable rt = kr::make_rope_table(s);
  const int64_t T = 3, H = 8, KVH = 2, D = 128, stride = (H + 2 * KVH) * D, bs = 8, blocks = 5;
  const size_t bytes = static_cast<size_t>(blocks * kc::kv_int8_block_bytes(bs, KVH, D));
  auto qkv = random_f32(static_cast<size_t>(T * stride), 4.0f);
  std::vector<int32_t> pos = {0, 900, 77}, slots = {5, 39, 12};
  auto dq = upload(qkv), dp = upload(pos), ds = upload(slots), df = upload(rt.inv_freq);
  auto kc_ = poisoned(bytes), vc_ = poisoned(bytes);
  kc::RopeKvArgs a;
  a.qkv = dq.ptr(); a.stride = stride; a.positions = dp.ptr(); a.slots = ds.ptr(); a.inv_freq = df.ptr();
  a.rotary_dim = rt.rotary_dim; a.attention_scaling = rt.attention_scaling; a.k_cache = kc_.ptr(); a.v_cache = vc_.ptr();
  a.kv_int8 = true; a.block_size = bs; a.tokens = T; a.heads = H; a.kv_heads = KVH; a.head_dim = D;
  kc::rope_kv_write(a, nullptr);
  device_sync();
  const auto got_k = kc_.to_host<uint8_t>(bytes), got_v = vc_.to_host<uint8_t>(bytes);
  for (int64_t t = 0; t < T; ++t) {
    std::vector<float> v(qkv.begin() + t * stride, qkv.begin() + (t + 1) * stride);
    kr::rope_reference(v.data() + H * D, KVH, D, pos[static_cast<size_t>(t)], rt);
    const int64_t slot = slots[static_cast<size_t>(t)];
    for (int64_t h = 0; h < KVH; ++h) {
      const int64_t row = kc::kv_int8_row_offset(slot, bs, KVH, h, D), sat = kc::kv_int8_scale_offset(slot, bs, KVH, h, D);
      float sk = 0, sv = 0, want_sk = 0, want_sv = 0;
      std::memcpy(&sk, got_k.data() + sat, 4);
      std::memcpy(&sv, got_v.data() + sat, 4);
      std::vector<int8_t> want_k(D), want_v(D);
      kr::kv_encode_head(KvFormat::Int8, v.data() + (H + h) * D, D, want_k.data(), &want_sk);
      kr::kv_encode_head(KvFormat::Int8, v.data() + (H + KVH + h) * D, D, want_v.data(), &want_sv);
      EXPECT_EQ(sv, want_sv) << "token " << t << " head " << h;
      EXPECT_NEAR(sk, want_sk, want_sk * 1e-5f) << "token " << t << " head " << h;
      for (int64_t i = 0; i < D; ++i) {
        EXPECT_EQ(static_cast<int8_t>(got_v[static_cast<size_t>(row + i)]), want_v[static_cast<size_t>(i)]) << "token " << t << " v " << i;
        const float kg = static_cast<float>(static_cast<int8_t>(got_k[static_cast<size_t>(row + i)])) * sk;
        const float kw = v[static_cast<size_t>((H + h) * D + i)];
        EXPECT_LE(std::fabs(kg - kw), 0.5f * want_sk * (1 + 1e-4f) + 1e-5f) << "token " << t << " k " << i;
      }
    }
  }
}

// The paged attention over int8 codes and scales equals the CPU reference over the same codes: GQA shapes,
// a head dim that is not a multiple of 32, windows, splits, lane per key; decode tokens and a prefill chunk.
TEST(KvInt8Device, PagedAttentionMatchesTheReference) {
  ctx();
  for (auto [H, KVH, D] : {std::tuple<int64_t, int64_t, int64_t>{4, 2, 16}, {32, 8, 128}, {9, 3, 64}, {6, 2, 80}}) {
    const int64_t bs = 16, num_blocks = 80, seqs = 3, stride = 26;
    Int8Cache cache(num_blocks, bs, KVH, D, seqs * stride);
    std::vector<int32_t> pos = {400, 3, 100, 101, 102, 103, 104}, tseq = {0, 1, 2, 2, 2, 2, 2};
    const int64_t T = static_cast<int64_t>(pos.size());
    auto q = random_f32(static_cast<size_t>(T * H * D));
    auto dk = upload(cache.dk), dv = upload(cache.dv), dq = upload(q), dp = upload(pos), dts = upload(tseq), dt = upload(cache.tables);
    for (int64_t window : {int64_t{0}, int64_t{37}}) {
      std::vector<float> ref(static_cast<size_t>(T * H * D));
      for (int64_t t = 0; t < T; ++t)
        kr::attention_decode_reference(q.data() + t * H * D, H, cache.paged(cache.tables.data() + tseq[static_cast<size_t>(t)] * stride),
                                       pos[static_cast<size_t>(t)], window, 1.0f / std::sqrt(static_cast<float>(D)), ref.data() + t * H * D);
      for (auto [splits, split_size, lane_per_key] :
           {std::tuple<int64_t, int64_t, bool>{1, 0, false}, {8, 64, false}, {4, 101, false}, {1, 0, true}}) {
        auto part = bc::DeviceBuffer(static_cast<size_t>(T * H * splits * (D + 2)) * 4);
        auto dout = poisoned(ref.size() * 4);
        kc::PagedAttentionArgs a;
        a.q = dq.ptr(); a.q_stride = H * D; a.positions = dp.ptr();
        a.k_cache = dk.ptr(); a.v_cache = dv.ptr(); a.kv_int8 = true;
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

// The fused RoPE + KV write + decode attention over an int8 cache against rope_kv_write then paged_attention
// (both checked above): the same outputs and the same cache bytes (codes and scales), with and without
// per-head norms, split counts with and without clusters, both head layouts.
TEST(KvInt8Device, FusedDecodeMatchesRopeThenPagedAttention) {
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
    Int8Cache cache(num_blocks, bs, KVH, D, 3 * stride_t);
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
        auto k_ref = upload(cache.dk), v_ref = upload(cache.dv), k_got = upload(cache.dk), v_got = upload(cache.dv);
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
          a.rope.k_cache = kcache; a.rope.v_cache = vcache; a.rope.kv_int8 = true; a.rope.block_size = bs;
          a.rope.tokens = T; a.rope.heads = H; a.rope.kv_heads = KVH; a.rope.head_dim = D;
          a.attn.q = q; a.attn.q_stride = qkv_n; a.attn.k_cache = kcache; a.attn.v_cache = vcache; a.attn.kv_int8 = true;
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
        EXPECT_EQ(k_got.to_host<uint8_t>(cache.dk.size()), k_ref.to_host<uint8_t>(cache.dk.size())) << what;
        EXPECT_EQ(v_got.to_host<uint8_t>(cache.dv.size()), v_ref.to_host<uint8_t>(cache.dv.size())) << what;
      }
  }
}

// The tensor-core prefill over int8 codes (times their scales, rounded to bf16 as tiles load) against the CPU
// reference over the same codes: K, V, Q and P enter the tensor cores as bf16, so a bf16-sized tolerance.
TEST(KvInt8Device, FlashAttentionMatchesTheReference) {
  ctx();
  for (auto [H, KVH, D] : {std::tuple<int64_t, int64_t, int64_t>{8, 2, 64}, {32, 8, 128}, {4, 1, 16}}) {
    const int64_t bs = 16, num_blocks = 40, stride = 20;
    Int8Cache cache(num_blocks, bs, KVH, D, 2 * stride);
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
    auto dk = upload(cache.dk), dv = upload(cache.dv), dq = upload(q), dp = upload(pos), dt = upload(cache.tables),
         dtl = upload(tiles);
    for (int64_t window : {int64_t{0}, int64_t{50}}) {
      std::vector<float> ref(static_cast<size_t>(T * H * D));
      for (int64_t t = 0; t < T; ++t)
        kr::attention_decode_reference(q.data() + t * H * D, H, cache.paged(cache.tables.data() + tseq[static_cast<size_t>(t)] * stride),
                                       pos[static_cast<size_t>(t)], window, 1.0f / std::sqrt(static_cast<float>(D)), ref.data() + t * H * D);
      auto dout = poisoned(ref.size() * 4);
      kc::FlashAttentionArgs a;
      a.q = dq.ptr(); a.q_stride = H * D; a.k_cache = dk.ptr(); a.v_cache = dv.ptr(); a.kv_int8 = true;
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

// Launchers refuse what the layout cannot hold: a block size that is not a multiple of 4, two formats at once.
TEST(KvInt8Device, LaunchersRefuseBadInt8Arguments) {
  ctx();
  kc::PagedAttentionArgs a;
  a.tokens = 1; a.heads = 2; a.kv_heads = 1; a.head_dim = 64; a.block_size = 6; a.kv_int8 = true;
  EXPECT_THROW(kc::paged_attention(a, nullptr), synaptix::Error);
  a.block_size = 16;
  a.kv_fp8 = true;
  EXPECT_THROW(kc::paged_attention(a, nullptr), synaptix::Error);
  kc::RopeKvArgs r;
  r.tokens = 1; r.heads = 2; r.kv_heads = 1; r.head_dim = 64; r.kv_int8 = true; r.block_size = 0;
  EXPECT_THROW(kc::rope_kv_write(r, nullptr), synaptix::Error);
}
