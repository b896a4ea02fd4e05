#include "synaptix/quant/dequantize.h"

#include <cstring>
#include <vector>

#include "synaptix/core/dtype.h"

namespace synaptix::quant {

namespace {

// GGUF is little-endian; so is every target we build for, so loads are plain copies.
uint16_t u16_at(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}
uint32_t u32_at(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
float f16_at(const uint8_t* p) { return f16_to_f32(u16_at(p)); }

// Legacy blocks of 32: element j < 16 is the low nibble of qs[j], element j + 16 its high nibble.
void q4_0(const uint8_t* b, float* y) {
  const float d = f16_at(b);
  const uint8_t* qs = b + 2;
  for (int j = 0; j < 16; ++j) {
    y[j] = d * static_cast<float>((qs[j] & 0x0F) - 8);
    y[j + 16] = d * static_cast<float>((qs[j] >> 4) - 8);
  }
}

void q4_1(const uint8_t* b, float* y) {
  const float d = f16_at(b), m = f16_at(b + 2);
  const uint8_t* qs = b + 4;
  for (int j = 0; j < 16; ++j) {
    y[j] = d * static_cast<float>(qs[j] & 0x0F) + m;
    y[j + 16] = d * static_cast<float>(qs[j] >> 4) + m;
  }
}

// Q5: bit j of the 32-bit qh is the fifth bit of element j.
void q5_0(const uint8_t* b, float* y) {
  const float d = f16_at(b);
  const uint32_t qh = u32_at(b + 2);
  const uint8_t* qs = b + 6;
  for (int j = 0; j < 16; ++j) {
    const int lo = (qs[j] & 0x0F) | static_cast<int>(((qh >> j) & 1u) << 4);
    const int hi = (qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1u) << 4);
    y[j] = d * static_cast<float>(lo - 16);
    y[j + 16] = d * static_cast<float>(hi - 16);
  }
}

void q5_1(const uint8_t* b, float* y) {
  const float d = f16_at(b), m = f16_at(b + 2);
  const uint32_t qh = u32_at(b + 4);
  const uint8_t* qs = b + 8;
  for (int j = 0; j < 16; ++j) {
    const int lo = (qs[j] & 0x0F) | static_cast<int>(((qh >> j) & 1u) << 4);
    const int hi = (qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1u) << 4);
    y[j] = d * static_cast<float>(lo) + m;
    y[j + 16] = d * static_cast<float>(hi) + m;
  }
}

void q8_0(const uint8_t* b, float* y) {
  const float d = f16_at(b);
  for (int j = 0; j < 32; ++j) y[j] = d * static_cast<float>(static_cast<int8_t>(b[2 + j]));
}

// K-quants: super-blocks of 256. Element e's 2- or 4-bit field sits in a byte shared with the elements 32
// (or 64) apart, so the loops below walk e directly and compute where its bits are.

// Q2_K: scales[16] (low nibble scale, high nibble min, per 16 elements), qs[64], d, dmin.
// Element e = 128h + 32s + l takes bits 2s..2s+1 of qs[32h + l].
void q2_k(const uint8_t* b, float* y) {
  const uint8_t* scales = b;
  const uint8_t* qs = b + 16;
  const float d = f16_at(b + 80), dmin = f16_at(b + 82);
  for (int e = 0; e < 256; ++e) {
    const int h = e / 128, s = (e / 32) % 4, l = e % 32;
    const int q = (qs[32 * h + l] >> (2 * s)) & 3;
    const uint8_t sc = scales[e / 16];
    y[e] = d * static_cast<float>(sc & 0x0F) * static_cast<float>(q) - dmin * static_cast<float>(sc >> 4);
  }
}

// Q3_K: hmask[32], qs[64], scales[12] (16 6-bit signed scales, offset 32), d.
// Scale i: low 4 bits from scales[i % 8] (low nibble for i < 8, high for i >= 8), high 2 bits from
// scales[8 + i % 4] at bit 2 * (i / 4). Element e = 128h + 32s + l: low 2 bits as in Q2_K; its hmask bit
// (hmask[l] >> (e / 32)) set means no offset, clear means subtract 4.
void q3_k(const uint8_t* b, float* y) {
  const uint8_t* hmask = b;
  const uint8_t* qs = b + 32;
  const uint8_t* sc = b + 96;
  const float d = f16_at(b + 108);
  int scale[16];
  for (int i = 0; i < 16; ++i) {
    const int lo = i < 8 ? (sc[i] & 0x0F) : (sc[i - 8] >> 4);
    const int hi = (sc[8 + i % 4] >> (2 * (i / 4))) & 3;
    scale[i] = (lo | (hi << 4)) - 32;
  }
  for (int e = 0; e < 256; ++e) {
    const int h = e / 128, s = (e / 32) % 4, l = e % 32;
    const int low = (qs[32 * h + l] >> (2 * s)) & 3;
    const int high_set = (hmask[l] >> (e / 32)) & 1;
    const int q = low - (high_set ? 0 : 4);
    y[e] = d * static_cast<float>(scale[e / 16]) * static_cast<float>(q);
  }
}

// The 12-byte 6-bit scale/min table shared by Q4_K and Q5_K (8 sub-blocks of 32).
// j < 4: scale = s[j] & 63, min = s[j + 4] & 63.
// j >= 4: scale = (s[j + 4] & 15) | (s[j - 4] >> 6) << 4, min = (s[j + 4] >> 4) | (s[j] >> 6) << 4.
void k_scale_min(const uint8_t* s, int j, int* scale, int* min) {
  if (j < 4) {
    *scale = s[j] & 63;
    *min = s[j + 4] & 63;
  } else {
    *scale = (s[j + 4] & 0x0F) | ((s[j - 4] >> 6) << 4);
    *min = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
  }
}

// Q4_K: d, dmin, scales[12], qs[128]. Element e = 64c + 32k + l is nibble k of qs[32c + l], sub-block e / 32.
void q4_k(const uint8_t* b, float* y) {
  const float d = f16_at(b), dmin = f16_at(b + 2);
  const uint8_t* sc = b + 4;
  const uint8_t* qs = b + 16;
  for (int j = 0; j < 8; ++j) {
    int scale, min;
    k_scale_min(sc, j, &scale, &min);
    const float dj = d * static_cast<float>(scale), mj = dmin * static_cast<float>(min);
    const int c = j / 2, shift = 4 * (j % 2);
    for (int l = 0; l < 32; ++l)
      y[32 * j + l] = dj * static_cast<float>((qs[32 * c + l] >> shift) & 0x0F) - mj;
  }
}

// Q5_K: as Q4_K plus qh[32] before the nibbles; element e's fifth bit is bit e / 32 of qh[e % 32].
void q5_k(const uint8_t* b, float* y) {
  const float d = f16_at(b), dmin = f16_at(b + 2);
  const uint8_t* sc = b + 4;
  const uint8_t* qh = b + 16;
  const uint8_t* qs = b + 48;
  for (int j = 0; j < 8; ++j) {
    int scale, min;
    k_scale_min(sc, j, &scale, &min);
    const float dj = d * static_cast<float>(scale), mj = dmin * static_cast<float>(min);
    const int c = j / 2, shift = 4 * (j % 2);
    for (int l = 0; l < 32; ++l) {
      const int q = ((qs[32 * c + l] >> shift) & 0x0F) | (((qh[l] >> j) & 1) << 4);
      y[32 * j + l] = dj * static_cast<float>(q) - mj;
    }
  }
}

// Q6_K: ql[128], qh[64], scales int8[16], d. Element e = 128h + r (r < 128): low 4 bits are nibble r / 64
// of ql[64h + r % 64], high 2 bits are bits 2 * (r / 32) of qh[32h + r % 32]; value (q - 32) * d * scale[e/16].
void q6_k(const uint8_t* b, float* y) {
  const uint8_t* ql = b;
  const uint8_t* qh = b + 128;
  const int8_t* scales = reinterpret_cast<const int8_t*>(b + 192);
  const float d = f16_at(b + 208);
  for (int e = 0; e < 256; ++e) {
    const int h = e / 128, r = e % 128;
    const int low = (ql[64 * h + r % 64] >> (4 * (r / 64))) & 0x0F;
    const int high = (qh[32 * h + r % 32] >> (2 * (r / 32))) & 3;
    const int q = (low | (high << 4)) - 32;
    y[e] = d * static_cast<float>(scales[e / 16]) * static_cast<float>(q);
  }
}

// Q8_K: f32 d, int8 qs[256], then block sums (not needed to dequantize).
void q8_k(const uint8_t* b, float* y) {
  float d;
  std::memcpy(&d, b, 4);
  for (int e = 0; e < 256; ++e) y[e] = d * static_cast<float>(static_cast<int8_t>(b[4 + e]));
}

using BlockFn = void (*)(const uint8_t*, float*);

BlockFn block_fn(GgmlType t) {
  switch (t) {
    case GgmlType::Q4_0: return q4_0;
    case GgmlType::Q4_1: return q4_1;
    case GgmlType::Q5_0: return q5_0;
    case GgmlType::Q5_1: return q5_1;
    case GgmlType::Q8_0: return q8_0;
    case GgmlType::Q2_K: return q2_k;
    case GgmlType::Q3_K: return q3_k;
    case GgmlType::Q4_K: return q4_k;
    case GgmlType::Q5_K: return q5_k;
    case GgmlType::Q6_K: return q6_k;
    case GgmlType::Q8_K: return q8_k;
    default: return nullptr;
  }
}

}  // namespace

void dequantize_f32(const BlockFormat& f, const uint8_t* src, int64_t elems, float* dst) {
  switch (f.type) {
    case GgmlType::F32:
      std::memcpy(dst, src, static_cast<size_t>(elems) * 4);
      return;
    case GgmlType::F16:
      for (int64_t i = 0; i < elems; ++i) dst[i] = f16_to_f32(u16_at(src + 2 * i));
      return;
    case GgmlType::BF16:
      for (int64_t i = 0; i < elems; ++i) dst[i] = bf16_to_f32(u16_at(src + 2 * i));
      return;
    default: break;
  }
  const BlockFn fn = block_fn(f.type);
  for (int64_t b = 0; b < elems / f.block_elems; ++b) fn(src + b * f.block_bytes, dst + b * f.block_elems);
}

void dequantize_bf16(const BlockFormat& f, const uint8_t* src, int64_t elems, uint16_t* dst) {
  if (f.type == GgmlType::BF16) {
    std::memcpy(dst, src, static_cast<size_t>(elems) * 2);
    return;
  }
  // One block (or a run of scalars) at a time through a small f32 buffer.
  constexpr int64_t kChunk = 4096;  // a multiple of every block size
  float buf[kChunk];
  for (int64_t i = 0; i < elems; i += kChunk) {
    const int64_t n = elems - i < kChunk ? elems - i : kChunk;
    const int64_t first_byte = i / f.block_elems * f.block_bytes;
    dequantize_f32(f, src + first_byte, n, buf);
    for (int64_t j = 0; j < n; ++j) dst[i + j] = f32_to_bf16(buf[j]);
  }
}

}  // namespace synaptix::quant
