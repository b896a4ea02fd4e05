// The tensor-core product of the weight formats (backend/cuda/launch/quant_gemv.h: quant_mma, on the layout of
// kernels/linear/quant_mma_layout.h) on the device, against the formats' CPU dequantization reference
// (quant::dequantize_rows) times x in double: every format, m in {1, 3, 8, 9, 32, 64}, odd small shapes (rows
// not a multiple of 16, k not a multiple of the layout's words) and Llama-3.1-8B's four shapes (rows sampled
// for the reference: the first and last tiles and random ones), random codes and scales, x with rows of very
// different magnitude (the per-token f16 scale), outputs poisoned (NaN bytes) or accumulated into, f32 and bf16
// x, x converted in the product (small m * k) or by the pre-pass, several schedules (split-K in a block, and row mode with k in slices over blocks; up
// to 8 rows the stream form, quant_mma_stream.cu, by default). Tolerance: f16's rounding of x (2^-11 relative per product; the weights decode
// exactly) plus f32 accumulation, per output against sum |w x|. Needs a GPU (run by bench/gpu/run.sh); skipped
// without one. The fragment mapping is checked without a GPU in tests/kernels/quant_mma_emulation_test.cpp.
#include <gtest/gtest.h>

#include <algorithm>
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
#include "synaptix/kernels/linear/quant_mma_layout.h"
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

std::mt19937& rng() { return synaptix::testing::test_rng(); }

// n packed rows of random codes under random finite parameters (every code value; no E4M3 NaN code).
std::vector<uint8_t> random_rows(const quant::WeightFormat& f, int64_t n, int64_t k) {
  const int64_t rb = quant::weight_row_bytes(f, k);
  std::vector<uint8_t> b(static_cast<size_t>(n * rb));
  std::uniform_int_distribution<int> byte(0, 255);
  std::mt19937_64 bits(rng()());
  for (size_t i = 0; i < b.size(); i += 8) {
    const uint64_t v = bits();
    std::memcpy(b.data() + i, &v, std::min<size_t>(8, b.size() - i));
  }
  std::uniform_real_distribution<float> mag(0.25f, 4.f);
  for (int64_t r = 0; r < n; ++r) {
    uint8_t* row = b.data() + r * rb;
    if (f.group == 0) {
      const float d = mag(rng()) * 0.01f;
      std::memcpy(row, &d, 4);
      if (f.code == quant::CodeType::Fp8E4M3)
        for (int64_t i = 0; i < k; ++i)
          if ((row[4 + i] & 0x7f) == 0x7f) row[4 + i] &= 0xfe;  // 0x7f / 0xff are NaN
    } else {
      for (int64_t g = 0; g < k / f.group; ++g) {
        uint8_t* blk = row + g * f.block_bytes;
        if (f.code == quant::CodeType::E2M1) {
          blk[0] = static_cast<uint8_t>(120 + byte(rng()) % 12);
        } else {
          const uint16_t d = synaptix::f32_to_f16(mag(rng()) * 0.01f);
          std::memcpy(blk, &d, 2);
          if (f.code == quant::CodeType::Int4Asym) {
            blk[2] = static_cast<uint8_t>(byte(rng()) % 16);
            blk[3] = 0;
          }
        }
      }
    }
  }
  return b;
}

// m rows of x; row 1 (when there) 1000x larger, row 2 1000x smaller: one scale per token must serve each.
std::vector<float> random_x(int m, int64_t k) {
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  std::vector<float> x(static_cast<size_t>(m * k));
  for (int t = 0; t < m; ++t)
    for (int64_t i = 0; i < k; ++i) x[static_cast<size_t>(t * k + i)] = u(rng()) * (t == 1 ? 1000.f : t == 2 ? 1e-3f : 1.f);
  return x;
}

// A random matrix in its packed rows (for the reference) and, on the device, its tensor-core layout.
struct Matrix {
  const quant::WeightFormat* f;
  int64_t n, k;
  std::vector<uint8_t> packed;
  synaptix::backend::cuda::DeviceBuffer dw;
  Matrix(const quant::WeightFormat& fmt, int64_t rows, int64_t cols)
      : f(&fmt), n(rows), k(cols), packed(random_rows(fmt, rows, cols)),
        dw(upload(kc::quant_mma_repack(fmt, packed.data(), rows, cols))) {}
};

struct Case {
  int m;
  bool accumulate = false;
  bool x_bf16 = false;
  const kc::QuantMmaParams* params = nullptr;
};

// Runs one product and checks `rows` of it (all when n is small) against the reference.
void check(const Matrix& mat, const Case& c) {
  const quant::WeightFormat& f = *mat.f;
  const std::vector<uint8_t>& packed = mat.packed;
  const int64_t n = mat.n, k = mat.k;
  std::vector<float> x = random_x(c.m, k);
  std::vector<uint16_t> xb;
  if (c.x_bf16) {
    xb.resize(x.size());
    for (size_t i = 0; i < x.size(); ++i) {
      xb[i] = synaptix::f32_to_bf16(x[i]);
      x[i] = synaptix::bf16_to_f32(xb[i]);
    }
  }
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  std::vector<float> y0(static_cast<size_t>(c.m * n));
  for (float& v : y0) v = u(rng());
  auto dx = c.x_bf16 ? upload(xb) : upload(x);
  auto dy = c.accumulate ? upload(y0) : poisoned(y0.size() * 4);
  const size_t scratch_bytes = kc::quant_mma_scratch_bytes(f.dtype, c.m, k);
  synaptix::backend::cuda::DeviceBuffer scratch(scratch_bytes);
  const kc::QuantMmaParams p = c.params ? *c.params : kc::quant_mma_default_params(f.dtype, c.m);
  kc::quant_mma(f.dtype, dx.ptr(), c.x_bf16, mat.dw.ptr(), dy.ptr(), c.m, n, k, c.accumulate, scratch.ptr(), scratch_bytes,
                nullptr, p);
  device_sync();
  std::vector<float> got(y0.size());
  dy.download(got.data(), got.size() * 4);

  std::vector<int64_t> rows;
  if (n <= 256) {
    for (int64_t r = 0; r < n; ++r) rows.push_back(r);
  } else {
    for (int64_t r = 0; r < 16; ++r) rows.push_back(r);
    for (int64_t r = n - 16; r < n; ++r) rows.push_back(r);
    std::uniform_int_distribution<int64_t> pick(16, n - 17);
    for (int i = 0; i < 32; ++i) rows.push_back(pick(rng()));
  }
  const int64_t rb = quant::weight_row_bytes(f, k);
  std::vector<float> w(static_cast<size_t>(k));
  int bad = 0;
  for (int64_t r : rows) {
    quant::dequantize_rows(f, packed.data() + r * rb, 1, k, w.data());
    for (int t = 0; t < c.m; ++t) {
      double s = 0, mag = 0;
      for (int64_t i = 0; i < k; ++i) {
        const double pr = static_cast<double>(w[static_cast<size_t>(i)]) * x[static_cast<size_t>(t * k + i)];
        s += pr;
        mag += std::fabs(pr);
      }
      const double base = c.accumulate ? y0[static_cast<size_t>(t * n + r)] : 0.0;
      const double want = base + s;
      const double g = got[static_cast<size_t>(t * n + r)];
      const double tol = mag * std::ldexp(1.0, -10) + std::fabs(base) * 1e-6 + 1e-30;
      if (!(std::fabs(g - want) <= tol) && ++bad <= 3)
        ADD_FAILURE() << f.name << " m=" << c.m << " n=" << n << " k=" << k << " token " << t << " row " << r << ": "
                      << g << " vs " << want << " (tolerance " << tol << ")" << (c.accumulate ? " accumulate" : "")
                      << (c.x_bf16 ? " bf16 x" : "") << " schedule " << p.str();
    }
  }
  EXPECT_EQ(bad, 0) << f.name << " m=" << c.m << " n=" << n << " k=" << k;
}

// k for the small shapes: three groups of 128 (every group size divides it) plus, for per-channel formats, a
// tail that is not a multiple of the 64-k words.
int64_t small_k(const quant::WeightFormat& f) { return f.group == 0 ? 3 * 128 + 36 : 3 * 128 + f.group; }

}  // namespace

TEST(QuantMmaDevice, EveryFormatAndRowCountMatchesTheReferenceOnSmallShapes) {
  SKIP_WITHOUT_DEVICE();
  synaptix::testing::cuda_context();
  for (const quant::WeightFormat& f : quant::weight_formats())
    for (int m : {1, 3, 8, 9, 32, 64}) {
      check(Matrix(f, 37, small_k(f)), {m, m % 2 == 1, false, nullptr});
      check(Matrix(f, 16, small_k(f)), {m, false, m == 9, nullptr});
    }
}

TEST(QuantMmaDevice, Llama8BShapesMatchTheReference) {
  SKIP_WITHOUT_DEVICE();
  synaptix::testing::cuda_context();
  const int64_t shapes[4][2] = {{6144, 4096}, {4096, 4096}, {28672, 4096}, {4096, 14336}};
  for (const quant::WeightFormat& f : quant::weight_formats())
    for (const auto& s : shapes) {
      const Matrix mat(f, s[0], s[1]);
      for (int m : {1, 3, 8, 9, 32, 64}) {
        // Every format and shape at m = 1 and 64, the int4-g128 and fp8 pair at every m.
        if (m != 1 && m != 64 && f.dtype != DType::W4_G128 && f.dtype != DType::FP8_PC) continue;
        check(mat, {m, m == 3, false, nullptr});
      }
    }
}

TEST(QuantMmaDevice, SchedulesMatchTheReference) {
  SKIP_WITHOUT_DEVICE();
  synaptix::testing::cuda_context();
  const kc::QuantMmaParams schedules[] = {{1, 1, 1},     {3, 2, 3},        {16, 4, 2},       {8, 1, 8},        {4, 4, 1},
                                          {8, 1, 2, false}, {4, 1, 2, true, 1}, {4, 2, 2, true, 3}, {8, 1, 1, true, 16}};
  for (const quant::WeightFormat& f : quant::weight_formats()) {
    const Matrix mat(f, 200, small_k(f) + 128);
    for (const kc::QuantMmaParams& p : schedules)
      for (int m : {1, 17, 64}) check(mat, {m, m == 17, false, &p});
  }
}

// The stream form (quant_mma_stream.cu, schedules with stages; the default up to 8 rows, so the tests above
// run it too): one warp a block and sixteen, one word a stage and two, 2..8 stages, k cut into slices by the
// launcher's choice or by the schedule (several slices without accumulating: y zeroed first), f32 and bf16 x,
// x converted in the product or by the row-major pre-pass, and up to 64 rows.
TEST(QuantMmaDevice, StreamSchedulesMatchTheReference) {
  SKIP_WITHOUT_DEVICE();
  synaptix::testing::cuda_context();
  auto sched = [](int warps, int unroll, int stages, int k_slices) {
    kc::QuantMmaParams p;
    p.warps = warps;
    p.unroll = unroll;
    p.stages = stages;
    p.k_slices = k_slices;
    return p;
  };
  kc::QuantMmaParams pre = sched(8, 2, 3, 0);
  pre.fuse_x = false;  // x by the pre-pass, row-major
  const kc::QuantMmaParams schedules[] = {sched(1, 1, 2, 0), sched(4, 2, 3, 0), sched(8, 2, 4, 3), sched(16, 2, 2, 0),
                                          sched(8, 1, 8, 16), pre};
  for (const quant::WeightFormat& f : quant::weight_formats()) {
    const Matrix mat(f, 200, small_k(f) + 128);
    for (const kc::QuantMmaParams& p : schedules)
      for (int m : {1, 2, 5, 8}) check(mat, {m, m % 2 == 0, m == 5, &p});
  }
  // More token tiles (the stream form takes up to 64 rows): x's k slice shrinks with m (1024 at 32 rows).
  for (const quant::WeightFormat& f : quant::weight_formats()) {
    const Matrix mat(f, 200, small_k(f) + 128);
    for (int m : {13, 32, 64}) {
      check(mat, {m, m == 13, m == 32, &schedules[1]});
      check(mat, {m, m == 32, m == 13, &pre});
    }
  }
  for (DType w : {DType::W4_G128, DType::FP8_PC}) {
    const Matrix mat(*quant::weight_format(w), 4096, 4096);
    for (int m : {32, 64}) {
      check(mat, {m, m == 64, false, &schedules[2]});
      check(mat, {m, m == 32, false, &pre});
    }
  }
  // A long row at eight tokens: x's k slices (4096 a block) force four slices, y zeroed first.
  const Matrix down(*quant::weight_format(DType::W4_G128), 300, 14336);
  for (bool acc : {false, true}) check(down, {8, acc, false, nullptr});
}

// The stream form's fusions of a quantized decode step: the product of rmsnorm(x) (x the residual, rows of very
// different magnitude, gamma random) and, for gate|up rows interleaved, SwiGLU / GeGLU (tanh) written instead of
// y, against the reference in double (the norm as the RMSNorm kernel defines it, the activations as
// kernels/swiglu/cuda). Tolerance: the product's, carried through the activation (|d act| <= 1.2 |up| |d gate|).
TEST(QuantMmaDevice, StreamFusionsMatchTheReference) {
  SKIP_WITHOUT_DEVICE();
  synaptix::testing::cuda_context();
  const float eps = 1e-5f;
  std::uniform_real_distribution<float> u(0.5f, 1.5f);
  for (const quant::WeightFormat& f : quant::weight_formats())
    for (const int64_t n : {int64_t{200}, int64_t{6144}})
      for (int m : {1, 3, 8})
        for (kc::QuantGlu glu : {kc::QuantGlu::None, kc::QuantGlu::SwiGlu, kc::QuantGlu::GeGluTanh}) {
          if (n == 6144 && (m == 3 || (f.dtype != DType::W4_G128 && f.dtype != DType::FP8_PC))) continue;
          const int64_t k = n == 200 ? small_k(f) + 128 : 4096;
          const Matrix mat(f, n, k);
          const std::vector<float> x = random_x(m, k);
          std::vector<float> gamma(static_cast<size_t>(k));
          for (float& g : gamma) g = u(rng());
          auto dx = upload(x);
          auto dg = upload(gamma);
          const int64_t out_n = glu == kc::QuantGlu::None ? n : n / 2;
          auto dy = poisoned(static_cast<size_t>(m * out_n) * 4);
          const kc::QuantMmaParams p = kc::quant_mma_default_params(f.dtype, m);
          kc::QuantMmaFusedArgs fa;
          fa.fusion = {true, glu};
          fa.gamma = dg.ptr();
          fa.eps = eps;
          if (glu != kc::QuantGlu::None) fa.glu_out = dy.ptr();
          ASSERT_TRUE(kc::quant_mma_fusable(f.dtype, m, n, k, p, fa.fusion)) << f.name;
          kc::quant_mma(f.dtype, dx.ptr(), false, mat.dw.ptr(), dy.ptr(), m, n, k, false, 0, 0, nullptr, p, fa);
          device_sync();
          std::vector<float> got(static_cast<size_t>(m * out_n));
          dy.download(got.data(), got.size() * 4);
          // rmsnorm(x) in f32 as the kernel rounds it, the product in double.
          std::vector<float> xn(x.size());
          for (int t = 0; t < m; ++t) {
            double ss = 0;
            for (int64_t i = 0; i < k; ++i) ss += static_cast<double>(x[static_cast<size_t>(t * k + i)]) * x[static_cast<size_t>(t * k + i)];
            const float inv = static_cast<float>(1.0 / std::sqrt(ss / static_cast<double>(k) + eps));
            for (int64_t i = 0; i < k; ++i)
              xn[static_cast<size_t>(t * k + i)] = x[static_cast<size_t>(t * k + i)] * inv * gamma[static_cast<size_t>(i)];
          }
          const int64_t rb = quant::weight_row_bytes(f, k);
          std::vector<float> w(static_cast<size_t>(k));
          auto product = [&](int64_t r, int t, double* mag) {
            quant::dequantize_rows(f, mat.packed.data() + r * rb, 1, k, w.data());
            double s = 0;
            *mag = 0;
            for (int64_t i = 0; i < k; ++i) {
              const double pr = static_cast<double>(w[static_cast<size_t>(i)]) * xn[static_cast<size_t>(t * k + i)];
              s += pr;
              *mag += std::fabs(pr);
            }
            return s;
          };
          std::vector<int64_t> outs;
          for (int64_t c = 0; c < std::min<int64_t>(out_n, 24); ++c) outs.push_back(c);
          for (int64_t c = out_n - 8; c < out_n; ++c) outs.push_back(c);
          int bad = 0;
          for (int64_t c : outs)
            for (int t = 0; t < m; ++t) {
              double want, tol;
              if (glu == kc::QuantGlu::None) {
                double mag;
                want = product(c, t, &mag);
                tol = mag * std::ldexp(1.0, -10) + 1e-30;
              } else {
                double mg, mu;
                const double g = product(2 * c, t, &mg), up = product(2 * c + 1, t, &mu);
                const double act = glu == kc::QuantGlu::SwiGlu ? g / (1 + std::exp(-g))
                                                               : 0.5 * g * (1 + std::tanh(0.7978845608028654 * (g + 0.044715 * g * g * g)));
                want = act * up;
                const double eg = mg * std::ldexp(1.0, -10), eu = mu * std::ldexp(1.0, -10);
                tol = 1.2 * (std::fabs(up) + eu) * eg + (std::fabs(act) + 1.2 * eg) * eu + 1e-6 * std::fabs(want) + 1e-30;
              }
              const double gv = got[static_cast<size_t>(t * out_n + c)];
              if (!(std::fabs(gv - want) <= tol) && ++bad <= 3)
                ADD_FAILURE() << f.name << " m=" << m << " n=" << n << " k=" << k << " glu " << static_cast<int>(glu) << " token " << t
                              << " out " << c << ": " << gv << " vs " << want << " (tolerance " << tol << ")";
            }
          EXPECT_EQ(bad, 0) << f.name << " m=" << m << " n=" << n;
        }
  // What the fusions refuse: the split-K form, a gated activation with accumulation or an odd n.
  const Matrix mat(*quant::weight_format(DType::W8_PC), 37, 256);
  synaptix::backend::cuda::DeviceBuffer a(1 << 20), b(1 << 20), s(1 << 20);
  kc::QuantMmaFusedArgs fa;
  fa.fusion = {true, kc::QuantGlu::SwiGlu};
  fa.gamma = b.ptr();
  fa.glu_out = b.ptr();
  EXPECT_THROW(kc::quant_mma(DType::W8_PC, a.ptr(), false, mat.dw.ptr(), b.ptr(), 1, 37, 256, false, 0, 0, nullptr,
                             kc::quant_mma_default_params(DType::W8_PC, 1), fa),
               synaptix::Error);  // odd n
  EXPECT_THROW(kc::quant_mma(DType::W8_PC, a.ptr(), false, mat.dw.ptr(), b.ptr(), 1, 36, 256, true, 0, 0, nullptr,
                             kc::quant_mma_default_params(DType::W8_PC, 1), fa),
               synaptix::Error);  // accumulating
  EXPECT_THROW(kc::quant_mma(DType::W8_PC, a.ptr(), false, mat.dw.ptr(), b.ptr(), 1, 36, 256, false, s.ptr(), s.bytes(), nullptr,
                             kc::QuantMmaParams{}, fa),
               synaptix::Error);  // split-K form
  EXPECT_FALSE(kc::quant_mma_fusable(DType::W8_PC, 9, 36, 256, kc::quant_mma_default_params(DType::W8_PC, 9), fa.fusion));
  EXPECT_FALSE(kc::quant_mma_fusable(DType::W8_PC, 1, 37, 256, kc::quant_mma_default_params(DType::W8_PC, 1), fa.fusion));
  EXPECT_FALSE(kc::quant_mma_fusable(DType::W4_G128, 8, 28672, 8192, kc::quant_mma_default_params(DType::W4_G128, 8), fa.fusion))
      << "a row longer than the block's slice of x";
}

// The layout's bf16 expansion: the reference's f32 values rounded to bf16, bit for bit, padding rows and k
// left out (the output is poisoned first and must be fully written).
TEST(QuantMmaDevice, Bf16ExpansionOfTheLayoutIsTheReferenceRounded) {
  SKIP_WITHOUT_DEVICE();
  synaptix::testing::cuda_context();
  for (const quant::WeightFormat& f : quant::weight_formats())
    for (const int64_t n : {int64_t{37}, int64_t{4096}}) {
      const int64_t k = n == 37 ? small_k(f) : 4096;
      const Matrix mat(f, n, k);
      std::vector<float> want(static_cast<size_t>(n * k));
      quant::dequantize_rows(f, mat.packed.data(), n, k, want.data());
      auto out = poisoned(want.size() * 2);
      kc::quant_mma_dequantize_bf16(f.dtype, mat.dw.ptr(), out.ptr(), n, k, nullptr);
      device_sync();
      std::vector<uint16_t> got(want.size());
      out.download(got.data(), got.size() * 2);
      int64_t mismatches = 0;
      for (size_t i = 0; i < got.size(); ++i) mismatches += got[i] != synaptix::f32_to_bf16(want[i]);
      EXPECT_EQ(mismatches, 0) << f.name << " " << n << "x" << k;
    }
}

TEST(QuantMmaDevice, RefusesWhatItHasNoFormFor) {
  SKIP_WITHOUT_DEVICE();
  synaptix::testing::cuda_context();
  synaptix::backend::cuda::DeviceBuffer a(1 << 20), b(1 << 20), c(1 << 20), s(1 << 20);
  const kc::QuantMmaParams p;
  EXPECT_THROW(kc::quant_mma(DType::W4_G128, a.ptr(), false, b.ptr(), c.ptr(), 65, 16, 128, false, s.ptr(), s.bytes(), nullptr, p),
               synaptix::Error);
  EXPECT_THROW(kc::quant_mma(DType::W4_G128, a.ptr(), false, b.ptr(), c.ptr(), 1, 16, 192, false, s.ptr(), s.bytes(), nullptr, p),
               synaptix::Error);
  EXPECT_THROW(kc::quant_mma(DType::Q4_0, a.ptr(), false, b.ptr(), c.ptr(), 1, 16, 128, false, s.ptr(), s.bytes(), nullptr, p),
               synaptix::Error);
  EXPECT_THROW(kc::quant_mma(DType::W8_PC, a.ptr() + 4, false, b.ptr(), c.ptr(), 1, 16, 128, false, s.ptr(), s.bytes(), nullptr, p),
               synaptix::Error);
  EXPECT_THROW(kc::quant_mma(DType::W8_PC, a.ptr(), false, b.ptr(), c.ptr(), 64, 16, 4096, false, s.ptr(), 1024, nullptr, p),
               synaptix::Error);  // scratch too small
}
