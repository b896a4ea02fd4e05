// The decode GEMV's bulk-copy family (GemvParams::stages > 0: the weight rows stream through a shared-memory
// ring filled by cp.async.bulk, tracked by mbarriers) against the CPU reference of the op, with every fusion
// of the decode path, on small shapes with row and k tails and on Llama-3.1-8B's shapes. Outputs are
// poisoned (NaN bytes) before each run so an unwritten element fails. Needs a GPU.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <tuple>

#include "synaptix/backend/cuda/device_buffer.h"
#include "synaptix/backend/cuda/launch/gemv_bf16.h"
#include "synaptix/core/dtype.h"
#include "synaptix/core/error.h"
#include "synaptix/kernels/geglu/reference.h"
#include "synaptix/kernels/linear/reference.h"
#include "synaptix/kernels/swiglu/reference.h"
#include "support/cuda_device.h"

namespace kc = synaptix::kernels::cuda;
namespace kr = synaptix::kernels;

namespace {

using synaptix::testing::device_sync;
using synaptix::testing::rel_err;
using synaptix::testing::poisoned;
using synaptix::testing::upload;

std::vector<float> random_f32(size_t n, float lo, float hi) {
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = u(synaptix::testing::test_rng());
  return v;
}

// One product's inputs on the host and the device, and the CPU references of every fused form.
struct Case {
  int m;
  int64_t n, k;
  float eps = 1e-5f;
  std::vector<float> x, gamma, ss, xn, y0;
  std::vector<uint16_t> w;
  std::vector<float> plain;  // x W^T
  std::vector<float> normed;  // rmsnorm(x) W^T
  synaptix::backend::cuda::DeviceBuffer dx, dw, dg, dss;

  Case(int m_, int64_t n_, int64_t k_) : m(m_), n(n_), k(k_) {
    const size_t mk = static_cast<size_t>(m * k), mn = static_cast<size_t>(m * n);
    // Positive x and gamma: the ArgMax case plants a row of ones that must win.
    x = random_f32(mk, 0.1f, 1.0f);
    gamma = random_f32(static_cast<size_t>(k), 0.1f, 1.0f);
    auto wf = random_f32(static_cast<size_t>(n * k), -0.1f, 0.1f);
    w.resize(wf.size());
    for (size_t i = 0; i < wf.size(); ++i) w[i] = synaptix::f32_to_bf16(wf[i]);
    ss.assign(static_cast<size_t>(m), 0.f);
    xn.resize(mk);
    for (int j = 0; j < m; ++j) {
      double acc = 0;
      for (int64_t i = 0; i < k; ++i) acc += static_cast<double>(x[static_cast<size_t>(j * k + i)]) * x[static_cast<size_t>(j * k + i)];
      ss[static_cast<size_t>(j)] = static_cast<float>(acc);
      const float inv = 1.0f / std::sqrt(static_cast<float>(acc) / static_cast<float>(k) + eps);
      for (int64_t i = 0; i < k; ++i)
        xn[static_cast<size_t>(j * k + i)] = x[static_cast<size_t>(j * k + i)] * inv * gamma[static_cast<size_t>(i)];
    }
    plain.resize(mn);
    normed.resize(mn);
    kr::linear_reference({x.data(), w.data(), synaptix::DType::BF16, nullptr, plain.data(), m, n, k});
    kr::linear_reference({xn.data(), w.data(), synaptix::DType::BF16, nullptr, normed.data(), m, n, k});
    y0 = random_f32(mn, -1.0f, 1.0f);
    dx = upload(x);
    dw = upload(w);
    dg = upload(gamma);
    dss = upload(ss);
  }

  // silu(g) * u (or gelu_tanh) over the interleaved rows of `lin`.
  std::vector<float> gated(const std::vector<float>& lin, bool gelu) const {
    std::vector<float> out(static_cast<size_t>(m * n / 2));
    for (int j = 0; j < m; ++j)
      for (int64_t i = 0; i < n / 2; ++i) {
        const float g = lin[static_cast<size_t>(j * n + 2 * i)], u = lin[static_cast<size_t>(j * n + 2 * i + 1)];
        float* o = &out[static_cast<size_t>(j * n / 2 + i)];
        if (gelu)
          kr::geglu_tanh_reference(&g, &u, o, 1);
        else
          kr::swiglu_reference(&g, &u, o, 1);
      }
    return out;
  }

  std::string what(const kc::GemvParams& p, const char* form) const {
    return std::string(form) + " m=" + std::to_string(m) + " n=" + std::to_string(n) + " k=" + std::to_string(k) + " " + p.str();
  }

  void check_plain(const kc::GemvParams& p) const {
    auto dy = poisoned(plain.size() * 4);
    kc::gemv_bf16(dx.ptr(), dw.ptr(), dy.ptr(), m, n, k, false, p, nullptr);
    device_sync();
    EXPECT_LT(rel_err(dy.to_host<float>(plain.size()), plain), 1e-5) << what(p, "store");
  }

  void check_accumulate(const kc::GemvParams& p) const {
    std::vector<float> want(plain.size());
    for (size_t i = 0; i < want.size(); ++i) want[i] = y0[i] + plain[i];
    auto dy = upload(y0);
    kc::gemv_bf16(dx.ptr(), dw.ptr(), dy.ptr(), m, n, k, true, p, nullptr);
    device_sync();
    EXPECT_LT(rel_err(dy.to_host<float>(want.size()), want), 1e-5) << what(p, "accumulate");
  }

  void check_norm(const kc::GemvParams& p, bool with_xn) const {
    kc::GemvFusion f{kc::GemvInput::RmsNorm, kc::GemvOutput::Plain, dg.ptr(), dss.ptr(), eps, 0};
    auto dxn = poisoned(xn.size() * 4);
    if (with_xn) f.xn_out = dxn.ptr();
    auto dy = poisoned(normed.size() * 4);
    kc::gemv_bf16(dx.ptr(), dw.ptr(), dy.ptr(), m, n, k, false, kc::gemv_fit_params(p, m, f), nullptr, f);
    device_sync();
    EXPECT_LT(rel_err(dy.to_host<float>(normed.size()), normed), 1e-5) << what(p, with_xn ? "norm+xn" : "norm");
    if (with_xn) {
      EXPECT_LT(rel_err(dxn.to_host<float>(xn.size()), xn), 1e-6) << what(p, "xn");
    }
  }

  void check_gated(const kc::GemvParams& p, bool gelu) const {
    kc::GemvFusion f{kc::GemvInput::RmsNorm, gelu ? kc::GemvOutput::GeGlu : kc::GemvOutput::SwiGlu, dg.ptr(), dss.ptr(), eps, 0};
    const kc::GemvParams pg = kc::gemv_fit_params(p, m, f);
    ASSERT_TRUE(kc::gemv_params_valid(pg, m)) << pg.str();
    ASSERT_GT(pg.stages, 0) << "fitting keeps the bulk-copy ring";
    const auto want = gated(normed, gelu);
    auto da = poisoned(want.size() * 4);
    kc::gemv_bf16(dx.ptr(), dw.ptr(), da.ptr(), m, n, k, false, pg, nullptr, f);
    device_sync();
    EXPECT_LT(rel_err(da.to_host<float>(want.size()), want), 1e-5) << what(pg, gelu ? "geglu" : "swiglu");
  }

  void check_accumulate_sumsq(const kc::GemvParams& p) const {
    std::vector<float> want(plain.size()), want_ss(static_cast<size_t>(m), 0.f);
    for (size_t i = 0; i < want.size(); ++i) want[i] = y0[i] + plain[i];
    for (int j = 0; j < m; ++j)
      for (int64_t i = 0; i < n; ++i) want_ss[static_cast<size_t>(j)] += want[static_cast<size_t>(j * n + i)] * want[static_cast<size_t>(j * n + i)];
    auto dy = upload(y0);
    auto dso = upload(std::vector<float>(static_cast<size_t>(m), 0.f));
    kc::GemvFusion f{kc::GemvInput::Plain, kc::GemvOutput::AccumulateSumSq, 0, 0, eps, dso.ptr()};
    kc::gemv_bf16(dx.ptr(), dw.ptr(), dy.ptr(), m, n, k, true, p, nullptr, f);
    device_sync();
    EXPECT_LT(rel_err(dy.to_host<float>(want.size()), want), 1e-5) << what(p, "accumulate_sumsq");
    EXPECT_LT(rel_err(dso.to_host<float>(want_ss.size()), want_ss), 1e-4) << what(p, "sum of squares");
  }

  // The LM head's form: logits stored, and each row's greedy choice combined into the argmax words. The
  // choice is compared with the host argmax of the logits the kernel stored, and those with the reference.
  void check_argmax(const kc::GemvParams& p) const {
    synaptix::backend::cuda::DeviceBuffer words(static_cast<size_t>(kc::gemv_argmax_words_bytes(m)));
    words.fill_bytes(0);
    kc::GemvFusion f{kc::GemvInput::RmsNorm, kc::GemvOutput::ArgMax, dg.ptr(), dss.ptr(), eps, 0};
    f.argmax_words = words.ptr();
    auto dy = poisoned(normed.size() * 4);
    kc::gemv_bf16(dx.ptr(), dw.ptr(), dy.ptr(), m, n, k, false, p, nullptr, f);
    device_sync();
    const auto y = dy.to_host<float>(normed.size());
    EXPECT_LT(rel_err(y, normed), 1e-5) << what(p, "argmax logits");
    const auto w = words.to_host<uint64_t>(static_cast<size_t>(kc::gemv_argmax_words_bytes(m) / 8));
    for (int j = 0; j < m; ++j) {
      int64_t best = 0;
      for (int64_t i = 1; i < n; ++i)
        if (y[static_cast<size_t>(j * n + i)] > y[static_cast<size_t>(j * n + best)]) best = i;
      uint64_t key = 0;
      for (int t = 0; t < kc::kGemvArgmaxWords; ++t)
        key = std::max(key, w[static_cast<size_t>((j * kc::kGemvArgmaxWords + t) * kc::kGemvArgmaxWordStride)]);
      EXPECT_EQ(static_cast<int64_t>(~static_cast<uint32_t>(key)), best) << what(p, "argmax") << " row " << j;
    }
  }
};

// Every `stride`-th point of the bulk family for (m, n, k), and always its first and last (a persistent one).
std::vector<kc::GemvParams> bulk_points(int m, int64_t n, int64_t k, size_t stride) {
  const auto all = kc::gemv_bulk_search_space(m, n, k);
  std::vector<kc::GemvParams> out;
  for (size_t i = 0; i < all.size(); ++i)
    if (i % stride == 0 || i + 1 == all.size()) out.push_back(all[i]);
  return out;
}

}  // namespace

TEST(GemvBf16Bulk, TheFamilyIsPartOfTheSearchSpace) {
  for (auto [m, n, k] : {std::tuple<int, int64_t, int64_t>{1, 4096, 4096}, {8, 28672, 4096}, {1, 4096, 14336}}) {
    const auto bulk = kc::gemv_bulk_search_space(m, n, k);
    ASSERT_GE(bulk.size(), 12u) << m;
    const auto all = kc::gemv_search_space(m, n, k);
    for (const auto& p : bulk) {
      EXPECT_GT(p.stages, 0);
      EXPECT_TRUE(kc::gemv_params_valid(p, m)) << p.str();
      EXPECT_NE(std::find(all.begin(), all.end(), p), all.end()) << p.str();
      EXPECT_LE(kc::gemv_ring_bytes(p), 192 * 1024);
    }
  }
  kc::GemvParams p;
  EXPECT_EQ(p.stages, 0) << "a default-constructed point is the register path";
  p.stages = 4;
  EXPECT_FALSE(kc::gemv_params_valid(p, 1)) << "stages without a chunk size";
  p.chunk_bytes = 8192;
  EXPECT_TRUE(kc::gemv_params_valid(p, 1));
  p.chunk_bytes = 8192 + 16;
  EXPECT_FALSE(kc::gemv_params_valid(p, 1));
  p.chunk_bytes = 32768;
  p.stages = 8;
  EXPECT_FALSE(kc::gemv_params_valid(p, 1)) << "a 256 KB ring exceeds shared memory";
}

// Every bulk point, store and accumulate, on shapes with row tails (n not a multiple of the rows per block),
// k shorter than one stage's columns and k not a multiple of them, and more row groups than a wave.
TEST(GemvBf16Bulk, EveryBulkScheduleMatchesTheReference) {
  synaptix::testing::cuda_context();
  for (auto [m, n, k] : {std::tuple<int, int64_t, int64_t>{1, 333, 512}, {3, 160, 64}, {8, 1000, 1024}, {5, 77, 264},
                         {1, 40001, 64}, {2, 100, 4104}}) {
    const Case c(m, n, k);
    int checked = 0;
    for (const auto& p : kc::gemv_bulk_search_space(m, n, k)) {
      c.check_plain(p);
      ++checked;
    }
    EXPECT_GT(checked, 0);
    // A ring of short stages (k spans many chunks and wraps the ring several times per row group).
    c.check_plain({4, 1, 2, 1, 0, 1, 0, 2, 4096});
    c.check_accumulate(kc::gemv_bulk_search_space(m, n, k).front());
    kc::GemvParams pf = kc::gemv_bulk_search_space(m, n, k).back();
    pf.prefetch_kb = 8;
    c.check_plain(pf);
  }
}

// Each fusion of the decode path through a sample of the bulk family, on small shapes with tails.
TEST(GemvBf16Bulk, FusedVariantsMatchTheComposedReference) {
  synaptix::testing::cuda_context();
  for (auto [m, n, k] : {std::tuple<int, int64_t, int64_t>{1, 334, 512}, {3, 160, 64}, {8, 1000, 1024}, {2, 30000, 64}}) {
    const Case c(m, n, k);
    for (const auto& p : bulk_points(m, n, k, 5)) {
      c.check_norm(p, false);
      c.check_norm(p, true);
      c.check_gated(p, false);
      c.check_gated(p, true);
      c.check_accumulate_sumsq(p);
      c.check_argmax(p);
    }
  }
}

// Llama-3.1-8B's decode products, each with the fusion the executor gives it, through a sample of the family.
TEST(GemvBf16Bulk, LlamaShapesWithTheirFusions) {
  synaptix::testing::cuda_context();
  const std::vector<kc::GemvParams> sample = bulk_points(1, 4096, 4096, 7);
  {
    const Case qkv(1, 6144, 4096);
    for (const auto& p : sample) qkv.check_norm(p, false);
  }
  {
    const Case o(3, 4096, 4096);
    for (const auto& p : bulk_points(3, 4096, 4096, 7)) o.check_accumulate_sumsq(p);
  }
  {
    const Case gate_up(1, 28672, 4096);
    for (const auto& p : sample) gate_up.check_gated(p, false);
  }
  {
    const Case down(1, 4096, 14336);
    for (const auto& p : bulk_points(1, 4096, 14336, 7)) down.check_accumulate_sumsq(p);
  }
  {
    const Case head(1, 128256, 4096);
    for (const auto& p : sample) head.check_argmax(p);
  }
}

TEST(GemvBf16Bulk, RejectsPointsOutsideTheSpace) {
  synaptix::testing::cuda_context();
  synaptix::backend::cuda::DeviceBuffer a(1 << 16), b(1 << 16), c(1 << 16);
  EXPECT_THROW(kc::gemv_bf16(a.ptr(), b.ptr(), c.ptr(), 1, 8, 64, false, {4, 1, 1, 1, 0, 0, 0, 3, 1000}, nullptr),
               synaptix::Error);
}
