// The weight formats (quant/weight_format.h, weight_quantize.h, minifloat.h): codes of hand-checked values
// from the OCP OFP8 and MX specifications, the round trip dequantize(quantize(x)) within each format's error
// bound on random rows, the packed layout read back byte by byte, and rows that are not whole groups refused.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "synaptix/core/error.h"
#include "synaptix/quant/block_dtype.h"
#include "synaptix/quant/minifloat.h"
#include "synaptix/quant/weight_format.h"
#include "synaptix/quant/weight_quantize.h"

using namespace synaptix;
using namespace synaptix::quant;

namespace {

std::vector<float> random_row(int64_t n, std::mt19937& rng, float spread) {
  std::normal_distribution<float> d(0.0f, spread);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = d(rng);
  return v;
}

}  // namespace

TEST(Minifloat, E4M3CodesFromTheOfp8Spec) {
  EXPECT_EQ(f32_to_e4m3(448.0f), 0x7E);   // S.1111.110: the largest finite magnitude
  EXPECT_EQ(f32_to_e4m3(-448.0f), 0xFE);
  EXPECT_EQ(f32_to_e4m3(1.0e6f), 0x7E);   // saturates, never the NaN code
  EXPECT_EQ(f32_to_e4m3(1.0f), 0x38);     // exponent 7 = bias, mantissa 0
  EXPECT_EQ(f32_to_e4m3(std::ldexp(1.0f, -6)), 0x08);  // smallest normal
  EXPECT_EQ(f32_to_e4m3(std::ldexp(1.0f, -9)), 0x01);  // smallest subnormal
  EXPECT_EQ(f32_to_e4m3(std::ldexp(0.5f, -9)), 0x00);  // half the smallest subnormal: tie to even (0)
  EXPECT_EQ(f32_to_e4m3(std::ldexp(1.5f, -9)), 0x02);  // tie between codes 1 and 2: even
  EXPECT_EQ(f32_to_e4m3(1.0625f), 0x38);  // tie between 1 and 1.125: even mantissa (1)
  EXPECT_EQ(f32_to_e4m3(1.1875f), 0x3A);  // tie between 1.125 and 1.25: even mantissa (1.25)
  EXPECT_EQ(f32_to_e4m3(15.5f), 0x58);    // tie, rounds up into the next binade: 16 = 2^(11 - 7)
  EXPECT_TRUE(std::isnan(e4m3_to_f32(0x7F)));
  EXPECT_TRUE(std::isnan(e4m3_to_f32(0xFF)));
  EXPECT_EQ(e4m3_to_f32(0x7E), 448.0f);
  EXPECT_EQ(e4m3_to_f32(0x01), std::ldexp(1.0f, -9));
  EXPECT_EQ(e4m3_to_f32(0x07), 7 * std::ldexp(1.0f, -9));
  EXPECT_EQ(e4m3_to_f32(0xB8), -1.0f);
  for (int c = 0; c < 256; ++c) {  // every finite code round-trips
    if ((c & 0x7F) == 0x7F) continue;
    EXPECT_EQ(f32_to_e4m3(e4m3_to_f32(static_cast<uint8_t>(c))), c == 0x80 ? 0x80 : c) << c;
  }
}

TEST(Minifloat, E2M1ValueSetAndRounding) {
  const float values[8] = {0, 0.5f, 1, 1.5f, 2, 3, 4, 6};
  for (uint8_t c = 0; c < 8; ++c) {
    EXPECT_EQ(e2m1_to_f32(c), values[c]);
    EXPECT_EQ(e2m1_to_f32(static_cast<uint8_t>(c | 8)), -values[c]);
    EXPECT_EQ(f32_to_e2m1(values[c]), c);
  }
  EXPECT_EQ(f32_to_e2m1(0.25f), 0);   // ties to the even code
  EXPECT_EQ(f32_to_e2m1(0.75f), 2);
  EXPECT_EQ(f32_to_e2m1(1.25f), 2);
  EXPECT_EQ(f32_to_e2m1(1.75f), 4);
  EXPECT_EQ(f32_to_e2m1(2.5f), 4);
  EXPECT_EQ(f32_to_e2m1(3.5f), 6);
  EXPECT_EQ(f32_to_e2m1(5.0f), 6);
  EXPECT_EQ(f32_to_e2m1(5.01f), 7);
  EXPECT_EQ(f32_to_e2m1(100.0f), 7);  // saturates to 6
  EXPECT_EQ(f32_to_e2m1(-2.9f), 8 | 5);
}

TEST(Minifloat, E8M0AndTheMxSharedExponent) {
  EXPECT_EQ(e8m0_to_f32(127), 1.0f);
  EXPECT_EQ(e8m0_to_f32(0), std::ldexp(1.0f, -127));
  EXPECT_EQ(e8m0_to_f32(254), std::ldexp(1.0f, 127));
  EXPECT_TRUE(std::isnan(e8m0_to_f32(255)));
  // OCP MX 6.3: X = floor(log2(amax)) - emax_elem, emax_elem = 2 for E2M1.
  EXPECT_EQ(mx_shared_exponent(6.0f, 2), 127);   // 6 -> 2^0, elements up to 6
  EXPECT_EQ(mx_shared_exponent(7.9f, 2), 127);   // 7.9 saturates to 6
  EXPECT_EQ(mx_shared_exponent(8.0f, 2), 128);
  EXPECT_EQ(mx_shared_exponent(0.1f, 2), 127 - 4 - 2);
  EXPECT_EQ(mx_shared_exponent(0.0f, 2), 0);
}

TEST(WeightFormat, NamesLayoutsAndRowBytes) {
  for (const WeightFormat& f : weight_formats()) {
    EXPECT_EQ(f.name, dtype_name(f.dtype));
    DType parsed;
    ASSERT_TRUE(parse_dtype(f.name, &parsed)) << f.name;
    EXPECT_EQ(parsed, f.dtype);
    EXPECT_TRUE(is_block_dtype(f.dtype));
    EXPECT_EQ(weight_format_named(f.name), &f);
  }
  EXPECT_EQ(weight_format_named("int8")->dtype, DType::W8_PC);
  EXPECT_EQ(weight_format_named("fp8")->dtype, DType::FP8_PC);
  EXPECT_EQ(weight_format_named("int3"), nullptr);
  EXPECT_EQ(row_bytes(DType::W8_PC, 576), 4 + 576);
  EXPECT_EQ(row_bytes(DType::FP8_PC, 576), 4 + 576);
  EXPECT_EQ(row_bytes(DType::W4_G32, 576), 18 * 18);
  EXPECT_EQ(row_bytes(DType::W4_G128, 1536), 12 * 66);
  EXPECT_EQ(row_bytes(DType::W4A_G64, 576), 9 * 36);
  EXPECT_EQ(row_bytes(DType::MXFP4, 576), 18 * 17);
  EXPECT_DOUBLE_EQ(bits_per_weight(*weight_format(DType::MXFP4), 32), 4.25);
}

TEST(WeightFormat, RowsThatAreNotWholeGroupsAreRefused) {
  try {
    row_bytes(DType::W4_G128, 576);
    FAIL() << "k = 576 accepted for groups of 128";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("int4-g128"), std::string::npos) << msg;
    EXPECT_NE(msg.find("576"), std::string::npos) << msg;
    EXPECT_NE(msg.find("multiple of 128"), std::string::npos) << msg;
  }
  std::vector<float> w(3 * 40, 0.5f);
  std::vector<uint8_t> out(1000);
  EXPECT_THROW(quantize_rows(*weight_format(DType::MXFP4), w.data(), 3, 40, out.data()), Error);
  EXPECT_THROW(row_bytes(DType::W8_PC, 0), Error);
  EXPECT_EQ(row_bytes(DType::W8_PC, 40), 44);  // per-channel formats take any k
}

TEST(WeightFormat, HandCheckedRows) {
  // int4-g32 symmetric: amax 7 -> d = 1, codes v + 8, nibble order (element j low, j + 16 high).
  std::vector<float> v(32);
  for (int i = 0; i < 32; ++i) v[static_cast<size_t>(i)] = static_cast<float>(i % 15 - 7);
  std::vector<uint8_t> row(static_cast<size_t>(row_bytes(DType::W4_G32, 32)));
  quantize_rows(*weight_format(DType::W4_G32), v.data(), 1, 32, row.data());
  uint16_t h;
  std::memcpy(&h, row.data(), 2);
  EXPECT_EQ(f16_to_f32(h), 1.0f);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(row[static_cast<size_t>(2 + j)] & 15, static_cast<int>(v[static_cast<size_t>(j)]) + 8) << j;
    EXPECT_EQ(row[static_cast<size_t>(2 + j)] >> 4, static_cast<int>(v[static_cast<size_t>(j + 16)]) + 8) << j;
  }
  // int4-g32-asym: values 0..15 * 0.5 + 1 -> lo = 0 (the range includes 0), hi = 8.5, d = 8.5 / 15.
  for (int i = 0; i < 32; ++i) v[static_cast<size_t>(i)] = -1.0f + 0.5f * static_cast<float>(i % 16);
  row.assign(static_cast<size_t>(row_bytes(DType::W4A_G32, 32)), 0xAA);
  quantize_rows(*weight_format(DType::W4A_G32), v.data(), 1, 32, row.data());
  std::memcpy(&h, row.data(), 2);
  EXPECT_EQ(f16_to_f32(h), f16_to_f32(f32_to_f16(7.5f / 15.0f)));
  EXPECT_EQ(row[2], 2);  // zero point: -lo / d = 1 / 0.5
  EXPECT_EQ(row[3], 0);
  EXPECT_EQ(row[4] & 15, 0);  // -1 -> code 0
  EXPECT_EQ(row[4 + 15] & 15, 15);  // 6.5 -> code 15
  // mxfp4: amax 6 -> X = 127, elements are their own E2M1 codes.
  const float e2m1[8] = {0, 0.5f, 1, 1.5f, 2, 3, 4, 6};
  for (int i = 0; i < 32; ++i) v[static_cast<size_t>(i)] = (i & 8 ? -1.0f : 1.0f) * e2m1[i & 7];
  row.assign(17, 0);
  quantize_rows(*weight_format(DType::MXFP4), v.data(), 1, 32, row.data());
  EXPECT_EQ(row[0], 127);
  for (int j = 0; j < 16; ++j) EXPECT_EQ(row[static_cast<size_t>(1 + j)], (j & 15) | ((j & 15) << 4)) << j;
  // int8-pc: amax 127 -> d = 1, codes are the values.
  for (int i = 0; i < 32; ++i) v[static_cast<size_t>(i)] = static_cast<float>(i * 8 - 127);
  row.assign(36, 0);
  quantize_rows(*weight_format(DType::W8_PC), v.data(), 1, 32, row.data());
  float d;
  std::memcpy(&d, row.data(), 4);
  EXPECT_EQ(d, 1.0f);
  for (int i = 0; i < 32; ++i) EXPECT_EQ(static_cast<int8_t>(row[static_cast<size_t>(4 + i)]), i * 8 - 127);
  // fp8-e4m3-pc: amax 448 -> d = 1, codes are E4M3 of the values.
  for (int i = 0; i < 32; ++i) v[static_cast<size_t>(i)] = 448.0f - 14.0f * static_cast<float>(i);
  quantize_rows(*weight_format(DType::FP8_PC), v.data(), 1, 32, row.data());
  std::memcpy(&d, row.data(), 4);
  EXPECT_EQ(d, 1.0f);
  EXPECT_EQ(row[4], 0x7E);
  for (int i = 0; i < 32; ++i) EXPECT_EQ(row[static_cast<size_t>(4 + i)], f32_to_e4m3(v[static_cast<size_t>(i)]));
}

// Each format's error bound on random rows (normal, with a few outliers), computed from the stored
// parameters: a wrong scale, zero point, nibble order or rounding breaks it.
TEST(WeightFormat, RoundTripWithinEachFormatsBound) {
  std::mt19937 rng(18);
  const int64_t rows = 7, k = 256;
  for (const WeightFormat& f : weight_formats()) {
    auto w = random_row(rows * k, rng, 0.05f);
    w[5] = 0.9f, w[300] = -1.3f, w[1000] = 0.0f;  // outliers in some groups
    for (int64_t i = 1536; i < 1536 + 128; ++i) w[static_cast<size_t>(i)] = 0.0f;  // an all-zero group
    std::vector<uint8_t> packed(static_cast<size_t>(rows * weight_row_bytes(f, k)));
    quantize_rows(f, w.data(), rows, k, packed.data());
    std::vector<float> back(w.size(), NAN);
    dequantize_rows(f, packed.data(), rows, k, back.data());
    const int64_t glen = f.group ? f.group : k;
    double total_err = 0, total_sq = 0;
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t g0 = 0; g0 < k; g0 += glen) {
        const float* v = w.data() + r * k + g0;
        const GroupParams p = unpack_params(f, packed.data() + r * weight_row_bytes(f, k), k, g0 / glen);
        float amax = 0, lo = 0, hi = 0;
        for (int64_t i = 0; i < glen; ++i) amax = std::max(amax, std::fabs(v[i])), lo = std::min(lo, v[i]), hi = std::max(hi, v[i]);
        for (int64_t i = 0; i < glen; ++i) {
          const float x = v[i], y = back[static_cast<size_t>(r * k + g0 + i)];
          const double err = std::fabs(static_cast<double>(x) - y);
          double bound = 0;
          switch (f.code) {
            case CodeType::Int8: bound = 0.5 * p.scale * (1 + 1e-6); break;
            case CodeType::Int4: bound = std::max(0.5 * p.scale, amax - 7.0 * p.scale) + 1e-7; break;
            case CodeType::Int4Asym: bound = 0.5 * p.scale + std::fabs(hi - lo - 15.0 * p.scale) + 1e-7; break;
            case CodeType::Fp8E4M3: bound = std::max(std::fabs(x) / 16.0, p.scale * std::ldexp(1.0, -10)) * (1 + 1e-6); break;
            case CodeType::E2M1: {
              const double a = std::fabs(x) / p.scale;  // elements' scale: half a step, or the saturation
              bound = p.scale * (a > 6 ? a - 6 : a >= 4 ? 1.0 : a >= 2 ? 0.5 : 0.25) * (1 + 1e-6);
              break;
            }
          }
          ASSERT_LE(err, bound) << f.name << " row " << r << " element " << g0 + i << ": " << x << " -> " << y;
          total_err += err * err, total_sq += static_cast<double>(x) * x;
        }
      }
    // Relative RMS error, loose (the outliers widen their groups): catches a format that zeroes whole groups.
    const double rel = std::sqrt(total_err / total_sq);
    EXPECT_LT(rel, f.bits == 8 ? 0.05 : 0.35) << f.name;
    for (int64_t i = 1536; i < 1536 + 128; ++i) EXPECT_EQ(back[static_cast<size_t>(i)], 0.0f) << f.name;
  }
}
