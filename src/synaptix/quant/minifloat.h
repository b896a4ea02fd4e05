#pragma once
// The small floating-point element types of the weight formats, as the OCP 8-bit floating point (OFP8) and
// Microscaling (MX) v1.0 specifications define them:
//  - E4M3 (the "FN" variant): sign, 4 exponent bits (bias 7), 3 mantissa bits; no infinities, S.1111.111 is
//    NaN, so the largest finite magnitude is 1.75 * 2^8 = 448; subnormals m * 2^-9.
//  - E2M1 (MXFP4's elements): sign, 2 exponent bits (bias 1), 1 mantissa bit; magnitudes 0, 0.5, 1, 1.5, 2, 3,
//    4, 6; no infinities or NaN.
//  - E8M0 (MX's shared scale): 2^(X - 127) for X in 0..254; X = 255 is NaN.
// Encoders round to nearest, ties to even, and saturate to the largest finite magnitude (the MX spec's
// conversion; the OFP8 spec's saturating mode). NaN encodes to E4M3's NaN and to E2M1's 0 (E2M1 has no NaN).
#include <cstdint>

namespace synaptix::quant {

float e4m3_to_f32(uint8_t code);
uint8_t f32_to_e4m3(float v);
inline constexpr float kE4M3Max = 448.0f;

float e2m1_to_f32(uint8_t code);  // the low 4 bits: sign in bit 3
uint8_t f32_to_e2m1(float v);
inline constexpr float kE2M1Max = 6.0f;

float e8m0_to_f32(uint8_t code);
// The MX shared scale of a block whose largest magnitude is amax, for elements whose largest power of two is
// 2^emax_elem (2 for E2M1): floor(log2(amax)) - emax_elem, clamped to E8M0's range; 0 for amax 0.
uint8_t mx_shared_exponent(float amax, int emax_elem);

}  // namespace synaptix::quant
