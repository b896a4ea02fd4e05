// The kernels Gemma 3 adds on the GPU, against the CPU references (fresh random inputs, outputs poisoned with
// NaN bytes so an unwritten element fails): GeGLU (tanh GELU) as its own kernel and as the decode GEMV's
// epilogue, the post-norm residual add, and the embedding scale. Needs a GPU (run by bench/gpu/run.sh).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "synaptix/backend/cuda/launch/embedding.h"
#include "synaptix/backend/cuda/launch/gemv_bf16.h"
#include "synaptix/backend/cuda/launch/rmsnorm.h"
#include "synaptix/backend/cuda/launch/swiglu.h"
#include "synaptix/core/dtype.h"
#include "synaptix/kernels/geglu/reference.h"
#include "synaptix/kernels/linear/reference.h"
#include "synaptix/kernels/rmsnorm/reference.h"
#include "support/cuda_device.h"

namespace kc = synaptix::kernels::cuda;
namespace kr = synaptix::kernels;
using synaptix::testing::device_sync;
using synaptix::testing::rel_err;
using synaptix::testing::poisoned;
using synaptix::testing::upload;

namespace {

std::vector<float> random_f32(size_t n, float scale) {
  std::uniform_real_distribution<float> u(-scale, scale);
  std::vector<float> v(n);
  for (float& x : v) x = u(synaptix::testing::test_rng());
  return v;
}

// gelu_tanh(gate) * up over rows of interleaved gate/up columns (the device weights' gate_up layout).
std::vector<float> geglu_of_interleaved(const std::vector<float>& gu, int64_t m, int64_t inter) {
  std::vector<float> out(static_cast<size_t>(m * inter)), g(static_cast<size_t>(inter)), u(g.size());
  for (int64_t r = 0; r < m; ++r) {
    for (int64_t c = 0; c < inter; ++c) {
      g[static_cast<size_t>(c)] = gu[static_cast<size_t>(r * 2 * inter + 2 * c)];
      u[static_cast<size_t>(c)] = gu[static_cast<size_t>(r * 2 * inter + 2 * c + 1)];
    }
    kr::geglu_tanh_reference(g.data(), u.data(), out.data() + r * inter, inter);
  }
  return out;
}

TEST(GeGlu, KernelMatchesTheReference) {
  synaptix::testing::cuda_context();
  const int64_t m = 5, inter = 1000;
  const auto gu = random_f32(static_cast<size_t>(m * 2 * inter), 6.0f);
  const auto ref = geglu_of_interleaved(gu, m, inter);
  auto dg = upload(gu);
  auto dy = poisoned(ref.size() * 4);
  kc::geglu_tanh(dg.ptr(), dy.ptr(), m, inter, false, nullptr);
  device_sync();
  EXPECT_LT(rel_err(dy.to_host<float>(ref.size()), ref), 1e-5);
}

TEST(GeGlu, GemvEpilogueMatchesTheReferenceForEverySchedule) {
  synaptix::testing::cuda_context();
  const int64_t inter = 320, n = 2 * inter, k = 640;  // gemma-3-270m's hidden width
  const auto w = random_f32(static_cast<size_t>(n * k), 1.0f / 16);
  std::vector<uint16_t> wb(w.size());
  for (size_t i = 0; i < w.size(); ++i) wb[i] = synaptix::f32_to_bf16(w[i]);
  auto dw = upload(wb);
  for (int m : {1, 3, 8}) {
    const auto x = random_f32(static_cast<size_t>(m * k), 1.0f);
    std::vector<float> gu(static_cast<size_t>(m * n));
    kr::linear_reference({x.data(), wb.data(), synaptix::DType::BF16, nullptr, gu.data(), m, n, k});
    const auto ref = geglu_of_interleaved(gu, m, inter);
    auto dx = upload(x);
    int checked = 0;
    for (const auto& p0 : kc::gemv_search_space(m, n, k)) {
      kc::GemvFusion f{kc::GemvInput::Plain, kc::GemvOutput::GeGlu, 0, 0, 1e-6f, 0};
      const kc::GemvParams p = kc::gemv_fit_params(p0, m, f);
      auto dy = poisoned(ref.size() * 4);
      kc::gemv_bf16(dx.ptr(), dw.ptr(), dy.ptr(), m, n, k, false, p, nullptr, f);
      device_sync();
      EXPECT_LT(rel_err(dy.to_host<float>(ref.size()), ref), 1e-5) << "m=" << m << " " << p.str();
      ++checked;
    }
    EXPECT_GT(checked, 0);
  }
}

TEST(RmsNormAdd, AddsTheNormedSublayerOutputToTheResidual) {
  synaptix::testing::cuda_context();
  const int64_t rows = 7, dim = 640;
  const float eps = 1e-6f;
  const auto t = random_f32(static_cast<size_t>(rows * dim), 3.0f), res = random_f32(t.size(), 1.0f);
  const auto w = random_f32(static_cast<size_t>(dim), 2.0f);
  std::vector<float> want(t.size());
  kr::rmsnorm_reference(t.data(), w.data(), want.data(), rows, dim, eps);
  for (size_t i = 0; i < want.size(); ++i) want[i] += res[i];
  auto dt = upload(t), dw = upload(w), dr = upload(res);
  kc::rmsnorm_add(dt.ptr(), dw.ptr(), dr.ptr(), rows, dim, eps, nullptr);
  device_sync();
  EXPECT_LT(rel_err(dr.to_host<float>(want.size()), want), 1e-5);
}

TEST(EmbeddingScale, ScalesEveryElement) {
  synaptix::testing::cuda_context();
  const auto x = random_f32(100003, 1.0f);
  std::vector<float> want(x);
  for (float& v : want) v *= 25.25f;
  auto dx = upload(x);
  kc::scale_embeddings(dx.ptr(), static_cast<int64_t>(x.size()), 25.25f, nullptr);
  device_sync();
  EXPECT_EQ(rel_err(dx.to_host<float>(want.size()), want), 0.0);
}

}  // namespace
