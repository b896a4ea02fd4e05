// The multi-threaded default kernels equal the plain reference loops on random shapes and all weight dtypes.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "synaptix/kernels/linear/reference.h"
#include "synaptix/kernels/moe/reference.h"
#include "synaptix/kernels/rope/reference.h"

using namespace synaptix;

namespace {

// n normal values stored as dtype dt (bf16, f16 or f32).
std::vector<uint8_t> random_weights(DType dt, int64_t n, std::mt19937& rng) {
  std::normal_distribution<float> nd;
  std::vector<uint8_t> w(static_cast<size_t>(n) * dtype_size(dt));
  for (int64_t i = 0; i < n; ++i) {
    const float f = nd(rng);
    if (dt == DType::BF16) reinterpret_cast<uint16_t*>(w.data())[i] = f32_to_bf16(f);
    else if (dt == DType::F16) reinterpret_cast<uint16_t*>(w.data())[i] = f32_to_f16(f);
    else reinterpret_cast<float*>(w.data())[i] = f;
  }
  return w;
}

}  // namespace

TEST(Linear, DefaultEqualsReference) {
  std::mt19937 rng(1);
  std::normal_distribution<float> nd;
  for (DType dt : {DType::BF16, DType::F16, DType::F32}) {
    for (auto [m, n, k] : {std::tuple<int64_t, int64_t, int64_t>{1, 33, 17}, {5, 64, 256}, {9, 7, 1000}, {4, 128, 64},
                              {1, 130, 576}, {2, 67, 40}, {3, 9, 1537},
                              // decode batches: the GEMV up to 16 rows (x rows in chunks of 4), then the GEMM
                              {6, 21, 96}, {8, 36, 130}, {16, 40, 64}, {17, 12, 48}}) {
      std::vector<float> x(static_cast<size_t>(m * k)), bias(static_cast<size_t>(n));
      for (auto& v : x) v = nd(rng);
      for (auto& v : bias) v = nd(rng);
      const std::vector<uint8_t> w = random_weights(dt, n * k, rng);
      std::vector<float> y0(static_cast<size_t>(m * n), NAN), y1(y0.size(), NAN);
      kernels::linear_reference({x.data(), w.data(), dt, bias.data(), y0.data(), m, n, k});
      kernels::linear_default({x.data(), w.data(), dt, bias.data(), y1.data(), m, n, k});
      for (size_t i = 0; i < y0.size(); ++i)
        ASSERT_NEAR(y0[i], y1[i], 1e-4 * std::sqrt(static_cast<double>(k))) << dtype_name(dt) << " m=" << m << " i=" << i;
    }
  }
}

TEST(MoeRoute, TopKNormalized) {
  const float logits[4] = {0.0f, 2.0f, 1.0f, 2.0f};
  auto c = kernels::moe_route_reference(logits, 4, 2, true);
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0].expert, 1);  // tie broken towards the lower index
  EXPECT_EQ(c[1].expert, 3);
  EXPECT_NEAR(c[0].weight + c[1].weight, 1.0f, 1e-6);
  auto u = kernels::moe_route_reference(logits, 4, 2, false);
  EXPECT_LT(u[0].weight + u[1].weight, 0.9f);
}

TEST(Rope, Llama3ScalingKeepsHighFrequenciesAndSlowsLowOnes) {
  model::Spec s;
  s.head_dim = 64;
  s.rope_theta = 500000.0;
  s.max_position_embeddings = 8192;
  s.dtype = DType::F32;
  auto plain = kernels::make_rope_table(s);
  s.rope_scaling.type = "llama3";
  s.rope_scaling.factor = 8.0;
  s.rope_scaling.original_max_position_embeddings = 8192;
  auto scaled = kernels::make_rope_table(s);
  EXPECT_FLOAT_EQ(scaled.inv_freq.front(), plain.inv_freq.front());
  EXPECT_NEAR(scaled.inv_freq.back(), plain.inv_freq.back() / 8.0f, 1e-12);
  // A rotation preserves the norm of each pair.
  std::vector<float> v(64);
  for (int i = 0; i < 64; ++i) v[i] = static_cast<float>(i % 7) - 3.0f;
  double n0 = 0, n1 = 0;
  for (float f : v) n0 += f * f;
  kernels::rope_reference(v.data(), 1, 64, 1234, scaled);
  for (float f : v) n1 += f * f;
  EXPECT_NEAR(n0, n1, 1e-3);
}

// Prefill-sized products take the register-blocked GEMM (m >= 8): every dtype, row and column tails (n not a
// multiple of 32, m not a multiple of 12), odd k (the gather packing's scalar tail), with and without bias.
TEST(Linear, PrefillGemmEqualsReference) {
  std::mt19937 rng(2);
  std::normal_distribution<float> nd;
  for (DType dt : {DType::BF16, DType::F16, DType::F32})
    for (auto [m, n, k] : {std::tuple<int64_t, int64_t, int64_t>{8, 32, 64}, {13, 70, 33}, {40, 96, 576}, {25, 17, 7}}) {
      for (bool with_bias : {true, false}) {
        std::vector<float> x(static_cast<size_t>(m * k)), bias(static_cast<size_t>(n));
        for (auto& v : x) v = nd(rng);
        for (auto& v : bias) v = nd(rng);
        const std::vector<uint8_t> w = random_weights(dt, n * k, rng);
        const float* b = with_bias ? bias.data() : nullptr;
        std::vector<float> y0(static_cast<size_t>(m * n), NAN), y1(y0.size(), NAN);
        kernels::linear_reference({x.data(), w.data(), dt, b, y0.data(), m, n, k});
        kernels::linear_default({x.data(), w.data(), dt, b, y1.data(), m, n, k});
        for (size_t i = 0; i < y0.size(); ++i)
          ASSERT_NEAR(y0[i], y1[i], 1e-4 * std::sqrt(static_cast<double>(k)))
              << dtype_name(dt) << " m=" << m << " n=" << n << " k=" << k << " i=" << i;
      }
    }
}

// Several products of one x in one parallel region (q/k/v, gate/up) give each part what linear_reference
// gives it alone: parts of odd row counts (the 4-row groups straddle the parts' ends), decode batches of 1 to
// 16 rows, and a mix of dtypes (the parts the fused path does not take run one by one).
TEST(Linear, DefaultMultiEqualsReferencePerPart) {
  std::mt19937 rng(5);
  std::normal_distribution<float> nd;
  for (int64_t m : {1, 3, 16, 20}) {
    for (bool mixed : {false, true}) {
      const int64_t k = 96;
      const std::vector<int64_t> ns{67, 5, 130};
      const std::vector<DType> dts{DType::BF16, mixed ? DType::F32 : DType::BF16, DType::BF16};
      std::vector<float> x(static_cast<size_t>(m * k));
      for (auto& v : x) v = nd(rng);
      std::vector<std::vector<uint8_t>> ws;
      std::vector<std::vector<float>> biases, got, want;
      std::vector<kernels::LinearArgs> parts;
      for (size_t p = 0; p < ns.size(); ++p) {
        ws.push_back(random_weights(dts[p], ns[p] * k, rng));
        biases.emplace_back(static_cast<size_t>(ns[p]));
        for (auto& v : biases.back()) v = nd(rng);
        got.emplace_back(static_cast<size_t>(m * ns[p]), std::nanf(""));  // poisoned: every output written
        want.emplace_back(static_cast<size_t>(m * ns[p]));
      }
      for (size_t p = 0; p < ns.size(); ++p) {
        const float* b = p == 1 ? nullptr : biases[p].data();
        parts.push_back({x.data(), ws[p].data(), dts[p], b, got[p].data(), m, ns[p], k});
        kernels::linear_reference({x.data(), ws[p].data(), dts[p], b, want[p].data(), m, ns[p], k});
      }
      kernels::linear_default_multi(parts);
      for (size_t p = 0; p < ns.size(); ++p)
        for (size_t i = 0; i < want[p].size(); ++i)
          ASSERT_NEAR(got[p][i], want[p][i], 1e-3f * (1.0f + std::fabs(want[p][i])))
              << "m=" << m << " part " << p << " element " << i << (mixed ? " (mixed dtypes)" : "");
    }
  }
}
