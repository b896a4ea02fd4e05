// The weight-format kernels' decoding (kernels/linear/cuda/quant_decode.cuh) and the bf16 expansion kernel
// (quant_dequant.cu), compiled for the host with the CUDA built-ins they use emulated (one thread walking the
// whole grid-stride loop), against the CPU's dequantization reference (quant::dequantize_rows) rounded to
// bf16, bit for bit, for every weight format: matrices packed by the CPU's round-to-nearest quantizer, and
// packed rows of random codes (every code value; zero points 0..15; E8M0 exponents 0..254) under random finite
// scales. This checks without a GPU that the kernels read the layout the CPU quantizer writes (block sizes,
// nibble order, scales, zero points, the E4M3/E2M1/E8M0 bit moves including subnormals); the same code runs on
// the device in tests/kernels/cuda/quant_gemv_device_test.cpp. (E4M3's NaN codes and E8M0's NaN, which no
// quantizer writes, are left out: the kernels do not decode them as NaN.)
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
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

namespace emu {
struct Dim {
  unsigned x = 0;
};
inline const Dim threadIdx{0}, blockIdx{0}, blockDim{1}, gridDim{1};
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

// Each format's decoder and kernel in a namespace of its own, under the generator's #defines.
namespace int4_g32 {
using namespace emu;
#define QFMT 1
#define GROUP 32
#define ASYM 0
#define quant_dequant_bf16 quant_dequant_bf16_int4_g32
#include "synaptix/kernels/linear/cuda/quant_decode.cuh"
#include "synaptix/kernels/linear/cuda/quant_dequant.cu"
#undef quant_dequant_bf16
#undef QFMT
#undef GROUP
#undef ASYM
#undef QD_HDR
#undef QD_BLOCK_BYTES
#undef QD_UNITS_PER_BLOCK
#undef QD_VALUES_PER_UNIT
#undef QD_SECOND_HALF
#undef QD_ROW_SCALE
}  // namespace int4_g32
namespace int4_g64 {
using namespace emu;
#define QFMT 1
#define GROUP 64
#define ASYM 0
#define quant_dequant_bf16 quant_dequant_bf16_int4_g64
#include "synaptix/kernels/linear/cuda/quant_decode.cuh"
#include "synaptix/kernels/linear/cuda/quant_dequant.cu"
#undef quant_dequant_bf16
#undef QFMT
#undef GROUP
#undef ASYM
#undef QD_HDR
#undef QD_BLOCK_BYTES
#undef QD_UNITS_PER_BLOCK
#undef QD_VALUES_PER_UNIT
#undef QD_SECOND_HALF
#undef QD_ROW_SCALE
}  // namespace int4_g64
namespace int4_g128 {
using namespace emu;
#define QFMT 1
#define GROUP 128
#define ASYM 0
#define quant_dequant_bf16 quant_dequant_bf16_int4_g128
#include "synaptix/kernels/linear/cuda/quant_decode.cuh"
#include "synaptix/kernels/linear/cuda/quant_dequant.cu"
#undef quant_dequant_bf16
#undef QFMT
#undef GROUP
#undef ASYM
#undef QD_HDR
#undef QD_BLOCK_BYTES
#undef QD_UNITS_PER_BLOCK
#undef QD_VALUES_PER_UNIT
#undef QD_SECOND_HALF
#undef QD_ROW_SCALE
}  // namespace int4_g128
namespace int4_g32_asym {
using namespace emu;
#define QFMT 1
#define GROUP 32
#define ASYM 1
#define quant_dequant_bf16 quant_dequant_bf16_int4_g32_asym
#include "synaptix/kernels/linear/cuda/quant_decode.cuh"
#include "synaptix/kernels/linear/cuda/quant_dequant.cu"
#undef quant_dequant_bf16
#undef QFMT
#undef GROUP
#undef ASYM
#undef QD_HDR
#undef QD_BLOCK_BYTES
#undef QD_UNITS_PER_BLOCK
#undef QD_VALUES_PER_UNIT
#undef QD_SECOND_HALF
#undef QD_ROW_SCALE
}  // namespace int4_g32_asym
namespace int4_g64_asym {
using namespace emu;
#define QFMT 1
#define GROUP 64
#define ASYM 1
#define quant_dequant_bf16 quant_dequant_bf16_int4_g64_asym
#include "synaptix/kernels/linear/cuda/quant_decode.cuh"
#include "synaptix/kernels/linear/cuda/quant_dequant.cu"
#undef quant_dequant_bf16
#undef QFMT
#undef GROUP
#undef ASYM
#undef QD_HDR
#undef QD_BLOCK_BYTES
#undef QD_UNITS_PER_BLOCK
#undef QD_VALUES_PER_UNIT
#undef QD_SECOND_HALF
#undef QD_ROW_SCALE
}  // namespace int4_g64_asym
namespace int4_g128_asym {
using namespace emu;
#define QFMT 1
#define GROUP 128
#define ASYM 1
#define quant_dequant_bf16 quant_dequant_bf16_int4_g128_asym
#include "synaptix/kernels/linear/cuda/quant_decode.cuh"
#include "synaptix/kernels/linear/cuda/quant_dequant.cu"
#undef quant_dequant_bf16
#undef QFMT
#undef GROUP
#undef ASYM
#undef QD_HDR
#undef QD_BLOCK_BYTES
#undef QD_UNITS_PER_BLOCK
#undef QD_VALUES_PER_UNIT
#undef QD_SECOND_HALF
#undef QD_ROW_SCALE
}  // namespace int4_g128_asym
namespace fp8_e4m3_pc {
using namespace emu;
#define QFMT 2
#define GROUP 0
#define ASYM 0
#define quant_dequant_bf16 quant_dequant_bf16_fp8_e4m3_pc
#include "synaptix/kernels/linear/cuda/quant_decode.cuh"
#include "synaptix/kernels/linear/cuda/quant_dequant.cu"
#undef quant_dequant_bf16
#undef QFMT
#undef GROUP
#undef ASYM
#undef QD_HDR
#undef QD_BLOCK_BYTES
#undef QD_UNITS_PER_BLOCK
#undef QD_VALUES_PER_UNIT
#undef QD_SECOND_HALF
#undef QD_ROW_SCALE
}  // namespace fp8_e4m3_pc
namespace int8_pc {
using namespace emu;
#define QFMT 3
#define GROUP 0
#define ASYM 0
#define quant_dequant_bf16 quant_dequant_bf16_int8_pc
#include "synaptix/kernels/linear/cuda/quant_decode.cuh"
#include "synaptix/kernels/linear/cuda/quant_dequant.cu"
#undef quant_dequant_bf16
#undef QFMT
#undef GROUP
#undef ASYM
#undef QD_HDR
#undef QD_BLOCK_BYTES
#undef QD_UNITS_PER_BLOCK
#undef QD_VALUES_PER_UNIT
#undef QD_SECOND_HALF
#undef QD_ROW_SCALE
}  // namespace int8_pc
namespace mxfp4 {
using namespace emu;
#define QFMT 4
#define GROUP 0
#define ASYM 0
#define quant_dequant_bf16 quant_dequant_bf16_mxfp4
#include "synaptix/kernels/linear/cuda/quant_decode.cuh"
#include "synaptix/kernels/linear/cuda/quant_dequant.cu"
#undef quant_dequant_bf16
#undef QFMT
#undef GROUP
#undef ASYM
#undef QD_HDR
#undef QD_BLOCK_BYTES
#undef QD_UNITS_PER_BLOCK
#undef QD_VALUES_PER_UNIT
#undef QD_SECOND_HALF
#undef QD_ROW_SCALE
}  // namespace mxfp4

namespace {

using synaptix::DType;
namespace quant = synaptix::quant;

struct Case {
  DType dtype;
  DequantKernel kernel;
};
const Case kCases[] = {
    {synaptix::DType::W4_G32, int4_g32::quant_dequant_bf16_int4_g32},
    {synaptix::DType::W4_G64, int4_g64::quant_dequant_bf16_int4_g64},
    {synaptix::DType::W4_G128, int4_g128::quant_dequant_bf16_int4_g128},
    {synaptix::DType::W4A_G32, int4_g32_asym::quant_dequant_bf16_int4_g32_asym},
    {synaptix::DType::W4A_G64, int4_g64_asym::quant_dequant_bf16_int4_g64_asym},
    {synaptix::DType::W4A_G128, int4_g128_asym::quant_dequant_bf16_int4_g128_asym},
    {synaptix::DType::FP8_PC, fp8_e4m3_pc::quant_dequant_bf16_fp8_e4m3_pc},
    {synaptix::DType::W8_PC, int8_pc::quant_dequant_bf16_int8_pc},
    {synaptix::DType::MXFP4, mxfp4::quant_dequant_bf16_mxfp4},
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

TEST(QuantDecodeEmulation, EveryFormatHasACase) {
  for (const quant::WeightFormat& f : quant::weight_formats()) {
    bool found = false;
    for (const Case& c : kCases) found = found || c.dtype == f.dtype;
    EXPECT_TRUE(found) << f.name << " has no emulated kernel here";
  }
}
