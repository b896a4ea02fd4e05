#include "synaptix/kernels/embedding/reference.h"

#include <cstring>

#include "synaptix/core/error.h"
#include "synaptix/quant/block_dtype.h"
#include "synaptix/quant/dequantize.h"

namespace synaptix::kernels {

void to_f32(const void* src, DType t, int64_t n, float* dst) {
  switch (t) {
    case DType::F32: std::memcpy(dst, src, static_cast<size_t>(n) * 4); return;
    case DType::BF16:
      for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(static_cast<const uint16_t*>(src)[i]);
      return;
    case DType::F16:
      for (int64_t i = 0; i < n; ++i) dst[i] = f16_to_f32(static_cast<const uint16_t*>(src)[i]);
      return;
    default:
      if (const quant::BlockFormat* f = quant::block_format(t)) {  // GGUF blocks: n whole blocks from src
        quant::row_bytes(t, n);                                      // throws unless n is whole blocks
        return quant::dequantize_f32(*f, static_cast<const uint8_t*>(src), n, dst);
      }
      fail("to_f32: dtype ", dtype_name(t), " is not supported (expected f32, bf16, f16 or a GGUF block type)");
  }
}

void embedding_reference(const void* table, DType t, int64_t dim, const int32_t* ids, int64_t n, float* out) {
  const size_t row = static_cast<size_t>(quant::row_bytes(t, dim));  // GGUF block rows are whole blocks
  for (int64_t i = 0; i < n; ++i)
    to_f32(static_cast<const uint8_t*>(table) + static_cast<size_t>(ids[i]) * row, t, dim, out + i * dim);
}

}  // namespace synaptix::kernels
