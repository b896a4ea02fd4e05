// The int8 KV cache's device helpers (kernels/attention/cuda/kv_int8.cuh), compiled for the host with the CUDA
// built-ins they use emulated, against the CPU's definition of the format (kernels/attention/kv_format.h):
// a row quantized as rope_kv_write and the fused decode kernel do it (the maximum of |x|, the scale, each
// code) equals kv_encode_head bit for bit, on random rows of many magnitudes, rows of exact rounding ties,
// rows past the clamp and zero rows; a word of four codes decodes to the codes, sign included; the kernels'
// row and scale offsets are the host layout's (kv_int8_layout.h). This checks the arithmetic without a GPU;
// tests/kernels/cuda/kv_int8_attention_device_test.cpp runs the same code on the device.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "synaptix/kernels/attention/cuda/kv_int8_layout.h"
#include "synaptix/kernels/attention/kv_format.h"

// The CUDA built-ins kv_int8.cuh uses, for one host thread (IEEE division rounds to nearest; rintf rounds
// ties to even in the default rounding mode, as on the device).
#define __device__
#define __forceinline__ inline
namespace emulated {
inline float __fdiv_rn(float a, float b) { return a / b; }
#include "synaptix/kernels/attention/cuda/kv_int8.cuh"
}  // namespace emulated
#undef __device__
#undef __forceinline__

namespace kr = synaptix::kernels;

namespace {

// One row as the kernels quantize it: max |x| (a warp max: order-free), the scale, then every code.
void device_encode(const std::vector<float>& x, std::vector<int8_t>& codes, float& scale) {
  float amax = 0.f;
  for (float v : x) amax = fmaxf(amax, fabsf(v));
  scale = emulated::kv_int8_scale(amax);
  codes.resize(x.size());
  for (size_t i = 0; i < x.size(); ++i) codes[i] = static_cast<int8_t>(emulated::kv_int8_code(x[i], scale));
}

}  // namespace

TEST(KvInt8Emulation, RowQuantizationIsTheCpusBitForBit) {
  std::mt19937 rng(7);
  std::vector<std::vector<float>> rows;
  for (int r = 0; r < 400; ++r) {
    const float mag = std::pow(10.0f, std::uniform_real_distribution<float>(-6.0f, 6.0f)(rng));
    std::uniform_real_distribution<float> u(-mag, mag);
    std::vector<float> x(static_cast<size_t>(16 + r % 3 * 56));
    for (float& v : x) v = u(rng);
    rows.push_back(x);
  }
  // amax 127 gives scale 1: every x.5 is a tie (round half to even), and scaled copies of it.
  std::vector<float> ties;
  for (int i = -127; i <= 127; ++i) ties.push_back(static_cast<float>(i) + (i % 2 ? 0.5f : 0.0f));
  ties.push_back(127.0f);
  rows.push_back(ties);
  for (float m : {0.25f, 3.0f, 1e-3f, 1e30f}) {
    std::vector<float> t = ties;
    for (float& v : t) v *= m;
    rows.push_back(t);
  }
  rows.push_back(std::vector<float>(64, 0.0f));
  rows.push_back({-0.0f, 0.0f, 1e-45f, -1e-45f});
  for (const auto& x : rows) {
    std::vector<int8_t> got, want(x.size());
    float got_s = -1, want_s = -2;
    device_encode(x, got, got_s);
    kr::kv_encode_head(kr::KvFormat::Int8, x.data(), static_cast<int64_t>(x.size()), want.data(), &want_s);
    ASSERT_EQ(std::memcmp(&got_s, &want_s, 4), 0) << got_s << " vs " << want_s;
    for (size_t i = 0; i < x.size(); ++i) ASSERT_EQ(int{got[i]}, int{want[i]}) << "x = " << x[i] << " scale " << want_s;
  }
}

TEST(KvInt8Emulation, WordsOfFourCodesDecodeWithTheirSigns) {
  for (int a = -128; a < 128; ++a) {
    const int8_t c[4] = {static_cast<int8_t>(a), static_cast<int8_t>(-a - 1), static_cast<int8_t>(a / 3), static_cast<int8_t>(127 - (a & 7))};
    uint32_t w = 0;
    std::memcpy(&w, c, 4);  // little-endian: code e in bits 8e..8e+7, as a 32-bit load gives it on the device
    for (int e = 0; e < 4; ++e) {
      const float want = kr::kv_decode(kr::KvFormat::Int8, c, e, 0.37f);
      EXPECT_EQ(emulated::kv_int8_lane(w, e) * 0.37f, want) << "code " << int{c[e]} << " lane " << e;
    }
  }
}

TEST(KvInt8Emulation, KernelOffsetsAreTheHostLayouts) {
  for (auto [bs, kvh, d] : {std::tuple<int, int, int>{16, 3, 64}, {4, 1, 256}, {16, 8, 128}, {8, 2, 80}})
    for (int64_t slot = 0; slot < 5 * bs; ++slot)
      for (int h = 0; h < kvh; ++h) {
        const int64_t b = slot / bs;
        const int o = static_cast<int>(slot % bs);
        EXPECT_EQ(emulated::kv_int8_row_at(b, o, bs, kvh, h, d), synaptix::kernels::cuda::kv_int8_row_offset(slot, bs, kvh, h, d));
        EXPECT_EQ(emulated::kv_int8_scale_at(b, o, bs, kvh, h, d), synaptix::kernels::cuda::kv_int8_scale_offset(slot, bs, kvh, h, d));
      }
}
