// The tensor-core product's weight layout (kernels/linear/quant_mma_layout.h), register decoding
// (quant_mma_decode.cuh, compiled here for the host) and activation layout (qm_x_index), checked without a GPU:
// a host model of mma.m16n8k16 that puts every lane's registers where the PTX ISA places them
// (quant_mma_emulated_format.inc) computes y = x W^T from the repacked matrix and the f16 x, against the
// format's CPU dequantization reference (quant::dequantize_rows) times x in double. Matrices: rows not a
// multiple of 16, k not a multiple of the words' k (padding), 11 tokens (two token tiles) with very large and
// very small rows (the per-token power-of-two scale), every weight format. The tolerance is f16's rounding of x
// (2^-11 relative per element, the weights decode exactly). The kernels run on a GPU in
// tests/kernels/cuda/quant_mma_device_test.cpp.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "synaptix/core/dtype.h"
#include "synaptix/core/error.h"
#include "synaptix/kernels/linear/quant_mma_layout.h"
#include "synaptix/quant/weight_format.h"
#include "synaptix/quant/weight_quantize.h"

#define __device__
#define __forceinline__ inline
#define QM_HOST_HALF_TO_FLOAT(h) synaptix::f16_to_f32(h)
#define QM_HOST_FLOAT_TO_HALF(f) synaptix::f32_to_f16(f)
#define QM_UNROLL

namespace emu_int8 {
#define QFMT 3
#include "synaptix/kernels/linear/cuda/quant_mma_decode.cuh"
#include "quant_mma_emulated_format.inc"
}  // namespace emu_int8
namespace emu_fp8 {
#define QFMT 2
#include "synaptix/kernels/linear/cuda/quant_mma_decode.cuh"
#include "quant_mma_emulated_format.inc"
}  // namespace emu_fp8
namespace emu_mxfp4 {
#define QFMT 4
#include "synaptix/kernels/linear/cuda/quant_mma_decode.cuh"
#include "quant_mma_emulated_format.inc"
}  // namespace emu_mxfp4
namespace emu_g32 {
#define QFMT 1
#define GROUP 32
#define ASYM 0
#include "synaptix/kernels/linear/cuda/quant_mma_decode.cuh"
#include "quant_mma_emulated_format.inc"
}  // namespace emu_g32
namespace emu_g64 {
#define QFMT 1
#define GROUP 64
#define ASYM 0
#include "synaptix/kernels/linear/cuda/quant_mma_decode.cuh"
#include "quant_mma_emulated_format.inc"
}  // namespace emu_g64
namespace emu_g128 {
#define QFMT 1
#define GROUP 128
#define ASYM 0
#include "synaptix/kernels/linear/cuda/quant_mma_decode.cuh"
#include "quant_mma_emulated_format.inc"
}  // namespace emu_g128
namespace emu_g32a {
#define QFMT 1
#define GROUP 32
#define ASYM 1
#include "synaptix/kernels/linear/cuda/quant_mma_decode.cuh"
#include "quant_mma_emulated_format.inc"
}  // namespace emu_g32a
namespace emu_g64a {
#define QFMT 1
#define GROUP 64
#define ASYM 1
#include "synaptix/kernels/linear/cuda/quant_mma_decode.cuh"
#include "quant_mma_emulated_format.inc"
}  // namespace emu_g64a
namespace emu_g128a {
#define QFMT 1
#define GROUP 128
#define ASYM 1
#include "synaptix/kernels/linear/cuda/quant_mma_decode.cuh"
#include "quant_mma_emulated_format.inc"
}  // namespace emu_g128a
#define QFMT 0
#include "synaptix/kernels/linear/cuda/quant_mma_decode.cuh"  // qm_x_index
#undef QFMT

using namespace synaptix;
namespace kc = synaptix::kernels::cuda;

namespace {

using Emulator = std::vector<double> (*)(const kc::QuantMmaLayout&, const std::vector<uint8_t>&,
                                         const std::vector<uint16_t>&, const std::vector<float>&, int);

Emulator emulator_for(const quant::WeightFormat& f) {
  switch (f.code) {
    case quant::CodeType::Int8: return emu_int8::emulate_mma;
    case quant::CodeType::Fp8E4M3: return emu_fp8::emulate_mma;
    case quant::CodeType::E2M1: return emu_mxfp4::emulate_mma;
    case quant::CodeType::Int4: return f.group == 32 ? emu_g32::emulate_mma : f.group == 64 ? emu_g64::emulate_mma : emu_g128::emulate_mma;
    case quant::CodeType::Int4Asym:
      return f.group == 32 ? emu_g32a::emulate_mma : f.group == 64 ? emu_g64a::emulate_mma : emu_g128a::emulate_mma;
  }
  return nullptr;
}

// The pre-pass (quant_mma_x.cu) on the host: per-token power of two putting max |x| in [2^14, 2^15), f16 in
// the B operand's lane order.
void convert_x(const std::vector<float>& x, int m, int64_t k, int64_t k_pad, std::vector<uint16_t>* xh, std::vector<float>* xs) {
  const int m_pad = (m + 7) / 8 * 8;
  xh->assign(static_cast<size_t>(m_pad * k_pad), 0);
  xs->assign(static_cast<size_t>(m_pad), 1.f);
  for (int t = 0; t < m; ++t) {
    float mx = 0;
    for (int64_t i = 0; i < k; ++i) mx = std::max(mx, std::fabs(x[static_cast<size_t>(t * k + i)]));
    int e = 0;
    std::frexp(mx, &e);  // mx in [2^(e-1), 2^e)
    const int sh = mx > 0 ? 15 - e : 0;
    (*xs)[static_cast<size_t>(t)] = std::ldexp(1.f, -sh);
    for (int64_t i = 0; i < k; ++i)
      (*xh)[static_cast<size_t>(qm_x_index(t, static_cast<int>(i), static_cast<int>(k_pad)))] =
          f32_to_f16(std::ldexp(x[static_cast<size_t>(t * k + i)], sh));
  }
}

}  // namespace

TEST(QuantMmaEmulation, RepackedLayoutFeedsTheRightElementsForEveryFormat) {
  std::mt19937 rng(20261205);
  for (const quant::WeightFormat& f : quant::weight_formats()) {
    const int64_t n = 37, k = f.group ? 3 * std::max<int64_t>(f.group, 32) : 100;
    const int m = 11;
    std::uniform_real_distribution<float> u(-1.f, 1.f);
    std::vector<float> wf(static_cast<size_t>(n * k)), x(static_cast<size_t>(m * k));
    for (float& v : wf) v = u(rng) * (u(rng) > 0.9f ? 8.f : 1.f);
    for (int t = 0; t < m; ++t)
      for (int64_t i = 0; i < k; ++i) x[static_cast<size_t>(t * k + i)] = u(rng) * (t == 3 ? 3000.f : t == 5 ? 1e-4f : 1.f);
    std::vector<uint8_t> packed(static_cast<size_t>(n * quant::weight_row_bytes(f, k)));
    quant::quantize_rows(f, wf.data(), n, k, packed.data());
    std::vector<float> deq(wf.size());
    quant::dequantize_rows(f, packed.data(), n, k, deq.data());

    const kc::QuantMmaLayout l = kc::quant_mma_layout(f, n, k);
    const std::vector<uint8_t> repacked = kc::quant_mma_repack(f, packed.data(), n, k);
    ASSERT_EQ(static_cast<int64_t>(repacked.size()), l.total_bytes);
    std::vector<uint16_t> xh;
    std::vector<float> xs;
    convert_x(x, m, k, l.k_pad, &xh, &xs);
    const std::vector<double> y = emulator_for(f)(l, repacked, xh, xs, m);
    int bad = 0;
    for (int t = 0; t < m; ++t)
      for (int64_t r = 0; r < n; ++r) {
        double ref = 0, mag = 0;
        for (int64_t i = 0; i < k; ++i) {
          const double p = static_cast<double>(deq[static_cast<size_t>(r * k + i)]) * x[static_cast<size_t>(t * k + i)];
          ref += p;
          mag += std::fabs(p);
        }
        const double got = y[static_cast<size_t>(t * n + r)];
        if (!(std::fabs(got - ref) <= mag * std::ldexp(1.0, -11) + 1e-30) && ++bad <= 5)
          ADD_FAILURE() << f.name << " token " << t << " row " << r << ": " << got << " vs " << ref << " (sum |w x| " << mag << ")";
      }
    EXPECT_EQ(bad, 0) << f.name;
  }
}

TEST(QuantMmaEmulation, LayoutRefusesShapesWithoutAForm) {
  const quant::WeightFormat& g128 = *quant::weight_format(DType::W4_G128);
  EXPECT_THROW(kc::quant_mma_layout(g128, 16, 100), Error);  // not whole groups
  EXPECT_THROW(kc::quant_mma_layout(g128, 0, 128), Error);
  EXPECT_THROW(kc::quant_mma_layout(*quant::weight_format(DType::W8_PC), 16, 102), Error);  // k % 4
  const kc::QuantMmaLayout l = kc::quant_mma_layout(g128, 6144, 4096);
  EXPECT_EQ(l.n_tiles, 384);
  EXPECT_EQ(l.kw, 32);
  // Codes plus one f16 scale per group and row: the bytes of the packed rows, plus nothing but alignment.
  EXPECT_EQ(l.total_bytes, 6144 * quant::weight_row_bytes(g128, 4096));
}
