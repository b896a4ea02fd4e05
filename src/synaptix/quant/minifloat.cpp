#include "synaptix/quant/minifloat.h"

#include <array>
#include <cmath>
#include <limits>

namespace synaptix::quant {

namespace {

constexpr float kE2M1Values[8] = {0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f};

std::array<float, 256> make_e4m3_table() {
  std::array<float, 256> t{};
  for (int c = 0; c < 256; ++c) {
    const int e = (c >> 3) & 0xF, m = c & 7;
    float v;
    if (e == 0xF && m == 7) v = std::numeric_limits<float>::quiet_NaN();
    else if (e == 0) v = std::ldexp(static_cast<float>(m), -9);
    else v = std::ldexp(static_cast<float>(8 + m), e - 10);
    t[static_cast<size_t>(c)] = (c & 0x80) ? -v : v;
  }
  return t;
}

}  // namespace

float e4m3_to_f32(uint8_t code) {
  static const std::array<float, 256> table = make_e4m3_table();
  return table[code];
}

uint8_t f32_to_e4m3(float v) {
  if (std::isnan(v)) return 0x7F;
  const uint8_t sign = std::signbit(v) ? 0x80 : 0;
  const float a = std::fabs(v);
  if (a >= kE4M3Max) return sign | 0x7E;
  // Quantum of a's binade (subnormals share the smallest normal binade's): 2^(e - 3), e >= -6.
  int e = a > 0 ? std::ilogb(a) : -6;
  if (e < -6) e = -6;
  const float q = std::nearbyint(std::ldexp(a, 3 - e));  // 0..16 mantissa steps, ties to even
  if (q == 0) return sign;
  int m = static_cast<int>(q);
  if (m == 16) m = 8, ++e;  // rounded up into the next binade
  if (m < 8) return sign | static_cast<uint8_t>(m);  // subnormal (only for e == -6)
  const int code = ((e + 7) << 3) | (m - 8);
  return code > 0x7E ? (sign | 0x7E) : static_cast<uint8_t>(sign | code);
}

float e2m1_to_f32(uint8_t code) {
  const float v = kE2M1Values[code & 7];
  return (code & 8) ? -v : v;
}

uint8_t f32_to_e2m1(float v) {
  if (std::isnan(v)) return 0;
  const uint8_t sign = std::signbit(v) ? 8 : 0;
  const float a = std::fabs(v);
  uint8_t best = 0;
  for (uint8_t c = 1; c < 8; ++c) {
    const float d = std::fabs(kE2M1Values[c] - a), db = std::fabs(kE2M1Values[best] - a);
    if (d < db || (d == db && (c & 1) == 0)) best = c;  // ties to the even code (even mantissa)
  }
  return sign | best;
}

float e8m0_to_f32(uint8_t code) {
  if (code == 0xFF) return std::numeric_limits<float>::quiet_NaN();
  return std::ldexp(1.0f, static_cast<int>(code) - 127);
}

uint8_t mx_shared_exponent(float amax, int emax_elem) {
  if (!(amax > 0) || std::isinf(amax)) return amax > 0 ? 254 : 0;
  const int x = std::ilogb(amax) - emax_elem + 127;
  return static_cast<uint8_t>(x < 0 ? 0 : x > 254 ? 254 : x);
}

}  // namespace synaptix::quant
