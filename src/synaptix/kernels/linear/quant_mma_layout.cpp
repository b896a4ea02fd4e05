// The tensor-core layout (quant_mma_layout.h): regrouping of the packed rows, codes and parameters copied
// bit for bit.
#include "synaptix/kernels/linear/quant_mma_layout.h"

#include <cstring>

#include "synaptix/core/error.h"
#include "synaptix/core/thread_pool.h"

namespace synaptix::kernels::cuda {

namespace {

int64_t align256(int64_t v) { return (v + 255) / 256 * 256; }

bool is_int4(const quant::WeightFormat& f) {
  return f.code == quant::CodeType::Int4 || f.code == quant::CodeType::Int4Asym;
}

}  // namespace

QuantMmaLayout quant_mma_layout(const quant::WeightFormat& f, int64_t n, int64_t k) {
  quant::weight_row_bytes(f, k);  // throws naming the format when k is not whole groups
  if (n <= 0 || k % 4 != 0) fail("quant_mma_layout: ", f.name, " matrix ", n, " x ", k, " (expected n > 0 and k % 4 == 0)");
  QuantMmaLayout l;
  l.n = n;
  l.k = k;
  l.n_tiles = (n + 15) / 16;
  l.word_k = f.bits == 8 ? 64 : 128;
  l.k_pad = (k + l.word_k - 1) / l.word_k * l.word_k;
  l.kw = l.k_pad / l.word_k;
  l.group = f.group;
  l.groups = f.group ? l.k_pad / f.group : 0;
  const int64_t codes = l.n_tiles * l.kw * 1024;
  l.scales_offset = align256(codes);
  int64_t scales = 0;
  if (is_int4(f)) scales = l.n_tiles * l.groups * 16 * 2;
  else if (f.code == quant::CodeType::E2M1) scales = l.n_tiles * l.groups * 16;
  else scales = l.n_tiles * 16 * 4;
  l.zeros_offset = align256(l.scales_offset + scales);
  const int64_t zeros = f.code == quant::CodeType::Int4Asym ? l.n_tiles * l.groups * 16 : 0;
  l.total_bytes = align256(l.zeros_offset + zeros);
  return l;
}

void quant_mma_repack(const quant::WeightFormat& f, const uint8_t* packed, int64_t n, int64_t k, uint8_t* out) {
  const QuantMmaLayout l = quant_mma_layout(f, n, k);
  const int64_t row_bytes = quant::weight_row_bytes(f, k);
  std::memset(out, 0, static_cast<size_t>(l.total_bytes));
  const bool int4 = is_int4(f), mx = f.code == quant::CodeType::E2M1;
  const int64_t hdr = f.group ? f.block_bytes - f.group / 2 : f.row_header_bytes;  // a group's (or row's) header
  ThreadPool::global().parallel_for(static_cast<size_t>(l.n_tiles), [&](size_t t0, size_t t1) {
    for (int64_t tile = static_cast<int64_t>(t0); tile < static_cast<int64_t>(t1); ++tile)
      for (int r = 0; r < 16; ++r) {
        const int64_t row = tile * 16 + r;
        if (row >= n) break;
        const uint8_t* src = packed + row * row_bytes;
        const int h = r / 8, g = r % 8;
        for (int64_t e = 0; e < k; ++e) {
          unsigned code;
          if (f.group) {
            const uint8_t* blk = src + (e / f.group) * f.block_bytes + hdr;
            const int64_t ee = e % f.group, half = f.group / 2;
            code = ee < half ? blk[ee] & 15u : blk[ee - half] >> 4;
          } else {
            code = src[hdr + e];
          }
          const int64_t word = e / l.word_k, ke = e % l.word_k;
          const int s = static_cast<int>(ke / 16), q = static_cast<int>((ke % 16) / 4), j = static_cast<int>(ke % 4);
          uint8_t* w = out + (((tile * l.kw + word) * 2 + h) * 32 + 4 * g + q) * 16;
          if (f.bits == 8) {
            w[4 * s + j] = static_cast<uint8_t>(code);
          } else {
            const int bit = 4 * (2 * (s % 2) + j / 2) + 16 * (j % 2);  // in 32-bit word s / 2
            w[4 * (s / 2) + bit / 8] |= static_cast<uint8_t>(code << (bit % 8));
          }
        }
        if (int4 || mx) {
          for (int64_t gi = 0; gi < k / f.group; ++gi) {
            const uint8_t* blk = src + gi * f.block_bytes;
            const int64_t si = (tile * l.groups + gi) * 16 + r;
            if (int4) {
              std::memcpy(out + l.scales_offset + 2 * si, blk, 2);  // f16 d
              if (f.code == quant::CodeType::Int4Asym) out[l.zeros_offset + si] = blk[2];
            } else {
              out[l.scales_offset + si] = blk[0];  // E8M0
            }
          }
        } else {
          std::memcpy(out + l.scales_offset + 4 * row, src, 4);  // f32 row scale
        }
      }
  }, 16);
}

std::vector<uint8_t> quant_mma_repack(const quant::WeightFormat& f, const uint8_t* packed, int64_t n, int64_t k) {
  std::vector<uint8_t> out(static_cast<size_t>(quant_mma_layout(f, n, k).total_bytes));
  quant_mma_repack(f, packed, n, k, out.data());
  return out;
}

}  // namespace synaptix::kernels::cuda
