// linear with Synaptix's weight formats (int8-pc, fp8-e4m3-pc, int4-gG[-asym], mxfp4): the runtime default
// (linear_default, which runs linear_quant_default and quant_formats.h) against the format's dequantization
// reference (quant::dequantize_rows) followed by the f32 linear computed in double, on random weights quantized
// to nearest, at decode and prefill shapes (m 1..9) with row tails, bias and a NaN-poisoned output; the
// vectorised row expansion equal to the reference; rows that are not whole groups refused.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "synaptix/core/error.h"
#include "synaptix/kernels/linear/quant_formats.h"
#include "synaptix/kernels/linear/quant_reference.h"
#include "synaptix/kernels/linear/reference.h"
#include "synaptix/quant/block_dtype.h"
#include "synaptix/quant/weight_format.h"
#include "synaptix/quant/weight_quantize.h"

using namespace synaptix;

namespace {

std::vector<float> normal_floats(size_t n, std::mt19937& rng, float spread) {
  std::normal_distribution<float> d(0.0f, spread);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

struct Quantized {
  std::vector<uint8_t> packed;
  std::vector<float> values;  // the reference dequantization
};

Quantized quantized(const quant::WeightFormat& f, int64_t n, int64_t k, std::mt19937& rng) {
  auto w = normal_floats(static_cast<size_t>(n * k), rng, 0.05f);
  w[3] = 0.7f;  // an outlier: its group's scale differs from the others
  Quantized q{std::vector<uint8_t>(static_cast<size_t>(n * quant::row_bytes(f.dtype, k))), std::vector<float>(w.size())};
  quant::quantize_rows(f, w.data(), n, k, q.packed.data());
  quant::dequantize_rows(f, q.packed.data(), n, k, q.values.data());
  return q;
}

void check_against_reference(void (*fn)(const kernels::LinearArgs&), const char* name, const quant::WeightFormat& f,
                             int64_t m, int64_t n, int64_t k, bool with_bias, std::mt19937& rng) {
  const Quantized w = quantized(f, n, k, rng);
  const auto x = normal_floats(static_cast<size_t>(m * k), rng, 1.0f);
  const auto bias = normal_floats(static_cast<size_t>(n), rng, 0.1f);
  std::vector<float> y(static_cast<size_t>(m * n), std::numeric_limits<float>::quiet_NaN());
  fn({x.data(), w.packed.data(), f.dtype, with_bias ? bias.data() : nullptr, y.data(), m, n, k});
  for (int64_t r = 0; r < m; ++r)
    for (int64_t j = 0; j < n; ++j) {
      double want = with_bias ? bias[static_cast<size_t>(j)] : 0.0, abs_sum = std::fabs(want);
      for (int64_t i = 0; i < k; ++i) {
        const double t = static_cast<double>(x[static_cast<size_t>(r * k + i)]) * w.values[static_cast<size_t>(j * k + i)];
        want += t, abs_sum += std::fabs(t);
      }
      const float got = y[static_cast<size_t>(r * n + j)];
      const double tol = 4.0 * std::numeric_limits<float>::epsilon() * std::sqrt(static_cast<double>(k)) * abs_sum + 1e-30;
      ASSERT_TRUE(std::isfinite(got)) << name << " " << f.name << " m=" << m << " n=" << n << " k=" << k << " at " << r << "," << j;
      ASSERT_LE(std::fabs(got - want), tol) << name << " " << f.name << " m=" << m << " n=" << n << " k=" << k << " at "
                                            << r << "," << j << ": got " << got << ", want " << want;
    }
}

}  // namespace

TEST(LinearWeightFormat, DefaultMatchesTheDequantizationReference) {
  std::mt19937 rng(1818);
  for (const quant::WeightFormat& f : quant::weight_formats()) {
    const int64_t g = f.group ? f.group : 32;
    for (int64_t m = 1; m <= 9; ++m) {
      // n = 37: rows beyond whole thread chunks and register tiles; k = 2 groups (or 96 per channel).
      check_against_reference(kernels::linear_default, "default", f, m, 37, f.group ? 2 * g : 96, m % 2 == 1, rng);
    }
    check_against_reference(kernels::linear_default, "default", f, 2, 19, 4 * g, true, rng);
    check_against_reference(kernels::linear_reference, "reference", f, 3, 11, 2 * g, true, rng);
  }
}

TEST(LinearWeightFormat, PerChannelRowsOfAnyLength) {
  std::mt19937 rng(7);
  for (DType t : {DType::W8_PC, DType::FP8_PC})
    for (int64_t k : {1, 17, 40, 100})  // not multiples of 32: the f32 panel path with its scalar tail
      for (int64_t m : {1, 3, 8})
        check_against_reference(kernels::linear_default, "default", *quant::weight_format(t), m, 21, k, true, rng);
}

TEST(LinearWeightFormat, VectorRowsEqualTheReference) {
  std::mt19937 rng(3);
  for (const quant::WeightFormat& f : quant::weight_formats()) {
    const int64_t k = 256;
    const Quantized w = quantized(f, 3, k, rng);
    std::vector<float> row(static_cast<size_t>(k), std::numeric_limits<float>::quiet_NaN());
    for (int64_t r = 0; r < 3; ++r) {
      kernels::dequantize_weight_format_row(f.dtype, w.packed.data() + r * quant::row_bytes(f.dtype, k), k, row.data());
      for (int64_t i = 0; i < k; ++i)
        ASSERT_EQ(row[static_cast<size_t>(i)], w.values[static_cast<size_t>(r * k + i)]) << f.name << " row " << r << " element " << i;
    }
  }
}

TEST(LinearWeightFormat, RowsThatAreNotWholeGroupsAreRefused) {
  std::vector<float> x(96, 1.0f), y(2);
  std::vector<uint8_t> w(4096);
  for (DType t : {DType::W4_G128, DType::W4A_G64, DType::MXFP4}) {
    try {
      kernels::linear_default({x.data(), w.data(), t, nullptr, y.data(), 1, 2, 48});
      FAIL() << dtype_name(t) << " accepted k = 48";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(std::string(dtype_name(t))), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("48"), std::string::npos) << e.what();
    }
  }
}
