// The W8A8 FP8 product on the device against the CPU: activations quantized per token exactly as the
// fp8-e4m3-pc quantizer rounds a row (quant/weight_quantize.h: codes and scales compared bit for bit), the
// weights quantized by that quantizer and unpacked on the device, and the product against the reference
// sum over k of (dequantized x) x (dequantized W) in double: the only differences are f32 accumulation
// order (and, with fast accumulation, Hopper's narrower FP8 partial sums). Both ways of applying the scales
// (cuBLASLt's outer-vector mode where offered, our kernel otherwise) are checked. Outputs poisoned. Needs a GPU.
#include <gtest/gtest.h>

#include <cmath>
#include <algorithm>
#include <random>
#include <stdexcept>
#include <tuple>
#include <vector>

#include "synaptix/backend/cuda/cublaslt_fp8.h"
#include "synaptix/backend/cuda/device_buffer.h"
#include "synaptix/backend/cuda/launch/fp8_w8a8.h"
#include "synaptix/core/error.h"
#include "synaptix/hw/cuda/driver.h"
#include "synaptix/quant/minifloat.h"
#include "synaptix/quant/weight_format.h"
#include "synaptix/quant/weight_quantize.h"
#include "support/cuda_device.h"

namespace bc = synaptix::backend::cuda;
namespace kc = synaptix::kernels::cuda;
namespace q = synaptix::quant;

namespace {

using synaptix::testing::device_sync;
using synaptix::testing::poisoned;
using synaptix::testing::upload;
synaptix::hw::cuda::Context& ctx() { return synaptix::testing::cuda_context(); }

const q::WeightFormat& fp8() {
  const q::WeightFormat* f = q::weight_format_named("fp8-e4m3-pc");
  if (!f) throw std::runtime_error("no fp8-e4m3-pc format");
  return *f;
}

// One product: x f32 [m, k] (a few rows with outliers, one all-zero row), W f32 [n, k] quantized by the CPU.
struct Fp8Case {
  int64_t m, n, k;
  std::vector<float> x;
  std::vector<uint8_t> w_packed;  // fp8-e4m3-pc rows
  std::vector<uint8_t> xq;        // the CPU's codes of x
  std::vector<float> xs;          // and scales
  std::vector<double> ref;        // y [m, n]

  Fp8Case(int64_t m_, int64_t n_, int64_t k_) : m(m_), n(n_), k(k_) {
    std::mt19937 rng(static_cast<unsigned>(m * 131 + n * 7 + k));
    std::normal_distribution<float> g(0.0f, 1.0f);
    x.resize(static_cast<size_t>(m * k));
    for (float& v : x) v = g(rng);
    for (int64_t i = 0; i < m; i += 5) x[static_cast<size_t>(i * k + (i % k))] *= 60.0f;  // outliers set the scale
    if (m > 2)
      for (int64_t c = 0; c < k; ++c) x[static_cast<size_t>(2 * k + c)] = 0.0f;  // a zero row: scale 0, output 0
    std::vector<float> w(static_cast<size_t>(n * k));
    for (float& v : w) v = 0.05f * g(rng);
    const q::WeightFormat& f = fp8();
    w_packed.resize(static_cast<size_t>(n * q::weight_row_bytes(f, k)));
    q::quantize_rows(f, w.data(), n, k, w_packed.data());
    std::vector<float> wd(w.size());
    q::dequantize_rows(f, w_packed.data(), n, k, wd.data());
    // x per row with the format's own rounding.
    xq.resize(x.size());
    xs.resize(static_cast<size_t>(m));
    std::vector<double> xd(x.size());
    for (int64_t i = 0; i < m; ++i) {
      const float* row = &x[static_cast<size_t>(i * k)];
      const q::GroupParams p = q::choose_params(f, row, k);
      xs[static_cast<size_t>(i)] = p.scale;
      for (int64_t c = 0; c < k; ++c) {
        const uint8_t code = q::quantize_code(f, p, row[c]);
        xq[static_cast<size_t>(i * k + c)] = code;
        xd[static_cast<size_t>(i * k + c)] = static_cast<double>(q::code_value(f, p, code));
      }
    }
    ref.assign(static_cast<size_t>(m * n), 0.0);
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double s = 0;
        for (int64_t c = 0; c < k; ++c) s += xd[static_cast<size_t>(i * k + c)] * wd[static_cast<size_t>(j * k + c)];
        ref[static_cast<size_t>(i * n + j)] = s;
      }
  }
};

// Hopper's FP8 tensor cores keep partial sums with about 14 mantissa bits; cuBLASLt promotes them to f32 at
// intervals unless fast accumulation is on. Bounds relative to the largest output; a misplaced scale (per-row
// for per-column, or none) is off by O(1).
constexpr double kTol = 2e-3, kFastTol = 2e-2;

// max |a - b| / max |b|; NaN anywhere is infinite error.
double rel_err(const std::vector<float>& a, const std::vector<double>& b) {
  double num = 0, den = 1e-30;
  for (size_t i = 0; i < b.size(); ++i) {
    if (!std::isfinite(a[i])) return INFINITY;
    num = std::max(num, std::fabs(a[i] - b[i]));
    den = std::max(den, std::fabs(b[i]));
  }
  return num / den;
}

}  // namespace

TEST(Fp8W8A8, ActivationCodesAndScalesMatchTheCpuQuantizerBitForBit) {
  ctx();
  for (auto [m, k] : {std::pair<int64_t, int64_t>{7, 64}, {33, 4096}, {3, 14336}}) {
    const Fp8Case c(m, 16, k);
    auto dx = upload(c.x);
    auto dq = poisoned(static_cast<size_t>(m * k));
    auto ds = poisoned(static_cast<size_t>(m) * 4);
    kc::fp8_quantize_rows(dx.ptr(), dq.ptr(), ds.ptr(), m, k, nullptr);
    device_sync();
    EXPECT_EQ(ds.to_host<float>(static_cast<size_t>(m)), c.xs) << "m=" << m << " k=" << k;
    const auto codes = dq.to_host<uint8_t>(static_cast<size_t>(m * k));
    size_t diff = 0;
    for (size_t i = 0; i < codes.size(); ++i) diff += codes[i] != c.xq[i];
    EXPECT_EQ(diff, 0u) << "m=" << m << " k=" << k;
  }
}

TEST(Fp8W8A8, UnpackedWeightsAreTheFormatsCodesAndScales) {
  ctx();
  const Fp8Case c(4, 48, 160);
  auto dp = upload(c.w_packed);
  auto dc = poisoned(static_cast<size_t>(c.n * c.k));
  auto ds = poisoned(static_cast<size_t>(c.n) * 4);
  kc::fp8_unpack_weights(dp.ptr(), dc.ptr(), ds.ptr(), c.n, c.k, nullptr);
  device_sync();
  const auto codes = dc.to_host<uint8_t>(static_cast<size_t>(c.n * c.k));
  const auto scales = ds.to_host<float>(static_cast<size_t>(c.n));
  const int64_t row = q::weight_row_bytes(fp8(), c.k);
  for (int64_t j = 0; j < c.n; ++j) {
    EXPECT_EQ(scales[static_cast<size_t>(j)], q::unpack_params(fp8(), &c.w_packed[static_cast<size_t>(j * row)], c.k, 0).scale);
    for (int64_t i = 0; i < c.k; ++i)
      ASSERT_EQ(codes[static_cast<size_t>(j * c.k + i)], c.w_packed[static_cast<size_t>(j * row + 4 + i)]) << j << " " << i;
  }
}

// The whole W8A8 product (quantize x, GEMM, scales) against the CPU, both ways of applying the scales, with
// and without fast accumulation, and every algorithm the heuristic offers for one shape.
TEST(Fp8W8A8, ProductMatchesTheDequantizedReference) {
  ctx();
  for (auto [m, n, k] : {std::tuple<int64_t, int64_t, int64_t>{37, 96, 128}, {64, 256, 4096}, {130, 512, 1024}}) {
    const Fp8Case c(m, n, k);
    auto dx = upload(c.x), dp = upload(c.w_packed);
    bc::DeviceBuffer wq(static_cast<size_t>(n * k)), ws(static_cast<size_t>(n) * 4), xq(static_cast<size_t>(m * k)),
        xs(static_cast<size_t>(m) * 4);
    kc::fp8_unpack_weights(dp.ptr(), wq.ptr(), ws.ptr(), n, k, nullptr);
    for (bool fast : {false, true})
      for (bool separate : {false, true}) {
        bc::BlasLtFp8Matmul mm(fast);
        mm.force_separate_scales(separate);
        if (separate) {
          EXPECT_FALSE(mm.library_scales(m, n, k));
        }
        const int algos = mm.algorithm_count(m, n, k);
        ASSERT_GT(algos, 0);
        for (int a = 0; a < (m == 64 && !fast ? algos : 1); ++a) {
          auto dy = poisoned(static_cast<size_t>(m * n) * 4);
          bc::fp8_w8a8_linear(mm, dx.ptr(), xq.ptr(), xs.ptr(), wq.ptr(), ws.ptr(), dy.ptr(), m, n, k, nullptr, a);
          device_sync();
          const double err = rel_err(dy.to_host<float>(static_cast<size_t>(m * n)), c.ref);
          if (a == 0)
            std::printf("fp8 m=%lld n=%lld k=%lld fast=%d separate=%d: max error %.2e of the largest output\n",
                        static_cast<long long>(m), static_cast<long long>(n), static_cast<long long>(k), fast ? 1 : 0,
                        separate ? 1 : 0, err);
          EXPECT_LT(err, fast ? kFastTol : kTol) << "m=" << m << " n=" << n << " k=" << k << " fast=" << fast
                                              << " separate=" << separate << " library_scales=" << mm.library_scales(m, n, k)
                                              << " algorithm " << a;
        }
        // y += the product (the residual projections), on top of random values.
        std::vector<float> y0(static_cast<size_t>(m * n));
        std::mt19937 rng(7);
        std::uniform_real_distribution<float> u(-1.0f, 1.0f);
        for (float& v : y0) v = u(rng);
        std::vector<double> want(c.ref.size());
        for (size_t i = 0; i < want.size(); ++i) want[i] = c.ref[i] + y0[i];
        auto dy = upload(y0);
        bc::fp8_w8a8_linear(mm, dx.ptr(), xq.ptr(), xs.ptr(), wq.ptr(), ws.ptr(), dy.ptr(), m, n, k, nullptr, 0, true);
        device_sync();
        EXPECT_LT(rel_err(dy.to_host<float>(want.size()), want), fast ? kFastTol : kTol)
            << "accumulate m=" << m << " n=" << n << " k=" << k << " fast=" << fast << " separate=" << separate;
        std::printf("fp8 m=%lld n=%lld k=%lld fast=%d: cuBLASLt applies the scales itself: %s, %d algorithms\n",
                    static_cast<long long>(m), static_cast<long long>(n), static_cast<long long>(k), fast ? 1 : 0,
                    mm.library_scales(m, n, k) ? "yes" : "no", algos);
      }
  }
}

TEST(Fp8W8A8, RefusesShapesFp8CannotTake) {
  ctx();
  bc::BlasLtFp8Matmul mm;
  bc::DeviceBuffer a(1 << 16);
  EXPECT_THROW(mm.run(a.ptr(), a.ptr(), a.ptr(), a.ptr(), a.ptr(), 4, 32, 40, nullptr), synaptix::Error);  // k % 16
  EXPECT_THROW(mm.run(a.ptr(), a.ptr(), a.ptr(), a.ptr(), a.ptr(), 4, 24, 64, nullptr), synaptix::Error);  // n % 16
  EXPECT_THROW(kc::fp8_quantize_rows(a.ptr(), a.ptr(), a.ptr(), 2, 33, nullptr), synaptix::Error);
  EXPECT_THROW(kc::fp8_unpack_weights(a.ptr(), a.ptr(), a.ptr(), 2, 34, nullptr), synaptix::Error);
}

TEST(Fp8W8A8, PeakProbeRuns) {
  ctx();
  const bc::GemmPeakMeasurement p = bc::measure_fp8_gemm_peak(2048, 3);
  EXPECT_GT(p.tflops, 1.0);
  std::printf("fp8 GEMM 2048^3: %.0f TFLOP/s\n", p.tflops);
}
