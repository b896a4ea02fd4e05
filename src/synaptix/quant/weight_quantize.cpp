#include "synaptix/quant/weight_quantize.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "synaptix/core/thread_pool.h"
#include "synaptix/quant/minifloat.h"

namespace synaptix::quant {

namespace {

float amax_of(const float* v, int64_t n) {
  float a = 0.0f;
  for (int64_t i = 0; i < n; ++i) a = std::max(a, std::fabs(v[i]));
  return a;
}

float f16_rounded(float v) { return f16_to_f32(f32_to_f16(v)); }

int64_t groups_of(const WeightFormat& f, int64_t k) { return f.group == 0 ? 1 : k / f.group; }

// The byte offset of group g's block in a row, and of its codes.
int64_t block_offset(const WeightFormat& f, int64_t g) { return f.group == 0 ? 0 : g * f.block_bytes; }
int64_t codes_offset(const WeightFormat& f) {
  if (f.group == 0) return f.row_header_bytes;
  return f.block_bytes - f.group / 2;
}

}  // namespace

GroupParams choose_params(const WeightFormat& f, const float* v, int64_t n) {
  GroupParams p;
  switch (f.code) {
    case CodeType::Int8: p.scale = amax_of(v, n) / 127.0f; break;
    case CodeType::Fp8E4M3: p.scale = amax_of(v, n) / kE4M3Max; break;
    case CodeType::Int4: p.scale = f16_rounded(amax_of(v, n) / 7.0f); break;
    case CodeType::Int4Asym: {
      float lo = 0.0f, hi = 0.0f;
      for (int64_t i = 0; i < n; ++i) lo = std::min(lo, v[i]), hi = std::max(hi, v[i]);
      p.scale = f16_rounded((hi - lo) / 15.0f);
      p.zero = p.scale > 0 ? static_cast<int>(std::clamp(std::nearbyint(-lo / p.scale), 0.0f, 15.0f)) : 0;
      break;
    }
    case CodeType::E2M1:
      p.exponent = mx_shared_exponent(amax_of(v, n), 2);
      p.scale = e8m0_to_f32(p.exponent);
      break;
  }
  return p;
}

uint8_t quantize_code(const WeightFormat& f, const GroupParams& p, float v) {
  const bool zero_scale = !(p.scale > 0);
  switch (f.code) {
    case CodeType::Int8: {
      const float q = zero_scale ? 0.0f : std::clamp(std::nearbyint(v / p.scale), -127.0f, 127.0f);
      return static_cast<uint8_t>(static_cast<int8_t>(q));
    }
    case CodeType::Fp8E4M3: return zero_scale ? 0 : f32_to_e4m3(v / p.scale);
    case CodeType::Int4: return zero_scale ? 8 : static_cast<uint8_t>(std::clamp(std::nearbyint(v / p.scale), -8.0f, 7.0f) + 8);
    case CodeType::Int4Asym:
      return zero_scale ? static_cast<uint8_t>(p.zero)
                        : static_cast<uint8_t>(std::clamp(std::nearbyint(v / p.scale) + static_cast<float>(p.zero), 0.0f, 15.0f));
    case CodeType::E2M1: return f32_to_e2m1(v / p.scale);
  }
  return 0;
}

float code_value(const WeightFormat& f, const GroupParams& p, uint8_t code) {
  switch (f.code) {
    case CodeType::Int8: return p.scale * static_cast<float>(static_cast<int8_t>(code));
    case CodeType::Fp8E4M3: return p.scale * e4m3_to_f32(code);
    case CodeType::Int4: return p.scale * static_cast<float>(static_cast<int>(code & 15) - 8);
    case CodeType::Int4Asym: return p.scale * static_cast<float>(static_cast<int>(code & 15) - p.zero);
    case CodeType::E2M1: return p.scale * e2m1_to_f32(code);
  }
  return 0.0f;
}

void pack_row(const WeightFormat& f, const GroupParams* params, const uint8_t* codes, int64_t k, uint8_t* dst) {
  const int64_t groups = groups_of(f, k);
  for (int64_t g = 0; g < groups; ++g) {
    uint8_t* b = dst + block_offset(f, g);
    const GroupParams& p = params[g];
    switch (f.scale) {
      case ScaleType::F32: std::memcpy(b, &p.scale, 4); break;
      case ScaleType::F16: {
        const uint16_t h = f32_to_f16(p.scale);
        std::memcpy(b, &h, 2);
        if (f.code == CodeType::Int4Asym) b[2] = static_cast<uint8_t>(p.zero), b[3] = 0;
        break;
      }
      case ScaleType::E8M0: b[0] = p.exponent; break;
    }
  }
  if (f.group == 0) {  // one code a byte
    std::memcpy(dst + f.row_header_bytes, codes, static_cast<size_t>(k));
    return;
  }
  const int64_t half = f.group / 2;
  for (int64_t g = 0; g < groups; ++g) {
    uint8_t* q = dst + block_offset(f, g) + codes_offset(f);
    const uint8_t* c = codes + g * f.group;
    for (int64_t j = 0; j < half; ++j) q[j] = static_cast<uint8_t>((c[j] & 15) | ((c[j + half] & 15) << 4));
  }
}

GroupParams unpack_params(const WeightFormat& f, const uint8_t* row, int64_t k, int64_t g) {
  (void)k;
  GroupParams p;
  const uint8_t* b = row + block_offset(f, g);
  switch (f.scale) {
    case ScaleType::F32: std::memcpy(&p.scale, b, 4); break;
    case ScaleType::F16: {
      uint16_t h;
      std::memcpy(&h, b, 2);
      p.scale = f16_to_f32(h);
      if (f.code == CodeType::Int4Asym) p.zero = b[2];
      break;
    }
    case ScaleType::E8M0:
      p.exponent = b[0];
      p.scale = e8m0_to_f32(b[0]);
      break;
  }
  return p;
}

void quantize_rows(const WeightFormat& f, const float* src, int64_t rows, int64_t k, uint8_t* dst) {
  const int64_t rb = weight_row_bytes(f, k), groups = groups_of(f, k), glen = f.group == 0 ? k : f.group;
  ThreadPool::global().parallel_for(static_cast<size_t>(rows), [&](size_t r0, size_t r1) {
    std::vector<GroupParams> params(static_cast<size_t>(groups));
    std::vector<uint8_t> codes(static_cast<size_t>(k));
    for (size_t r = r0; r < r1; ++r) {
      const float* v = src + static_cast<int64_t>(r) * k;
      for (int64_t g = 0; g < groups; ++g) {
        GroupParams& p = params[static_cast<size_t>(g)];
        p = choose_params(f, v + g * glen, glen);
        for (int64_t i = g * glen; i < (g + 1) * glen; ++i) codes[static_cast<size_t>(i)] = quantize_code(f, p, v[i]);
      }
      pack_row(f, params.data(), codes.data(), k, dst + static_cast<int64_t>(r) * rb);
    }
  }, 8);
}

void dequantize_rows(const WeightFormat& f, const uint8_t* src, int64_t rows, int64_t k, float* dst) {
  const int64_t rb = weight_row_bytes(f, k), groups = groups_of(f, k);
  for (int64_t r = 0; r < rows; ++r) {
    const uint8_t* row = src + r * rb;
    float* out = dst + r * k;
    if (f.group == 0) {
      const GroupParams p = unpack_params(f, row, k, 0);
      for (int64_t i = 0; i < k; ++i) out[i] = code_value(f, p, row[f.row_header_bytes + i]);
      continue;
    }
    const int64_t half = f.group / 2;
    for (int64_t g = 0; g < groups; ++g) {
      const GroupParams p = unpack_params(f, row, k, g);
      const uint8_t* q = row + block_offset(f, g) + codes_offset(f);
      for (int64_t j = 0; j < half; ++j) {
        out[g * f.group + j] = code_value(f, p, q[j] & 15);
        out[g * f.group + j + half] = code_value(f, p, q[j] >> 4);
      }
    }
  }
}

}  // namespace synaptix::quant
