// The weight-format kernels on the device (kernels/linear/cuda/quant_gemv_cuda.h) against the formats' CPU
// dequantization reference (quant::dequantize_rows): random weights packed by the CPU's round-to-nearest
// quantizer, random x, outputs poisoned (NaN bytes) before each run. The GEMV for every format, m 1..8, stored
// and accumulated, under the default and two other schedules (rows not a multiple of the warps, units not a
// multiple of a warp's loads); the bf16 expansion bit for bit against the reference rounded to bf16. Needs a
// GPU (run by bench/gpu/run.sh); skipped without one.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "synaptix/backend/cuda/device_buffer.h"
#include "synaptix/backend/cuda/launch/quant_gemv.h"
#include "synaptix/core/dtype.h"
#include "synaptix/core/error.h"
#include "synaptix/hw/cuda/driver.h"
#include "synaptix/quant/weight_format.h"
#include "synaptix/quant/weight_quantize.h"
#include "support/cuda_device.h"

namespace kc = synaptix::kernels::cuda;
namespace quant = synaptix::quant;
using synaptix::DType;
using synaptix::testing::device_sync;
using synaptix::testing::poisoned;
using synaptix::testing::upload;

namespace {

std::vector<float> random_f32(size_t n, float scale) {
  std::uniform_real_distribution<float> u(-scale, scale);
  std::vector<float> v(n);
  for (float& x : v) x = u(synaptix::testing::test_rng());
  return v;
}

// k for a format: three groups of 128 elements (every group size divides it) plus, for per-channel formats,
// a tail that is not a multiple of a warp's 4-element units.
int64_t k_for(const quant::WeightFormat& f) { return f.group == 0 ? 3 * 128 + 36 : 3 * 128; }

struct Packed {
  std::vector<uint8_t> bytes;
  std::vector<float> w;  // the reference's dequantized values
};

Packed random_packed(const quant::WeightFormat& f, int64_t n, int64_t k) {
  std::vector<float> w = random_f32(static_cast<size_t>(n * k), 1.0f);
  // Rows of different magnitudes, so a scale applied to the wrong row shows.
  for (int64_t r = 0; r < n; ++r)
    for (int64_t i = 0; i < k; ++i) w[static_cast<size_t>(r * k + i)] *= 0.25f + static_cast<float>(r % 7);
  Packed p;
  p.bytes.resize(static_cast<size_t>(n * quant::weight_row_bytes(f, k)));
  quant::quantize_rows(f, w.data(), n, k, p.bytes.data());
  p.w.resize(w.size());
  quant::dequantize_rows(f, p.bytes.data(), n, k, p.w.data());
  return p;
}

// max |got - want| / max |want|; NaN anywhere is infinite error.
double rel_err(const std::vector<float>& got, const std::vector<double>& want) {
  double num = 0, den = 1e-30;
  for (size_t i = 0; i < want.size(); ++i) {
    if (!std::isfinite(got[i])) return INFINITY;
    num = std::max(num, std::fabs(got[i] - want[i]));
    den = std::max(den, std::fabs(want[i]));
  }
  return num / den;
}

// One GEMV against the reference: y (+)= x W^T for m rows of x.
void check_gemv(const quant::WeightFormat& f, int m, int64_t n, const kc::QuantGemvParams* params, bool accumulate) {
  const int64_t k = k_for(f);
  const Packed p = random_packed(f, n, k);
  const std::vector<float> x = random_f32(static_cast<size_t>(m * k), 1.0f);
  const std::vector<float> y0 = random_f32(static_cast<size_t>(m * n), 1.0f);
  std::vector<double> want(static_cast<size_t>(m * n));
  for (int j = 0; j < m; ++j)
    for (int64_t r = 0; r < n; ++r) {
      double s = accumulate ? y0[static_cast<size_t>(j * n + r)] : 0.0;
      for (int64_t i = 0; i < k; ++i) s += static_cast<double>(x[static_cast<size_t>(j * k + i)]) * p.w[static_cast<size_t>(r * k + i)];
      want[static_cast<size_t>(j * n + r)] = s;
    }
  auto dw = upload(p.bytes);
  auto dx = upload(x);
  auto dy = accumulate ? upload(y0) : poisoned(static_cast<size_t>(m * n) * 4);
  if (params) kc::quant_gemv(f.dtype, dx.ptr(), dw.ptr(), dy.ptr(), m, n, k, accumulate, nullptr, *params);
  else kc::quant_gemv(f.dtype, dx.ptr(), dw.ptr(), dy.ptr(), m, n, k, accumulate, nullptr);
  device_sync();
  std::vector<float> got(static_cast<size_t>(m * n));
  dy.download(got.data(), got.size() * 4);
  EXPECT_LT(rel_err(got, want), 1e-5) << f.name << " m=" << m << " n=" << n << " k=" << k
                                      << (params ? " schedule " + params->str() : " default schedule")
                                      << (accumulate ? " accumulate" : "");
}

}  // namespace

TEST(QuantGemvDevice, EveryFormatMatchesItsDequantizationReference) {
  SKIP_WITHOUT_DEVICE();
  synaptix::testing::cuda_context();
  for (const quant::WeightFormat& f : quant::weight_formats())
    for (int m = 1; m <= 8; ++m) check_gemv(f, m, 37, nullptr, m % 2 == 0);
}

TEST(QuantGemvDevice, SchedulesWithTailsMatchTheReference) {
  SKIP_WITHOUT_DEVICE();
  synaptix::testing::cuda_context();
  const kc::QuantGemvParams odd{3, 1, 1}, wide{16, 8, 3};
  for (const quant::WeightFormat& f : quant::weight_formats())
    for (int m : {1, 5}) {
      check_gemv(f, m, 50, &odd, false);
      check_gemv(f, m, 50, &wide, true);
    }
}

TEST(QuantGemvDevice, Bf16ExpansionIsTheReferenceRounded) {
  SKIP_WITHOUT_DEVICE();
  synaptix::testing::cuda_context();
  for (const quant::WeightFormat& f : quant::weight_formats()) {
    const int64_t n = 29, k = k_for(f);
    const Packed p = random_packed(f, n, k);
    auto dw = upload(p.bytes);
    auto out = poisoned(static_cast<size_t>(n * k) * 2);
    kc::quant_dequantize_bf16(f.dtype, dw.ptr(), out.ptr(), n, k, nullptr);
    device_sync();
    std::vector<uint16_t> got(static_cast<size_t>(n * k));
    out.download(got.data(), got.size() * 2);
    int64_t mismatches = 0;
    for (size_t i = 0; i < got.size(); ++i) mismatches += got[i] != synaptix::f32_to_bf16(p.w[i]);
    EXPECT_EQ(mismatches, 0) << f.name;
  }
}

TEST(QuantGemvDevice, RefusesShapesAndDtypesWithoutAForm) {
  SKIP_WITHOUT_DEVICE();
  synaptix::testing::cuda_context();
  synaptix::backend::cuda::DeviceBuffer a(1 << 16), b(1 << 16), c(1 << 16);
  // k not whole groups of 128, m outside 1..8, a dtype that is not a weight format, a misaligned x.
  EXPECT_THROW(kc::quant_gemv(DType::W4_G128, a.ptr(), b.ptr(), c.ptr(), 1, 8, 192, false, nullptr), synaptix::Error);
  EXPECT_THROW(kc::quant_gemv(DType::FP8_PC, a.ptr(), b.ptr(), c.ptr(), 9, 8, 128, false, nullptr), synaptix::Error);
  EXPECT_THROW(kc::quant_gemv(DType::Q4_0, a.ptr(), b.ptr(), c.ptr(), 1, 8, 128, false, nullptr), synaptix::Error);
  EXPECT_THROW(kc::quant_gemv(DType::W8_PC, a.ptr() + 4, b.ptr(), c.ptr(), 1, 8, 128, false, nullptr), synaptix::Error);
  EXPECT_THROW(kc::quant_dequantize_bf16(DType::MXFP4, b.ptr(), c.ptr(), 8, 48, nullptr), synaptix::Error);
  try {
    kc::quant_gemv(DType::W4_G64, a.ptr(), b.ptr(), c.ptr(), 1, 8, 96, false, nullptr);
    ADD_FAILURE() << "no error for k = 96 in int4-g64";
  } catch (const synaptix::Error& e) {
    EXPECT_NE(std::string(e.what()).find("int4-g64"), std::string::npos) << e.what();
  }
}
