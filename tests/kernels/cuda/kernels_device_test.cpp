// Every CUDA kernel against the CPU reference of its op, on fresh random inputs, with the output poisoned
// (NaN bytes) before the run so an unwritten element fails. Needs a GPU (run by bench/gpu/run.sh).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>

#include "synaptix/backend/cuda/cublaslt_matmul.h"
#include "synaptix/backend/cuda/device_buffer.h"
#include "synaptix/backend/cuda/launch/argmax.h"
#include "synaptix/backend/cuda/launch/embedding.h"
#include "synaptix/backend/cuda/launch/flash_attention.h"
#include "synaptix/backend/cuda/launch/gemv_bf16.h"
#include "synaptix/backend/cuda/launch/moe_rows.h"
#include "synaptix/backend/cuda/launch/paged_attention.h"
#include "synaptix/backend/cuda/launch/rmsnorm.h"
#include "synaptix/backend/cuda/launch/rope_kv.h"
#include "synaptix/backend/cuda/launch/swiglu.h"
#include "synaptix/core/dtype.h"
#include "synaptix/core/error.h"
#include "synaptix/hw/cuda/driver.h"
#include "synaptix/kernels/attention/reference.h"
#include "synaptix/kernels/embedding/reference.h"
#include "synaptix/kernels/linear/reference.h"
#include "synaptix/kernels/rmsnorm/reference.h"
#include "synaptix/kernels/rope/reference.h"
#include "synaptix/kernels/swiglu/reference.h"
#include "support/cuda_device.h"

namespace bc = synaptix::backend::cuda;
namespace kc = synaptix::kernels::cuda;
namespace kr = synaptix::kernels;
using synaptix::bf16_to_f32;
using synaptix::f32_to_bf16;

namespace {

using synaptix::testing::device_sync;
using synaptix::testing::rel_err;
using synaptix::testing::poisoned;
using synaptix::testing::upload;
synaptix::hw::cuda::Context& ctx() { return synaptix::testing::cuda_context(); }
std::mt19937& rng() { return synaptix::testing::test_rng(); }

std::vector<float> random_f32(size_t n, float scale = 1.0f) {
  std::uniform_real_distribution<float> u(-scale, scale);
  std::vector<float> v(n);
  for (float& x : v) x = u(rng());
  return v;
}

std::vector<uint16_t> to_bf16(const std::vector<float>& f) {
  std::vector<uint16_t> b(f.size());
  for (size_t i = 0; i < f.size(); ++i) b[i] = f32_to_bf16(f[i]);
  return b;
}

// A random bf16 paged KV cache (and the same values as f32 for the reference) with block tables of
// `tables_len` entries drawn from a shuffled set of blocks.
struct RandomPagedCache {
  std::vector<uint16_t> kb, vb;
  std::vector<float> kf, vf;
  std::vector<int32_t> tables;

  RandomPagedCache(int64_t num_blocks, int64_t block_size, int64_t kv_heads, int64_t head_dim, int64_t tables_len) {
    kb = to_bf16(random_f32(static_cast<size_t>(num_blocks * block_size * kv_heads * head_dim)));
    vb = to_bf16(random_f32(kb.size()));
    kf.resize(kb.size());
    vf.resize(vb.size());
    for (size_t i = 0; i < kb.size(); ++i) kf[i] = bf16_to_f32(kb[i]), vf[i] = bf16_to_f32(vb[i]);
    std::vector<int32_t> all(static_cast<size_t>(num_blocks));
    for (int64_t i = 0; i < num_blocks; ++i) all[static_cast<size_t>(i)] = static_cast<int32_t>(i);
    std::shuffle(all.begin(), all.end(), rng());
    tables.assign(all.begin(), all.begin() + tables_len);
  }
};

}  // namespace

TEST(GemvBf16, EveryScheduleMatchesTheReference) {
  ctx();
  // Shapes with row tails (n not a multiple of any rows-per-block), short k, and more row groups than a wave
  // of resident blocks (persistent schedules loop over several groups per block).
  for (auto [m, n, k] : {std::tuple<int, int64_t, int64_t>{1, 333, 512}, {3, 160, 64}, {8, 1000, 1024}, {5, 77, 264},
                         {1, 40001, 64}}) {
    auto x = random_f32(static_cast<size_t>(m * k));
    auto w = to_bf16(random_f32(static_cast<size_t>(n * k), 0.1f));
    std::vector<float> ref(static_cast<size_t>(m * n));
    kr::linear_reference({x.data(), w.data(), synaptix::DType::BF16, nullptr, ref.data(), m, n, k});
    auto dx = upload(x);
    auto dw = upload(w);
    int checked = 0;
    for (const auto& p : kc::gemv_register_search_space(m, n, k)) {  // bulk points: gemv_bulk_device_test.cpp
      auto dy = poisoned(ref.size() * 4);
      kc::gemv_bf16(dx.ptr(), dw.ptr(), dy.ptr(), m, n, k, false, p, nullptr);
      device_sync();
      EXPECT_LT(rel_err(dy.to_host<float>(ref.size()), ref), 1e-5) << "m=" << m << " n=" << n << " k=" << k << " " << p.str();
      ++checked;
    }
    EXPECT_GT(checked, 0);
    // A capped L2 prefetch (the in-context choice's variant) and the persistent form with it.
    for (int pers : {0, 1}) {
      kc::GemvParams p = kc::gemv_default_params(m, n, k);
      p.prefetch_kb = 8;
      p.persistent = pers;
      auto dy = poisoned(ref.size() * 4);
      kc::gemv_bf16(dx.ptr(), dw.ptr(), dy.ptr(), m, n, k, false, p, nullptr);
      device_sync();
      EXPECT_LT(rel_err(dy.to_host<float>(ref.size()), ref), 1e-5) << "m=" << m << " n=" << n << " k=" << k << " " << p.str();
    }
    // accumulate: y += x W^T
    auto y0 = random_f32(ref.size());
    auto dy = upload(y0);
    kc::gemv_bf16(dx.ptr(), dw.ptr(), dy.ptr(), m, n, k, true, kc::gemv_default_params(m, n, k), nullptr);
    device_sync();
    std::vector<float> want(ref.size());
    for (size_t i = 0; i < want.size(); ++i) want[i] = ref[i] + y0[i];
    EXPECT_LT(rel_err(dy.to_host<float>(ref.size()), want), 1e-5);
  }
}

// The decode path's fused GEMVs against the unfused composition: RMSNorm in the prologue (from the input's
// sum of squares), SwiGLU of interleaved gate/up rows in the epilogue, and the residual update that also
// accumulates the new rows' sums of squares.
TEST(GemvBf16, FusedVariantsMatchTheComposedReference) {
  ctx();
  const float eps = 1e-5f;
  for (auto [m, n, k] : {std::tuple<int, int64_t, int64_t>{1, 334, 512}, {3, 160, 64}, {8, 1000, 1024}, {2, 30000, 64}}) {
    auto x = random_f32(static_cast<size_t>(m * k), 2.0f);
    auto gamma = random_f32(static_cast<size_t>(k));
    auto w = to_bf16(random_f32(static_cast<size_t>(n * k), 0.1f));
    std::vector<float> ss(static_cast<size_t>(m), 0.f), xn(x.size());
    for (int j = 0; j < m; ++j) {
      double acc = 0;
      for (int64_t i = 0; i < k; ++i) acc += static_cast<double>(x[static_cast<size_t>(j * k + i)]) * x[static_cast<size_t>(j * k + i)];
      ss[static_cast<size_t>(j)] = static_cast<float>(acc);
      const float inv = 1.0f / std::sqrt(static_cast<float>(acc) / static_cast<float>(k) + eps);
      for (int64_t i = 0; i < k; ++i)
        xn[static_cast<size_t>(j * k + i)] = x[static_cast<size_t>(j * k + i)] * inv * gamma[static_cast<size_t>(i)];
    }
    std::vector<float> lin(static_cast<size_t>(m * n));
    kr::linear_reference({xn.data(), w.data(), synaptix::DType::BF16, nullptr, lin.data(), m, n, k});
    // SwiGLU over interleaved rows: output column i from rows 2i (gate) and 2i + 1 (up).
    std::vector<float> act(static_cast<size_t>(m * n / 2));
    for (int j = 0; j < m; ++j)
      for (int64_t i = 0; i < n / 2; ++i) {
        const float gv = lin[static_cast<size_t>(j * n + 2 * i)], uv = lin[static_cast<size_t>(j * n + 2 * i + 1)];
        kr::swiglu_reference(&gv, &uv, &act[static_cast<size_t>(j * n / 2 + i)], 1);
      }
    std::vector<float> plain(static_cast<size_t>(m * n));
    kr::linear_reference({x.data(), w.data(), synaptix::DType::BF16, nullptr, plain.data(), m, n, k});
    auto y0 = random_f32(plain.size());
    std::vector<float> upd(plain.size()), upd_ss(static_cast<size_t>(m), 0.f);
    for (size_t i = 0; i < upd.size(); ++i) upd[i] = y0[i] + plain[i];
    for (int j = 0; j < m; ++j)
      for (int64_t i = 0; i < n; ++i) upd_ss[static_cast<size_t>(j)] += upd[static_cast<size_t>(j * n + i)] * upd[static_cast<size_t>(j * n + i)];

    auto dx = upload(x), dw = upload(w), dg = upload(gamma), dss = upload(ss);
    int checked = 0;
    for (const auto& p0 : kc::gemv_register_search_space(m, n, k)) {  // bulk points: gemv_bulk_device_test.cpp
      kc::GemvFusion norm{kc::GemvInput::RmsNorm, kc::GemvOutput::Plain, dg.ptr(), dss.ptr(), eps, 0};
      auto dy = poisoned(lin.size() * 4);
      kc::gemv_bf16(dx.ptr(), dw.ptr(), dy.ptr(), m, n, k, false, kc::gemv_fit_params(p0, m, norm), nullptr, norm);
      device_sync();
      EXPECT_LT(rel_err(dy.to_host<float>(lin.size()), lin), 1e-5) << "norm m=" << m << " " << p0.str();
      // The same with the normalised rows written out too (the MoE router's form): same product, and xn.
      auto dxn = poisoned(xn.size() * 4);
      kc::GemvFusion norm_xn = norm;
      norm_xn.xn_out = dxn.ptr();
      dy.fill_bytes(0xFF);
      kc::gemv_bf16(dx.ptr(), dw.ptr(), dy.ptr(), m, n, k, false, kc::gemv_fit_params(p0, m, norm_xn), nullptr, norm_xn);
      device_sync();
      EXPECT_LT(rel_err(dy.to_host<float>(lin.size()), lin), 1e-5) << "norm+xn m=" << m << " " << p0.str();
      EXPECT_LT(rel_err(dxn.to_host<float>(xn.size()), xn), 1e-6) << "xn m=" << m << " " << p0.str();

      kc::GemvFusion sw{kc::GemvInput::RmsNorm, kc::GemvOutput::SwiGlu, dg.ptr(), dss.ptr(), eps, 0};
      const kc::GemvParams ps = kc::gemv_fit_params(p0, m, sw);
      ASSERT_TRUE(kc::gemv_params_valid(ps, m)) << ps.str();
      auto da = poisoned(act.size() * 4);
      kc::gemv_bf16(dx.ptr(), dw.ptr(), da.ptr(), m, n, k, false, ps, nullptr, sw);
      device_sync();
      EXPECT_LT(rel_err(da.to_host<float>(act.size()), act), 1e-5) << "swiglu m=" << m << " " << ps.str();

      auto dyu = upload(y0);
      auto dso = upload(std::vector<float>(static_cast<size_t>(m), 0.f));
      kc::GemvFusion accss{kc::GemvInput::Plain, kc::GemvOutput::AccumulateSumSq, 0, 0, eps, dso.ptr()};
      kc::gemv_bf16(dx.ptr(), dw.ptr(), dyu.ptr(), m, n, k, true, p0, nullptr, accss);
      device_sync();
      EXPECT_LT(rel_err(dyu.to_host<float>(upd.size()), upd), 1e-5) << "accumulate m=" << m << " " << p0.str();
      EXPECT_LT(rel_err(dso.to_host<float>(upd_ss.size()), upd_ss), 1e-4) << "sum of squares m=" << m << " " << p0.str();
      ++checked;
    }
    EXPECT_GT(checked, 0);
  }
}

// The LM head's greedy path: the GEMV's ArgMax epilogue stores the logits and max-combines each row's best
// (value, index) key into its words; argmax_embedding turns them into ids (device and mapped host copies),
// re-zeroes them, and embeds the ids for the next step. Two equal maxima (identical weight rows): the lower
// index wins; a NaN row never does. Checked against a host argmax of the logits the kernel stored.
TEST(GemvBf16, ArgMaxEpilogueAndArgmaxEmbeddingPickTheFirstMaximum) {
  ctx();
  // k = 2048: schedules that split k over up to eight warps (the LM head's) reduce in shared memory first.
  const int64_t n = 8011, k = 2048, dim = 72;
  const float eps = 1e-5f;
  auto table = to_bf16(random_f32(static_cast<size_t>(n * dim)));
  auto dt = upload(table);
  void* host = nullptr;
  ASSERT_EQ(cuMemHostAlloc(&host, 8 * 4, CU_MEMHOSTALLOC_DEVICEMAP), CUDA_SUCCESS);
  CUdeviceptr host_dev = 0;
  ASSERT_EQ(cuMemHostGetDevicePointer(&host_dev, host, 0), CUDA_SUCCESS);
  bc::DeviceBuffer words(static_cast<size_t>(kc::gemv_argmax_words_bytes(8)));
  words.fill_bytes(0);
  for (int m : {1, 3, 8}) {
    std::uniform_real_distribution<float> pos(0.1f, 1.0f);
    std::vector<float> x(static_cast<size_t>(m * k));
    for (float& v : x) v = pos(rng());
    auto gamma = random_f32(static_cast<size_t>(k));
    for (float& g : gamma) g = std::fabs(g) + 0.1f;  // positive: the normalised x stays positive
    std::vector<float> ss(static_cast<size_t>(m));
    for (int j = 0; j < m; ++j)
      for (int64_t i = 0; i < k; ++i) ss[static_cast<size_t>(j)] += x[static_cast<size_t>(j * k + i)] * x[static_cast<size_t>(j * k + i)];
    auto wf = random_f32(static_cast<size_t>(n * k), 0.1f);
    for (int64_t i = 0; i < k; ++i) {
      wf[static_cast<size_t>(7 * k + i)] = wf[static_cast<size_t>(6000 * k + i)] = 1.0f;  // the tied maxima
      wf[static_cast<size_t>(100 * k + i)] = NAN;  // a NaN logit never wins
    }
    auto w = to_bf16(wf);
    auto dx = upload(x), dw = upload(w), dg = upload(gamma), dss = upload(ss);
    auto space = kc::gemv_register_search_space(m, n, k);
    std::vector<kc::GemvParams> params = {kc::gemv_default_params(m, n, k), {8, 8, 2, 1, 0, 0}, {8, 8, 2, 2, 0, 0},
                                          {8, 8, 2, 1, 0, 1}, {8, 4, 1, 4, 0, 0}, {16, 8, 1, 4, 1, 0}};
    for (size_t i = 0; i < space.size(); i += 9) params.push_back(space[i]);
    std::erase_if(params, [&](const kc::GemvParams& p) { return !kc::gemv_params_valid(p, m); });
    ASSERT_TRUE(std::any_of(params.begin(), params.end(), [](const kc::GemvParams& p) { return p.kslices > 1; }));
    for (const auto& p : params) {
      kc::GemvFusion head{kc::GemvInput::RmsNorm, kc::GemvOutput::ArgMax, dg.ptr(), dss.ptr(), eps, 0};
      head.argmax_words = words.ptr();
      auto dy = poisoned(static_cast<size_t>(m * n) * 4);
      auto di = poisoned(static_cast<size_t>(m) * 4);
      auto demb = poisoned(static_cast<size_t>(m * dim) * 4);
      auto dsum = poisoned(static_cast<size_t>(m + 2) * 4);
      std::memset(host, 0xFF, 8 * 4);
      kc::gemv_bf16(dx.ptr(), dw.ptr(), dy.ptr(), m, n, k, false, p, nullptr, head);
      kc::argmax_embedding(words.ptr(), di.ptr(), host_dev, dt.ptr(), demb.ptr(), m, dim, nullptr, dsum.ptr(), 2);
      device_sync();
      const auto y = dy.to_host<float>(static_cast<size_t>(m * n));
      const auto ids = di.to_host<int32_t>(static_cast<size_t>(m));
      std::vector<int32_t> want(static_cast<size_t>(m));
      for (int j = 0; j < m; ++j) {
        int64_t best = -1;
        for (int64_t i = 0; i < n; ++i) {
          const float v = y[static_cast<size_t>(j * n + i)];
          ASSERT_FALSE(std::isnan(v) && i != 100) << "logit " << i << " unwritten, " << p.str();
          if (!std::isnan(v) && (best < 0 || v > y[static_cast<size_t>(j * n + best)])) best = i;
        }
        want[static_cast<size_t>(j)] = static_cast<int32_t>(best);
        EXPECT_EQ(best, 7) << "row " << j << ": the planted maximum, " << p.str();
        EXPECT_EQ(ids[static_cast<size_t>(j)], best) << "row " << j << ", " << p.str();
        EXPECT_EQ(static_cast<const int32_t*>(host)[j], best) << "host copy, row " << j << ", " << p.str();
      }
      std::vector<float> emb(static_cast<size_t>(m * dim));
      kr::embedding_reference(table.data(), synaptix::DType::BF16, dim, want.data(), m, emb.data());
      EXPECT_EQ(rel_err(demb.to_host<float>(emb.size()), emb), 0.0) << p.str();
      const auto sums = dsum.to_host<float>(static_cast<size_t>(m + 2));
      EXPECT_EQ(sums[static_cast<size_t>(m)], 0.0f);
      EXPECT_EQ(sums[static_cast<size_t>(m + 1)], 0.0f);
      const auto left = words.to_host<uint64_t>(static_cast<size_t>(kc::gemv_argmax_words_bytes(8) / 8));
      EXPECT_EQ(left, std::vector<uint64_t>(left.size(), 0)) << "the words are re-zeroed, " << p.str();
    }
  }
  // Without a table: the ids only (the last step of a launch).
  auto di = poisoned(4);
  std::vector<uint64_t> one(static_cast<size_t>(kc::gemv_argmax_words_bytes(1) / 8), 0);
  one[5 * kc::kGemvArgmaxWordStride] = (static_cast<uint64_t>(0xC0000000u) << 32) | static_cast<uint32_t>(~42u);  // 2.0f at 42
  one[9 * kc::kGemvArgmaxWordStride] = (static_cast<uint64_t>(0xBF800000u) << 32) | static_cast<uint32_t>(~7u);   // 1.0f at 7
  auto dwords = upload(one);
  kc::argmax_embedding(dwords.ptr(), di.ptr(), 0, 0, 0, 1, dim, nullptr);
  device_sync();
  EXPECT_EQ(di.to_host<int32_t>(1)[0], 42);
  const auto left = dwords.to_host<uint64_t>(one.size());
  EXPECT_EQ(left, std::vector<uint64_t>(one.size(), 0)) << "the words are re-zeroed";
  EXPECT_THROW(kc::argmax_embedding(0, di.ptr(), 0, 0, 0, 1, dim, nullptr), synaptix::Error);
  cuMemFreeHost(host);
}

TEST(GemvBf16, RejectsUnalignedK) {
  ctx();
  bc::DeviceBuffer a(4096), b(4096), c(4096);
  EXPECT_THROW(kc::gemv_bf16(a.ptr(), b.ptr(), c.ptr(), 1, 8, 12, false, {}, nullptr), synaptix::Error);
}

TEST(BlasLt, Bf16MatmulMatchesTheReferenceForEveryAlgorithm) {
  ctx();
  bc::BlasLtMatmul mm;
  for (auto [m, n, k] : {std::tuple<int64_t, int64_t, int64_t>{64, 256, 128}, {33, 160, 64}, {200, 512, 320}}) {
    auto xf = random_f32(static_cast<size_t>(m * k));
    auto xb = to_bf16(xf);
    for (size_t i = 0; i < xf.size(); ++i) xf[i] = bf16_to_f32(xb[i]);
    auto w = to_bf16(random_f32(static_cast<size_t>(n * k), 0.1f));
    std::vector<float> ref(static_cast<size_t>(m * n));
    kr::linear_reference({xf.data(), w.data(), synaptix::DType::BF16, nullptr, ref.data(), m, n, k});
    auto dx = upload(xb);
    auto dw = upload(w);
    for (int a = 0; a < mm.algorithm_count(m, n, k, synaptix::DType::F32); ++a) {
      auto dy = poisoned(ref.size() * 4);
      mm.run(dx.ptr(), dw.ptr(), dy.ptr(), synaptix::DType::F32, m, n, k, nullptr, a);
      device_sync();
      EXPECT_LT(rel_err(dy.to_host<float>(ref.size()), ref), 1e-4) << "m=" << m << " algo " << a;
    }
    auto y0 = random_f32(ref.size());
    auto dy = upload(y0);
    mm.run(dx.ptr(), dw.ptr(), dy.ptr(), synaptix::DType::F32, m, n, k, nullptr, 0, true);
    device_sync();
    for (size_t i = 0; i < ref.size(); ++i) ref[i] += y0[i];
    EXPECT_LT(rel_err(dy.to_host<float>(ref.size()), ref), 1e-4);
  }
}

TEST(RmsNorm, GatheredRowsF32AndBf16) {
  ctx();
  const int64_t rows = 7, dim = 4096 + 40;
  auto x = random_f32(static_cast<size_t>(rows * dim), 3.0f);
  auto w = random_f32(static_cast<size_t>(dim));
  std::vector<int32_t> pick = {6, 0, 3};
  std::vector<float> ref(pick.size() * dim);
  for (size_t i = 0; i < pick.size(); ++i) kr::rmsnorm_reference(x.data() + pick[i] * dim, w.data(), ref.data() + i * dim, 1, dim, 1e-5f);
  auto dx = upload(x), dw = upload(w), dr = upload(pick);
  auto dy = poisoned(ref.size() * 4);
  kc::rmsnorm(dx.ptr(), dr.ptr(), dw.ptr(), dy.ptr(), 3, dim, 1e-5f, false, nullptr);
  device_sync();
  EXPECT_LT(rel_err(dy.to_host<float>(ref.size()), ref), 1e-5);
  auto db = poisoned(ref.size() * 2);
  kc::rmsnorm(dx.ptr(), dr.ptr(), dw.ptr(), db.ptr(), 3, dim, 1e-5f, true, nullptr);
  device_sync();
  auto hb = db.to_host<uint16_t>(ref.size());
  std::vector<float> got(ref.size());
  for (size_t i = 0; i < got.size(); ++i) got[i] = bf16_to_f32(hb[i]);
  EXPECT_LT(rel_err(got, ref), 8e-3);
}

TEST(SwiGlu, MatchesTheReference) {
  ctx();
  const int64_t m = 5, inter = 1000;
  // gate and up interleaved per column, as the device weights lay out the gate/up projection.
  auto gu = random_f32(static_cast<size_t>(m * 2 * inter), 6.0f);
  std::vector<float> ref(static_cast<size_t>(m * inter)), g(static_cast<size_t>(inter)), u(g.size());
  for (int64_t r = 0; r < m; ++r) {
    for (int64_t c = 0; c < inter; ++c) {
      g[static_cast<size_t>(c)] = gu[static_cast<size_t>(r * 2 * inter + 2 * c)];
      u[static_cast<size_t>(c)] = gu[static_cast<size_t>(r * 2 * inter + 2 * c + 1)];
    }
    kr::swiglu_reference(g.data(), u.data(), ref.data() + r * inter, inter);
  }
  auto dg = upload(gu);
  auto dy = poisoned(ref.size() * 4);
  kc::swiglu(dg.ptr(), dy.ptr(), m, inter, false, nullptr);
  device_sync();
  EXPECT_LT(rel_err(dy.to_host<float>(ref.size()), ref), 1e-6);
}

TEST(Embedding, MatchesTheReference) {
  ctx();
  // 72: the 16-byte-load path; 70: the element path. With ss, each row's sum of squares and zeroed slots.
  for (int64_t dim : {72, 70}) {
    const int64_t vocab = 300;
    auto table = to_bf16(random_f32(static_cast<size_t>(vocab * dim)));
    std::vector<int32_t> ids = {0, 299, 17, 17, 150};
    const int64_t n = static_cast<int64_t>(ids.size());
    std::vector<float> ref(static_cast<size_t>(n * dim));
    kr::embedding_reference(table.data(), synaptix::DType::BF16, dim, ids.data(), n, ref.data());
    auto dt = upload(table), di = upload(ids);
    auto dy = poisoned(ref.size() * 4);
    kc::embedding(di.ptr(), dt.ptr(), dy.ptr(), n, dim, nullptr);
    device_sync();
    EXPECT_EQ(rel_err(dy.to_host<float>(ref.size()), ref), 0.0) << "dim " << dim;
    auto ss = poisoned(static_cast<size_t>(n + 3) * 4);
    dy.fill_bytes(0xFF);
    kc::embedding(di.ptr(), dt.ptr(), dy.ptr(), n, dim, nullptr, ss.ptr(), 3);
    device_sync();
    EXPECT_EQ(rel_err(dy.to_host<float>(ref.size()), ref), 0.0) << "dim " << dim;
    const auto got_ss = ss.to_host<float>(static_cast<size_t>(n + 3));
    for (int64_t t = 0; t < n; ++t) {
      double want = 0;
      for (int64_t i = 0; i < dim; ++i) want += static_cast<double>(ref[static_cast<size_t>(t * dim + i)]) * ref[static_cast<size_t>(t * dim + i)];
      EXPECT_NEAR(got_ss[static_cast<size_t>(t)], want, 1e-5 * want) << "dim " << dim << " row " << t;
    }
    for (int64_t i = n; i < n + 3; ++i) EXPECT_EQ(got_ss[static_cast<size_t>(i)], 0.0f) << "slot " << i << " not zeroed";
  }
}

TEST(Embedding, CopiesTheStepMetadataFromMappedHostMemory) {
  ctx();
  const int64_t vocab = 300, dim = 72, meta_n = 40;
  auto table = to_bf16(random_f32(static_cast<size_t>(vocab * dim)));
  // Host metadata: ids at [0, 3), two regions after a gap that must stay untouched.
  void* host = nullptr;
  ASSERT_EQ(cuMemHostAlloc(&host, meta_n * 4, CU_MEMHOSTALLOC_DEVICEMAP), CUDA_SUCCESS);
  CUdeviceptr host_dev = 0;
  ASSERT_EQ(cuMemHostGetDevicePointer(&host_dev, host, 0), CUDA_SUCCESS);
  int32_t* h = static_cast<int32_t*>(host);
  for (int64_t i = 0; i < meta_n; ++i) h[i] = static_cast<int32_t>(1000 + i);
  h[0] = 5, h[1] = 299, h[2] = 17;
  auto dt = upload(table);
  auto dmeta = poisoned(static_cast<size_t>(meta_n) * 4);
  kc::StepMetaCopy mc;
  mc.src = host_dev;
  mc.dst = dmeta.ptr();
  mc.off[0] = 8, mc.n[0] = 4;
  mc.off[1] = 20, mc.n[1] = 20;
  // Chained ids (device memory) take the place of the host's for the embedded rows and the copy's slots 0..2.
  std::vector<int32_t> chained = {42, 7, 250};
  auto dchain = upload(chained);
  for (bool chain : {false, true}) {
    const std::vector<int32_t> ids = chain ? chained : std::vector<int32_t>{5, 299, 17};
    std::vector<float> ref(static_cast<size_t>(3 * dim));
    kr::embedding_reference(table.data(), synaptix::DType::BF16, dim, ids.data(), 3, ref.data());
    auto dy = poisoned(ref.size() * 4);
    dmeta.fill_bytes(0xFF);
    kc::embedding(chain ? dchain.ptr() : host_dev, dt.ptr(), dy.ptr(), 3, dim, nullptr, 0, 0, mc);
    device_sync();
    EXPECT_EQ(rel_err(dy.to_host<float>(ref.size()), ref), 0.0) << "chain " << chain;
    const auto got = dmeta.to_host<int32_t>(static_cast<size_t>(meta_n));
    for (int64_t i = 0; i < meta_n; ++i) {
      const bool copied = (i >= 8 && i < 12) || i >= 20;
      if (i < 3) EXPECT_EQ(got[static_cast<size_t>(i)], ids[static_cast<size_t>(i)]) << "token slot " << i;
      else if (copied) EXPECT_EQ(got[static_cast<size_t>(i)], h[i]) << "copied slot " << i;
      else EXPECT_EQ(got[static_cast<size_t>(i)], -1) << "slot " << i << " outside every region was written";
    }
  }
  // A multi-step launch's metadata: each step's regions (the first two), step_stride ints after the step
  // before, and the shared ones (region 2) once.
  kc::StepMetaCopy multi;
  multi.src = host_dev;
  multi.dst = dmeta.ptr();
  multi.off[0] = 4, multi.n[0] = 3;
  multi.off[1] = 8, multi.n[1] = 1;
  multi.off[2] = 33, multi.n[2] = 5;
  multi.steps = 3;
  multi.step_stride = 10;
  multi.per_step_regions = 2;
  dmeta.fill_bytes(0xFF);
  auto dy = poisoned(static_cast<size_t>(3 * dim) * 4);
  kc::embedding(dchain.ptr(), dt.ptr(), dy.ptr(), 3, dim, nullptr, 0, 0, multi);
  device_sync();
  const auto got = dmeta.to_host<int32_t>(static_cast<size_t>(meta_n));
  for (int64_t i = 3; i < meta_n; ++i) {
    const int64_t r = i % 10;
    const bool copied = (i < 30 && ((r >= 4 && r < 7) || r == 8)) || (i >= 33 && i < 38);
    EXPECT_EQ(got[static_cast<size_t>(i)], copied ? h[i] : -1) << "slot " << i << (copied ? " not copied" : " written");
  }
  multi.step_stride = 0;
  EXPECT_THROW(kc::embedding(dchain.ptr(), dt.ptr(), dy.ptr(), 3, dim, nullptr, 0, 0, multi), synaptix::Error);
  cuMemFreeHost(host);
}

TEST(Argmax, PicksTheFirstMaximumPerRow) {
  ctx();
  const int64_t capacity = 8, vocab = 128256;
  auto logits = random_f32(static_cast<size_t>(capacity * vocab));
  logits[1 * vocab + 5] = 50.0f;
  logits[1 * vocab + 70000] = 50.0f;  // tie: the lower index wins
  logits[3 * vocab + vocab - 1] = 60.0f;
  logits[2 * vocab + 3000] = 40.0f;  // a tie across two slices of the split form
  logits[2 * vocab + 127000] = 40.0f;
  logits[7 * vocab + 64000] = 45.0f;
  auto dl = upload(logits);
  bc::DeviceBuffer scratch(static_cast<size_t>(kc::argmax_scratch_bytes(capacity)));
  scratch.fill_bytes(0);
  // Mapped pinned host memory: the kernel's second copy of the ids, read with no copy on the stream.
  void* host = nullptr;
  ASSERT_EQ(cuMemHostAlloc(&host, capacity * 4, CU_MEMHOSTALLOC_DEVICEMAP), CUDA_SUCCESS);
  CUdeviceptr host_dev = 0;
  ASSERT_EQ(cuMemHostGetDevicePointer(&host_dev, host, 0), CUDA_SUCCESS);
  // One block per row, then the split form on one scratch with changing row counts (its per-row counters
  // must re-arm, and a call with more rows must not write over the counters of one with fewer).
  const std::pair<int64_t, bool> runs[] = {{4, false}, {4, true}, {8, true}, {1, true}, {8, true}, {3, true}};
  int run = 0;
  for (auto [rows, split] : runs) {
    auto di = poisoned(static_cast<size_t>(rows) * 4);
    std::memset(host, 0xFF, capacity * 4);
    kc::argmax_rows(dl.ptr(), di.ptr(), rows, vocab, nullptr, split ? scratch.ptr() : 0, capacity, host_dev);
    device_sync();
    auto got = di.to_host<int32_t>(static_cast<size_t>(rows));
    const int32_t* got_host = static_cast<const int32_t*>(host);
    for (int64_t r = 0; r < rows; ++r) {
      const float* p = logits.data() + r * vocab;
      const int64_t want = std::max_element(p, p + vocab) - p;
      EXPECT_EQ(got[static_cast<size_t>(r)], want) << "row " << r << " of " << rows << ", run " << run;
      EXPECT_EQ(got_host[r], want) << "host copy, row " << r << " of " << rows << ", run " << run;
    }
    ++run;
  }
  const auto words = scratch.to_host<uint32_t>(static_cast<size_t>(kc::argmax_scratch_bytes(capacity) / 4));
  EXPECT_EQ(std::vector<uint32_t>(words.end() - capacity, words.end()), std::vector<uint32_t>(capacity, 0u))
      << "every row's counter is re-armed";
  EXPECT_THROW(kc::argmax_rows(dl.ptr(), dl.ptr(), capacity + 1, vocab, nullptr, scratch.ptr(), capacity), synaptix::Error);
  cuMemFreeHost(host);
}

TEST(RopeKv, RotatesQInPlaceAndWritesTheCache) {
  ctx();
  synaptix::model::Spec s;
  s.head_dim = 64;
  s.rope_theta = 500000.0;
  s.rope_scaling.type = "llama3";
  s.rope_scaling.factor = 8.0;
  s.rope_scaling.original_max_position_embeddings = 8192;
  s.max_position_embeddings = 131072;
  s.num_heads = 4;
  s.num_kv_heads = 2;
  s.hidden_size = 256;
  kr::RopeTable rt = kr::make_rope_table(s);
  const int64_t T = 3, H = 4, KVH = 2, D = 64, stride = (H + 2 * KVH) * D, slots_total = 40;
  for (bool with_norm : {false, true}) {
    auto qkv = random_f32(static_cast<size_t>(T * stride));
    auto bias = random_f32(static_cast<size_t>(stride), 0.1f);
    auto qn = random_f32(static_cast<size_t>(D)), kn = random_f32(static_cast<size_t>(D));
    std::vector<int32_t> pos = {0, 9000, 77}, slots = {5, 39, 12};
    auto dq = upload(qkv), db = upload(bias), dqn = upload(qn), dkn = upload(kn), dp = upload(pos), ds = upload(slots),
         df = upload(rt.inv_freq);
    auto kc_ = poisoned(static_cast<size_t>(slots_total * KVH * D) * 2), vc_ = poisoned(static_cast<size_t>(slots_total * KVH * D) * 2);
    kc::RopeKvArgs a;
    a.qkv = dq.ptr(); a.stride = stride; a.bias = db.ptr();
    a.q_norm = with_norm ? dqn.ptr() : 0; a.k_norm = with_norm ? dkn.ptr() : 0; a.eps = 1e-6f;
    a.positions = dp.ptr(); a.slots = ds.ptr(); a.inv_freq = df.ptr(); a.rotary_dim = rt.rotary_dim;
    a.attention_scaling = rt.attention_scaling; a.k_cache = kc_.ptr(); a.v_cache = vc_.ptr();
    a.tokens = T; a.heads = H; a.kv_heads = KVH; a.head_dim = D;
    kc::rope_kv_write(a, nullptr);
    device_sync();
    auto got_q = dq.to_host<float>(qkv.size());
    auto got_k = kc_.to_host<uint16_t>(static_cast<size_t>(slots_total * KVH * D));
    auto got_v = vc_.to_host<uint16_t>(static_cast<size_t>(slots_total * KVH * D));
    for (int64_t t = 0; t < T; ++t) {
      std::vector<float> v(qkv.begin() + t * stride, qkv.begin() + (t + 1) * stride);
      for (int64_t i = 0; i < stride; ++i) v[static_cast<size_t>(i)] += bias[static_cast<size_t>(i)];
      if (with_norm) {
        kr::rmsnorm_reference(v.data(), qn.data(), v.data(), H, D, 1e-6f);
        kr::rmsnorm_reference(v.data() + H * D, kn.data(), v.data() + H * D, KVH, D, 1e-6f);
      }
      kr::rope_reference(v.data(), H, D, pos[static_cast<size_t>(t)], rt);
      kr::rope_reference(v.data() + H * D, KVH, D, pos[static_cast<size_t>(t)], rt);
      std::vector<float> q_want(v.begin(), v.begin() + H * D), q_got(got_q.begin() + t * stride, got_q.begin() + t * stride + H * D);
      EXPECT_LT(rel_err(q_got, q_want), 2e-5) << "token " << t;
      std::vector<float> k_got(static_cast<size_t>(KVH * D)), v_got(k_got.size());
      for (int64_t i = 0; i < KVH * D; ++i) {
        k_got[static_cast<size_t>(i)] = bf16_to_f32(got_k[static_cast<size_t>(slots[static_cast<size_t>(t)] * KVH * D + i)]);
        v_got[static_cast<size_t>(i)] = bf16_to_f32(got_v[static_cast<size_t>(slots[static_cast<size_t>(t)] * KVH * D + i)]);
      }
      EXPECT_LT(rel_err(k_got, std::vector<float>(v.begin() + H * D, v.begin() + (H + KVH) * D)), 8e-3);
      EXPECT_LT(rel_err(v_got, std::vector<float>(v.begin() + (H + KVH) * D, v.end())), 8e-3);
    }
  }
}

TEST(PagedAttention, MatchesTheReferenceWithGqaWindowsAndSplits) {
  ctx();
  for (auto [H, KVH, D] : {std::tuple<int64_t, int64_t, int64_t>{4, 2, 16}, {32, 8, 128}, {4, 4, 32}, {6, 2, 80}}) {
    const int64_t bs = 16, num_blocks = 80, seqs = 3, stride = 26;
    // Each sequence gets a shuffled set of blocks; the reference reads the cache's values as f32.
    RandomPagedCache cache(num_blocks, bs, KVH, D, seqs * stride);
    const auto& [kb, vb, kf, vf, tables] = cache;
    // Tokens: seq 0 decodes at 400, seq 1 decodes at 3, seq 2 has a prefill chunk at 100..104.
    std::vector<int32_t> pos = {400, 3, 100, 101, 102, 103, 104}, tseq = {0, 1, 2, 2, 2, 2, 2};
    const int64_t T = static_cast<int64_t>(pos.size());
    auto q = random_f32(static_cast<size_t>(T * H * D));
    auto dkf = upload(kf), dvf = upload(vf);
    auto dk = upload(kb), dv = upload(vb), dq = upload(q), dp = upload(pos), dts = upload(tseq), dt = upload(tables);
    for (int64_t window : {int64_t{0}, int64_t{37}}) {
      std::vector<float> ref(static_cast<size_t>(T * H * D));
      for (int64_t t = 0; t < T; ++t) {
        kr::PagedKv kv{kf.data(), vf.data(), bs, KVH, D, tables.data() + tseq[static_cast<size_t>(t)] * stride};
        kr::attention_decode_reference(q.data() + t * H * D, H, kv, pos[static_cast<size_t>(t)], window,
                                       1.0f / std::sqrt(static_cast<float>(D)), ref.data() + t * H * D);
      }
      for (auto [splits, split_size, lane_per_key] :
           {std::tuple<int64_t, int64_t, bool>{1, 0, false}, {8, 64, false}, {4, 101, false}, {1, 0, true}})
      for (bool kv32 : {false, true}) {
        auto part = bc::DeviceBuffer(static_cast<size_t>(T * H * splits * (D + 2)) * 4);
        auto dout = poisoned(ref.size() * 4);
        kc::PagedAttentionArgs a;
        a.q = dq.ptr(); a.q_stride = H * D; a.positions = dp.ptr();
        a.k_cache = kv32 ? dkf.ptr() : dk.ptr(); a.v_cache = kv32 ? dvf.ptr() : dv.ptr(); a.kv_f32 = kv32;
        a.token_seq = dts.ptr(); a.block_tables = dt.ptr(); a.table_stride = stride; a.block_size = bs; a.tokens = T;
        a.heads = H; a.kv_heads = KVH; a.head_dim = D; a.window = window; a.scale = 1.0f / std::sqrt(static_cast<float>(D));
        a.splits = splits; a.split_size = split_size; a.partial = part.ptr(); a.out = dout.ptr();
        a.lane_per_key = lane_per_key;
        kc::paged_attention(a, nullptr);
        device_sync();
        EXPECT_LT(rel_err(dout.to_host<float>(ref.size()), ref), 2e-5)
            << "H=" << H << " KVH=" << KVH << " D=" << D << " window=" << window << " splits=" << splits << " lane_per_key=" << lane_per_key << " kv_f32=" << kv32;
      }
    }
  }
}

// The fused decode kernel (RoPE + KV write + split attention + last-block combine) against the kernels it
// replaces, each tested above against its reference: the same outputs and the same cache contents, for GQA
// shapes, bias + per-head norms, windows, split counts, both cache types, and a second launch (the split
// counters re-arm themselves). Split counts of 2 to 16 also run as thread block clusters (combine through
// distributed shared memory), with neither counters nor a partial buffer.
TEST(DecodeAttentionRope, MatchesRopeThenPagedAttention) {
  ctx();
  for (auto [H, KVH, D] : {std::tuple<int64_t, int64_t, int64_t>{32, 8, 128}, {4, 2, 16}, {6, 2, 80}}) {
    synaptix::model::Spec s;
    s.head_dim = D;
    s.rope_theta = 10000.0;
    s.num_heads = H;
    s.num_kv_heads = KVH;
    s.hidden_size = H * D;
    s.max_position_embeddings = 4096;
    kr::RopeTable rt = kr::make_rope_table(s);
    const int64_t bs = 16, num_blocks = 80, stride_t = 26, qkv_n = (H + 2 * KVH) * D;
    RandomPagedCache cache(num_blocks, bs, KVH, D, 3 * stride_t);
    // Three sequences decoding one token each, at positions 400, 3 and 100.
    std::vector<int32_t> pos = {400, 3, 100}, tseq = {0, 1, 2}, slots;
    const int64_t T = static_cast<int64_t>(pos.size());
    for (int64_t t = 0; t < T; ++t) {
      const int32_t p = pos[static_cast<size_t>(t)];
      slots.push_back(static_cast<int32_t>(cache.tables[static_cast<size_t>(t * stride_t + p / bs)] * bs + p % bs));
    }
    auto dp = upload(pos), dts = upload(tseq), dt = upload(cache.tables), dsl = upload(slots), df = upload(rt.inv_freq);
    for (bool with_norm : {false, true})
      for (bool kv32 : {false, true})
        for (int64_t window : {int64_t{0}, int64_t{37}})
          for (auto [splits, split_size] : {std::pair<int64_t, int64_t>{1, 0}, {8, 64}, {4, 101}, {2, 201}, {16, 26}}) {
            auto qkv = random_f32(static_cast<size_t>(T * qkv_n));
            auto bias = random_f32(static_cast<size_t>(qkv_n), 0.1f);
            auto qn = random_f32(static_cast<size_t>(D)), kn = random_f32(static_cast<size_t>(D));
            auto dq_ref = upload(qkv), dq = upload(qkv), db = upload(bias), dqn = upload(qn), dkn = upload(kn);
            auto k_ref = kv32 ? upload(cache.kf) : upload(cache.kb), v_ref = kv32 ? upload(cache.vf) : upload(cache.vb);
            auto k_got = kv32 ? upload(cache.kf) : upload(cache.kb), v_got = kv32 ? upload(cache.vf) : upload(cache.vb);
            const size_t cache_bytes = cache.kb.size() * (kv32 ? 4 : 2);
            auto part_ref = bc::DeviceBuffer(static_cast<size_t>(T * H * splits * (D + 2)) * 4);
            auto part = bc::DeviceBuffer(static_cast<size_t>(T * H * splits * (D + 2)) * 4);
            auto counters = bc::DeviceBuffer(static_cast<size_t>(T * KVH) * 4);
            ASSERT_EQ(cuMemsetD32(counters.ptr(), 0, static_cast<size_t>(T * KVH)), CUDA_SUCCESS);
            auto out_ref = poisoned(static_cast<size_t>(T * H * D) * 4), out = poisoned(static_cast<size_t>(T * H * D) * 4);
            auto args = [&](CUdeviceptr q, CUdeviceptr kcache, CUdeviceptr vcache, CUdeviceptr partial, CUdeviceptr o) {
              kc::DecodeAttentionArgs a;
              a.rope.qkv = q; a.rope.stride = qkv_n; a.rope.bias = db.ptr();
              a.rope.q_norm = with_norm ? dqn.ptr() : 0; a.rope.k_norm = with_norm ? dkn.ptr() : 0; a.rope.eps = 1e-6f;
              a.rope.positions = dp.ptr(); a.rope.slots = dsl.ptr(); a.rope.inv_freq = df.ptr();
              a.rope.rotary_dim = rt.rotary_dim; a.rope.attention_scaling = rt.attention_scaling;
              a.rope.k_cache = kcache; a.rope.v_cache = vcache; a.rope.kv_f32 = kv32;
              a.rope.tokens = T; a.rope.heads = H; a.rope.kv_heads = KVH; a.rope.head_dim = D;
              a.attn.q = q; a.attn.q_stride = qkv_n; a.attn.k_cache = kcache; a.attn.v_cache = vcache; a.attn.kv_f32 = kv32;
              a.attn.positions = dp.ptr(); a.attn.token_seq = dts.ptr(); a.attn.block_tables = dt.ptr();
              a.attn.table_stride = stride_t; a.attn.block_size = bs; a.attn.tokens = T; a.attn.heads = H;
              a.attn.kv_heads = KVH; a.attn.head_dim = D; a.attn.window = window;
              a.attn.scale = 1.0f / std::sqrt(static_cast<float>(D)); a.attn.splits = splits;
              a.attn.split_size = split_size; a.attn.partial = partial; a.attn.out = o;
              a.counters = counters.ptr();
              return a;
            };
            const kc::DecodeAttentionArgs ref = args(dq_ref.ptr(), k_ref.ptr(), v_ref.ptr(), part_ref.ptr(), out_ref.ptr());
            kc::rope_kv_write(ref.rope, nullptr);
            kc::paged_attention(ref.attn, nullptr);
            const auto want = out_ref.to_host<float>(static_cast<size_t>(T * H * D));
            const std::string what = "H=" + std::to_string(H) + " KVH=" + std::to_string(KVH) + " D=" + std::to_string(D) +
                                     " norm=" + std::to_string(with_norm) + " kv_f32=" + std::to_string(kv32) +
                                     " window=" + std::to_string(window) + " splits=" + std::to_string(splits);
            for (bool cluster : {false, true}) {
              if (cluster && !kc::decode_cluster_supported(splits)) continue;
              for (auto [warps, kpw] : {std::pair<int, int>{4, 4}, {8, 4}, {16, 8}})
                for (int launch = 0; launch < 2; ++launch) {
                  kc::DecodeAttentionArgs a = args(dq.ptr(), k_got.ptr(), v_got.ptr(), part.ptr(), out.ptr());
                  a.warps = warps;
                  a.keys_per_warp = kpw;
                  a.cluster = cluster;
                  // The token's heads in registers (where the shape allows) on the first launch, staged on the
                  // second: both must write the same cache rows and outputs.
                  a.reg_heads = launch == 0;
                  if (cluster) { a.counters = 0; a.attn.partial = 0; }  // the cluster variant needs neither
                  out.fill_bytes(0xFF);  // every launch must write every output
                  kc::decode_attention_rope(a, nullptr);
                  device_sync();
                  EXPECT_LT(rel_err(out.to_host<float>(want.size()), want), 1e-5)
                      << what << " warps " << warps << " keys/warp " << kpw << " cluster " << cluster << " launch " << launch
                      << " reg_heads " << a.reg_heads;
                }
            }
            EXPECT_EQ(k_got.to_host<uint8_t>(cache_bytes), k_ref.to_host<uint8_t>(cache_bytes)) << what;
            EXPECT_EQ(v_got.to_host<uint8_t>(cache_bytes), v_ref.to_host<uint8_t>(cache_bytes)) << what;
            EXPECT_EQ(counters.to_host<uint32_t>(static_cast<size_t>(T * KVH)), std::vector<uint32_t>(static_cast<size_t>(T * KVH), 0u)) << what;
          }
  }
}

// Tensor-core prefill attention against the f32 reference on the same bf16 cache: two sequences' chunks in
// one step (one after a cached prefix), tiles with row tails, GQA, with and without a sliding window.
TEST(FlashAttention, MatchesTheReferenceForPrefillChunks) {
  ctx();
  for (auto [H, KVH, D] : {std::tuple<int64_t, int64_t, int64_t>{8, 2, 64}, {32, 8, 128}, {4, 4, 32}, {4, 1, 16}}) {
    const int64_t bs = 16, num_blocks = 40, stride = 20;
    RandomPagedCache cache(num_blocks, bs, KVH, D, 2 * stride);
    const auto& [kb, vb, kf, vf, tables] = cache;
    // Sequence 0: 37 cached positions, then a chunk of 150 (positions 37..186); sequence 1: 70 from 0.
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
    auto dk = upload(kb), dv = upload(vb), dq = upload(q), dp = upload(pos), dt = upload(tables), dtl = upload(tiles);
    for (int64_t window : {int64_t{0}, int64_t{50}}) {
      std::vector<float> ref(static_cast<size_t>(T * H * D));
      for (int64_t t = 0; t < T; ++t) {
        kr::PagedKv kv{kf.data(), vf.data(), bs, KVH, D, tables.data() + tseq[static_cast<size_t>(t)] * stride};
        kr::attention_decode_reference(q.data() + t * H * D, H, kv, pos[static_cast<size_t>(t)], window,
                                       1.0f / std::sqrt(static_cast<float>(D)), ref.data() + t * H * D);
      }
      auto dout = poisoned(ref.size() * 4);
      kc::FlashAttentionArgs a;
      a.q = dq.ptr(); a.q_stride = H * D; a.k_cache = dk.ptr(); a.v_cache = dv.ptr();
      a.tiles = dtl.ptr(); a.num_tiles = static_cast<int64_t>(tiles.size() / 3); a.positions = dp.ptr();
      a.block_tables = dt.ptr(); a.table_stride = stride; a.block_size = bs;
      a.heads = H; a.kv_heads = KVH; a.head_dim = D; a.window = window; a.scale = 1.0f / std::sqrt(static_cast<float>(D));
      a.out = dout.ptr();
      kc::flash_attention(a, nullptr);
      device_sync();
      // Q and P enter the tensor cores as bf16: a bf16-sized tolerance.
      EXPECT_LT(rel_err(dout.to_host<float>(ref.size()), ref), 2e-2) << "H=" << H << " KVH=" << KVH << " D=" << D << " window=" << window;
    }
  }
}

TEST(MoeRows, GatherAndWeightedScatterAdd) {
  ctx();
  const int64_t rows = 9, dim = 40;
  auto x = random_f32(static_cast<size_t>(rows * dim));
  std::vector<int32_t> idx = {8, 2, 5};
  std::vector<float> wts = {0.25f, 0.5f, 0.75f};
  auto dx = upload(x), di = upload(idx), dw = upload(wts);
  auto dg = poisoned(idx.size() * dim * 4);
  kc::gather_rows(dx.ptr(), di.ptr(), dg.ptr(), 3, dim, nullptr);
  auto dst0 = random_f32(x.size());
  auto dd = upload(dst0);
  kc::scatter_add_scaled(dg.ptr(), di.ptr(), dw.ptr(), dd.ptr(), 3, dim, nullptr);
  device_sync();
  auto got = dd.to_host<float>(x.size());
  std::vector<float> want = dst0;
  for (size_t i = 0; i < idx.size(); ++i)
    for (int64_t d = 0; d < dim; ++d) want[static_cast<size_t>(idx[i] * dim + d)] += wts[i] * x[static_cast<size_t>(idx[i] * dim + d)];
  EXPECT_LT(rel_err(got, want), 1e-6);
}
