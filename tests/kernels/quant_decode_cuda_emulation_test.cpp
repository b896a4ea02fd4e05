// The weight-format kernels' decoding (kernels/linear/cuda/quant_decode.cuh), the bf16 expansion kernel
// (quant_dequant.cu) and the decode GEMV (quant_gemv.cu), compiled for the host with the CUDA built-ins they
// use emulated: the expansion as one thread walking the whole grid-stride loop, against the CPU's
// dequantization reference (quant::dequantize_rows) rounded to bf16, bit for bit, for every weight format: matrices packed by the CPU's round-to-nearest quantizer, and
// packed rows of random codes (every code value; zero points 0..15; E8M0 exponents 0..254) under random finite
// scales. This checks without a GPU that the kernels read the layout the CPU quantizer writes (block sizes,
// nibble order, scales, zero points, the E4M3/E2M1/E8M0 bit moves including subnormals); the same code runs on
// the device in tests/kernels/cuda/quant_gemv_device_test.cpp. The GEMV runs each warp as 32 host threads
// (shuffle reductions through a barrier) over a grid with partial blocks and warps, against y = x W^T of the
// reference's values, stored and accumulated. (E4M3's NaN codes and E8M0's NaN, which no
// quantizer writes, are left out: the kernels do not decode them as NaN.)
#include <gtest/gtest.h>

#include <algorithm>
#include <barrier>
#include <cmath>
#include <cstdint>
#include <functional>
#include <thread>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "synaptix/core/dtype.h"
#include "synaptix/quant/weight_format.h"
#include "synaptix/quant/weight_quantize.h"

// The CUDA built-ins the kernels use, for one host thread.
#define __device__
#define __global__
#define __forceinline__ inline
#define __launch_bounds__(n)
#define QD_HOST_HALF_TO_FLOAT(h) synaptix::f16_to_f32(h)
#define QD_UNROLL

namespace emu {
struct Dim {
  unsigned x = 0;
};
// Each emulated thread's own indices; the expansion runs as the one thread of a one-block grid.
inline thread_local Dim threadIdx{0}, blockIdx{0};
inline const Dim blockDim{1}, gridDim{1};
struct float2 {
  float x, y;
};
struct float4 {
  float x, y, z, w;
};
// A warp's 32 threads meet in warp_sum: each leaves its value, all read the sum, then all leave.
struct Warp {
  std::barrier<> meet{32};
  float values[32] = {};
};
inline thread_local Warp* this_warp = nullptr;
inline float warp_sum(float v) {
  this_warp->values[threadIdx.x & 31] = v;
  this_warp->meet.arrive_and_wait();
  float s = 0;
  for (float t : this_warp->values) s += t;
  this_warp->meet.arrive_and_wait();
  return s;
}
inline float __int_as_float(int i) {
  float f;
  std::memcpy(&f, &i, 4);
  return f;
}
template <class T>
T __ldg(const T* p) {
  return *p;
}
inline void pdl_wait() {}
inline void pdl_launch_dependents() {}
using bf16_t = unsigned short;
inline bf16_t f32_to_bf16(float f) { return synaptix::f32_to_bf16(f); }
}  // namespace emu

using DequantKernel = void (*)(const unsigned char*, emu::bf16_t*, int, int);
using GemvKernel = void (*)(const float*, const unsigned char*, float*, int, int, int);
// The GEMV's schedule here: 3 rows of x, 2 warps of 3 rows a block, 2 units in flight (tails in every loop).
#define M 3
#define WARPS 2
#define RPW 3
#define UNROLL 2

// Each format's decoder and kernel in a namespace of its own, under the generator's #defines.
namespace int4_g32 {
using namespace emu;
#define QFMT 1
#define GROUP 32
#define ASYM 0
#define quant_dequant_bf16 quant_dequant_bf16_int4_g32
#define quant_gemv quant_gemv_int4_g32
#include "quant_emulated_format.inc"
}  // namespace int4_g32
namespace int4_g64 {
using namespace emu;
#define QFMT 1
#define GROUP 64
#define ASYM 0
#define quant_dequant_bf16 quant_dequant_bf16_int4_g64
#define quant_gemv quant_gemv_int4_g64
#include "quant_emulated_format.inc"
}  // namespace int4_g64
namespace int4_g128 {
using namespace emu;
#define QFMT 1
#define GROUP 128
#define ASYM 0
#define quant_dequant_bf16 quant_dequant_bf16_int4_g128
#define quant_gemv quant_gemv_int4_g128
#include "quant_emulated_format.inc"
}  // namespace int4_g128
namespace int4_g32_asym {
using namespace emu;
#define QFMT 1
#define GROUP 32
#define ASYM 1
#define quant_dequant_bf16 quant_dequant_bf16_int4_g32_asym
#define quant_gemv quant_gemv_int4_g32_asym
#include "quant_emulated_format.inc"
}  // namespace int4_g32_asym
namespace int4_g64_asym {
using namespace emu;
#define QFMT 1
#define GROUP 64
#define ASYM 1
#define quant_dequant_bf16 quant_dequant_bf16_int4_g64_asym
#define quant_gemv quant_gemv_int4_g64_asym
#include "quant_emulated_format.inc"
}  // namespace int4_g64_asym
namespace int4_g128_asym {
using namespace emu;
#define QFMT 1
#define GROUP 128
#define ASYM 1
#define quant_dequant_bf16 quant_dequant_bf16_int4_g128_asym
#define quant_gemv quant_gemv_int4_g128_asym
#include "quant_emulated_format.inc"
}  // namespace int4_g128_asym
namespace fp8_e4m3_pc {
using namespace emu;
#define QFMT 2
#define GROUP 0
#define ASYM 0
#define quant_dequant_bf16 quant_dequant_bf16_fp8_e4m3_pc
#define quant_gemv quant_gemv_fp8_e4m3_pc
#include "quant_emulated_format.inc"
}  // namespace fp8_e4m3_pc
namespace int8_pc {
using namespace emu;
#define QFMT 3
#define GROUP 0
#define ASYM 0
#define quant_dequant_bf16 quant_dequant_bf16_int8_pc
#define quant_gemv quant_gemv_int8_pc
#include "quant_emulated_format.inc"
}  // namespace int8_pc
namespace mxfp4 {
using namespace emu;
#define QFMT 4
#define GROUP 0
#define ASYM 0
#define quant_dequant_bf16 quant_dequant_bf16_mxfp4
#define quant_gemv quant_gemv_mxfp4
#include "quant_emulated_format.inc"
}  // namespace mxfp4

namespace {

using synaptix::DType;
namespace quant = synaptix::quant;

struct Case {
  DType dtype;
  DequantKernel kernel;
  GemvKernel gemv;
};
const Case kCases[] = {
    {synaptix::DType::W4_G32, int4_g32::quant_dequant_bf16_int4_g32, int4_g32::quant_gemv_int4_g32},
    {synaptix::DType::W4_G64, int4_g64::quant_dequant_bf16_int4_g64, int4_g64::quant_gemv_int4_g64},
    {synaptix::DType::W4_G128, int4_g128::quant_dequant_bf16_int4_g128, int4_g128::quant_gemv_int4_g128},
    {synaptix::DType::W4A_G32, int4_g32_asym::quant_dequant_bf16_int4_g32_asym, int4_g32_asym::quant_gemv_int4_g32_asym},
    {synaptix::DType::W4A_G64, int4_g64_asym::quant_dequant_bf16_int4_g64_asym, int4_g64_asym::quant_gemv_int4_g64_asym},
    {synaptix::DType::W4A_G128, int4_g128_asym::quant_dequant_bf16_int4_g128_asym, int4_g128_asym::quant_gemv_int4_g128_asym},
    {synaptix::DType::FP8_PC, fp8_e4m3_pc::quant_dequant_bf16_fp8_e4m3_pc, fp8_e4m3_pc::quant_gemv_fp8_e4m3_pc},
    {synaptix::DType::W8_PC, int8_pc::quant_dequant_bf16_int8_pc, int8_pc::quant_gemv_int8_pc},
    {synaptix::DType::MXFP4, mxfp4::quant_dequant_bf16_mxfp4, mxfp4::quant_gemv_mxfp4},
};

std::mt19937& rng() {
  static std::mt19937 r(20261205);
  return r;
}

int64_t k_for(const quant::WeightFormat& f) { return f.group == 0 ? 3 * 128 + 36 : 3 * 128; }

// The emulated kernel's bf16 expansion against the reference rounded to bf16; the count of elements that differ.
int64_t mismatches(const Case& c, const std::vector<uint8_t>& packed, int64_t n, int64_t k) {
  const quant::WeightFormat& f = *quant::weight_format(c.dtype);
  std::vector<float> ref(static_cast<size_t>(n * k));
  quant::dequantize_rows(f, packed.data(), n, k, ref.data());
  std::vector<uint16_t> got(ref.size(), 0xFFFF);  // NaN: an element the kernel does not write differs
  c.kernel(packed.data(), got.data(), static_cast<int>(n), static_cast<int>(k));
  int64_t bad = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    if (got[i] != synaptix::f32_to_bf16(ref[i]) && bad++ < 3)
      ADD_FAILURE() << f.name << " element " << i << ": kernel " << got[i] << ", reference " << ref[i] << " (bf16 "
                    << synaptix::f32_to_bf16(ref[i]) << ")";
  }
  return bad;
}

// Random codes in every byte, then each scale field set to a random finite value (int4-asym: a zero point
// 0..15 and its pad byte 0); E4M3's NaN codes and E8M0's 255 replaced.
std::vector<uint8_t> random_codes(const quant::WeightFormat& f, int64_t n, int64_t k) {
  const int64_t rb = quant::weight_row_bytes(f, k);
  std::vector<uint8_t> p(static_cast<size_t>(n * rb));
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_real_distribution<float> mag(-20.0f, 4.0f);
  for (auto& b : p) b = static_cast<uint8_t>(byte(rng()));
  for (int64_t r = 0; r < n; ++r) {
    uint8_t* row = p.data() + r * rb;
    const float scale = std::ldexp(1.0f, static_cast<int>(mag(rng()))) * (byte(rng()) % 2 ? 1.0f : -1.3f);
    if (f.group == 0) {
      std::memcpy(row, &scale, 4);
      if (f.code == quant::CodeType::Fp8E4M3)
        for (int64_t i = 0; i < k; ++i) row[4 + i] = (row[4 + i] & 0x7F) == 0x7F ? static_cast<uint8_t>(row[4 + i] ^ 1) : row[4 + i];
      continue;
    }
    for (int64_t g = 0; g < k / f.group; ++g) {
      uint8_t* blk = row + g * f.block_bytes;
      if (f.code == quant::CodeType::E2M1) {
        blk[0] = static_cast<uint8_t>(byte(rng()) % 255);
        continue;
      }
      const uint16_t h = synaptix::f32_to_f16(scale * static_cast<float>(1 + g % 3));
      std::memcpy(blk, &h, 2);
      if (f.code == quant::CodeType::Int4Asym) blk[2] = static_cast<uint8_t>(g % 16), blk[3] = 0;
    }
  }
  return p;
}

}  // namespace

TEST(QuantDecodeEmulation, RoundToNearestMatricesExpandAsTheReference) {
  for (const Case& c : kCases) {
    const quant::WeightFormat& f = *quant::weight_format(c.dtype);
    const int64_t n = 13, k = k_for(f);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    std::vector<float> w(static_cast<size_t>(n * k));
    for (int64_t r = 0; r < n; ++r)
      for (int64_t i = 0; i < k; ++i) w[static_cast<size_t>(r * k + i)] = u(rng()) * std::ldexp(1.0f, static_cast<int>(r) - 6);
    std::vector<uint8_t> packed(static_cast<size_t>(n * quant::weight_row_bytes(f, k)));
    quant::quantize_rows(f, w.data(), n, k, packed.data());
    EXPECT_EQ(mismatches(c, packed, n, k), 0) << f.name;
  }
}

TEST(QuantDecodeEmulation, EveryCodeAndScaleExpandsAsTheReference) {
  for (const Case& c : kCases) {
    const quant::WeightFormat& f = *quant::weight_format(c.dtype);
    const int64_t n = 64, k = k_for(f);
    EXPECT_EQ(mismatches(c, random_codes(f, n, k), n, k), 0) << f.name;
  }
}

// The GEMV's grid (blocks of WARPS warps of RPW rows), each warp as 32 threads.
void run_gemv(GemvKernel g, const float* x, const uint8_t* w, float* y, int n, int k, bool accumulate) {
  const int rows_per_block = WARPS * RPW, blocks = (n + rows_per_block - 1) / rows_per_block;
  for (int b = 0; b < blocks; ++b)
    for (int wi = 0; wi < WARPS; ++wi) {
      emu::Warp warp;
      std::vector<std::thread> lanes;
      for (int lane = 0; lane < 32; ++lane)
        lanes.emplace_back([&, lane] {
          emu::threadIdx.x = static_cast<unsigned>(wi * 32 + lane);
          emu::blockIdx.x = static_cast<unsigned>(b);
          emu::this_warp = &warp;
          g(x, w, y, n, k, accumulate ? 1 : 0);
        });
      for (auto& t : lanes) t.join();
    }
}

TEST(QuantDecodeEmulation, GemvMatchesTheReferenceProduct) {
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (const Case& c : kCases) {
    const quant::WeightFormat& f = *quant::weight_format(c.dtype);
    const int64_t n = 17, k = k_for(f);  // 17 rows: the last block's second warp has 2 of its 3
    std::vector<float> w(static_cast<size_t>(n * k)), x(static_cast<size_t>(M * k)), y0(static_cast<size_t>(M * n));
    for (size_t i = 0; i < w.size(); ++i) w[i] = u(rng()) * (1.0f + static_cast<float>(i / static_cast<size_t>(k) % 5));
    for (float& v : x) v = u(rng());
    for (float& v : y0) v = u(rng());
    std::vector<uint8_t> packed(static_cast<size_t>(n * quant::weight_row_bytes(f, k)));
    quant::quantize_rows(f, w.data(), n, k, packed.data());
    std::vector<float> ref(w.size());
    quant::dequantize_rows(f, packed.data(), n, k, ref.data());
    for (bool accumulate : {false, true}) {
      std::vector<float> y = accumulate ? y0 : std::vector<float>(y0.size(), NAN);
      run_gemv(c.gemv, x.data(), packed.data(), y.data(), static_cast<int>(n), static_cast<int>(k), accumulate);
      double err = 0, scale = 1e-30;
      for (int j = 0; j < M; ++j)
        for (int64_t r = 0; r < n; ++r) {
          double want = accumulate ? y0[static_cast<size_t>(j * n + r)] : 0.0;
          for (int64_t i = 0; i < k; ++i)
            want += static_cast<double>(x[static_cast<size_t>(j * k + i)]) * ref[static_cast<size_t>(r * k + i)];
          const float got = y[static_cast<size_t>(j * n + r)];
          err = std::max(err, std::isfinite(got) ? std::fabs(got - want) : INFINITY);
          scale = std::max(scale, std::fabs(want));
        }
      EXPECT_LT(err / scale, 1e-5) << f.name << (accumulate ? " accumulate" : "");
    }
  }
}

TEST(QuantDecodeEmulation, EveryFormatHasACase) {
  for (const quant::WeightFormat& f : quant::weight_formats()) {
    bool found = false;
    for (const Case& c : kCases) found = found || c.dtype == f.dtype;
    EXPECT_TRUE(found) << f.name << " has no emulated kernel here";
  }
}
