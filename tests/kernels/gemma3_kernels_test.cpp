// The references gemma3 adds: GELU-tanh gated MLP activation, logit soft-capping (attention scores and final
// logits), and the sliding-window layers' own rotary table.
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include "synaptix/kernels/attention/reference.h"
#include "synaptix/kernels/geglu/reference.h"
#include "synaptix/kernels/rope/reference.h"
#include "synaptix/kernels/softcap/reference.h"

using namespace synaptix;

TEST(GeluTanh, MatchesTheTanhFormula) {
  // PyTorch's documented gelu(x, approximate="tanh") formula evaluated in double precision.
  const std::vector<std::pair<float, float>> cases = {{-3.0f, -0.0036373921f}, {-1.0f, -0.1588080094f}, {0.0f, 0.0f},
                                                      {0.5f, 0.3457140098f},   {1.0f, 0.8411919906f},   {2.0f, 1.9545976941f}};
  for (auto [x, want] : cases) EXPECT_NEAR(kernels::gelu_tanh(x), want, 1e-6f) << "x = " << x;
  // It is the tanh approximation, not the erf GELU (0.8413447 at 1).
  EXPECT_GT(std::fabs(kernels::gelu_tanh(1.0f) - 0.5f * (1.0f + std::erf(1.0f / std::sqrt(2.0f)))), 1e-4f);
}

TEST(GeluTanh, GatedProductAndAliasing) {
  std::vector<float> gate = {-2.0f, -0.5f, 0.25f, 3.0f}, up = {1.5f, -2.0f, 4.0f, 0.5f}, out(4);
  kernels::geglu_tanh_reference(gate.data(), up.data(), out.data(), 4);
  for (size_t i = 0; i < 4; ++i) EXPECT_FLOAT_EQ(out[i], kernels::gelu_tanh(gate[i]) * up[i]);
  kernels::geglu_tanh_reference(gate.data(), up.data(), gate.data(), 4);  // in place over gate
  EXPECT_EQ(gate, out);
}

TEST(Softcap, BoundsAndKeepsOrder) {
  std::vector<float> x = {-1000.0f, -30.0f, -1.0f, 0.0f, 0.5f, 29.0f, 1e6f};
  std::vector<float> y = x;
  kernels::softcap_reference(y.data(), static_cast<int64_t>(y.size()), 30.0f);
  for (size_t i = 0; i < y.size(); ++i) {
    EXPECT_LE(std::fabs(y[i]), 30.0f);
    EXPECT_NEAR(y[i], 30.0 * std::tanh(x[i] / 30.0), 1e-5);
    if (i > 0) {
      EXPECT_GE(y[i], y[i - 1]);
    }
  }
  EXPECT_NEAR(y[4], 0.5f, 1e-3f);  // near zero it is almost the identity
}

TEST(Softcap, AttentionScoresAreCappedBeforeTheSoftmax) {
  const int64_t heads = 2, kv_heads = 1, hd = 8, n = 5, bs = 4;
  std::mt19937 rng(5);
  std::normal_distribution<float> nd(0.0f, 3.0f);
  std::vector<float> q(heads * hd), k(8 * hd), v(8 * hd);
  for (auto* vec : {&q, &k, &v})
    for (auto& e : *vec) e = nd(rng);
  std::vector<int32_t> table = {1, 0};
  kernels::PagedKv kv{k.data(), v.data(), bs, kv_heads, hd, table.data()};
  std::vector<float> plain(heads * hd), huge_cap(heads * hd), capped(heads * hd), want(heads * hd, 0.0f);
  kernels::attention_decode_reference(q.data(), heads, kv, n - 1, 0, 0.5f, plain.data());
  kernels::attention_decode_reference(q.data(), heads, kv, n - 1, 0, 0.5f, huge_cap.data(), 1e6f);
  kernels::attention_decode_reference(q.data(), heads, kv, n - 1, 0, 0.5f, capped.data(), 2.0f);
  for (int64_t i = 0; i < heads * hd; ++i) EXPECT_NEAR(plain[i], huge_cap[i], 1e-5f);
  // The capped scores by hand: softmax over 2 tanh(s / 2) of the scaled dot products.
  for (int64_t h = 0; h < heads; ++h) {
    std::vector<double> w(n);
    double sum = 0;
    for (int64_t p = 0; p < n; ++p) {
      const int64_t slot = table[p / bs] * bs + p % bs;
      double s = 0;
      for (int64_t d = 0; d < hd; ++d) s += q[h * hd + d] * k[slot * hd + d];
      w[p] = std::exp(2.0 * std::tanh(0.5 * s / 2.0));
      sum += w[p];
    }
    for (int64_t p = 0; p < n; ++p) {
      const int64_t slot = table[p / bs] * bs + p % bs;
      for (int64_t d = 0; d < hd; ++d) want[h * hd + d] += static_cast<float>(w[p] / sum) * v[slot * hd + d];
    }
  }
  for (int64_t i = 0; i < heads * hd; ++i) EXPECT_NEAR(capped[i], want[i], 1e-4f) << i;
  double diff = 0;
  for (int64_t i = 0; i < heads * hd; ++i) diff = std::max(diff, static_cast<double>(std::fabs(capped[i] - plain[i])));
  EXPECT_GT(diff, 1e-2);
}

TEST(SlidingRope, SlidingLayersUseTheirOwnBase) {
  model::Spec s;
  s.head_dim = 16;
  s.num_layers = 2;
  s.dtype = DType::F32;
  s.rope_theta = 1000000.0;
  s.sliding_rope_theta = 10000.0;
  s.sliding_window = 4;
  s.layer_sliding = {true, false};
  const auto local = kernels::make_layer_rope_table(s, 0), global = kernels::make_layer_rope_table(s, 1);
  ASSERT_EQ(local.inv_freq.size(), 8u);
  for (size_t i = 0; i < 8; ++i) {
    EXPECT_FLOAT_EQ(local.inv_freq[i], static_cast<float>(std::pow(10000.0, -2.0 * i / 16.0)));
    EXPECT_FLOAT_EQ(global.inv_freq[i], static_cast<float>(std::pow(1000000.0, -2.0 * i / 16.0)));
  }
  s.sliding_rope_theta = 0;  // no own base: every layer rotates as the global ones
  EXPECT_EQ(kernels::make_layer_rope_table(s, 0).inv_freq, global.inv_freq);
}
