#pragma once
// The CUDA kernels of Synaptix's weight formats (quant/weight_format.h), in the packed layout the CPU
// quantizer writes (rows of weight_row_bytes, scales inside the row), so a model quantized on the CPU runs as
// uploaded:
//  - quant_gemv.cu: the decode GEMV, W dequantized in registers; x and y f32, m <= 8 rows of x; y stored or
//    accumulated into.
//  - quant_dequant.cu: W expanded to bf16 [n, k] (each element rounded from the f32 value the CPU reference
//    computes), the operand of the tensor-core product for larger steps.
// Every weight format has a form: int8-pc, fp8-e4m3-pc, int4-g32/64/128 symmetric and asymmetric, mxfp4.
// Requirements (the launchers in backend/cuda/launch/quant_gemv.h check them): k a whole number of the
// format's groups and k % 4 == 0; x rows 16-byte aligned. Grid of the GEMV: ceil(n / (warps * rows_per_warp))
// blocks of warps * 32 threads.
#include <string>

#include "synaptix/core/dtype.h"

namespace synaptix::kernels::cuda {

struct QuantGemvParams {
  int warps = 8;          // warps per block, 1..16
  int unroll = 4;         // units each lane loads (of every row) before using any, 1..16
  int rows_per_warp = 4;  // weight rows a warp takes, sharing each x load, 1..8
  std::string str() const {
    return "w" + std::to_string(warps) + "u" + std::to_string(unroll) + "r" + std::to_string(rows_per_warp);
  }
};

// Whether the quant kernels have a form for weight dtype w (every weight format; nothing else).
bool quant_gemv_supports(DType w);
// "int8-pc, fp8-e4m3-pc, ..." for messages that list the formats the CUDA kernels take.
std::string quant_gemv_format_names();
// Throws an Error naming the parameter outside its range (m: rows of x, 1..8).
void check_quant_gemv_params(int m, const QuantGemvParams& p);
// The schedule used when no other is given (not tuned yet): fewer units in flight for more rows of x.
QuantGemvParams quant_gemv_default_params(DType w, int m);
// The GEMV source for w, m rows of x (1..8) and the schedule. Throws synaptix::Error naming what is out of range.
std::string quant_gemv_source(DType w, int m, const QuantGemvParams& p);
inline std::string quant_gemv_source(DType w, int m, int warps) { return quant_gemv_source(w, m, QuantGemvParams{warps, 4, 4}); }
// The bf16 expansion's source for w. Throws for a dtype without a form.
std::string quant_dequant_source(DType w);

// The tensor-core product (quant_mma.cu) of the tensor-core layout (quant_mma_layout.h): up to
// kQuantMmaMaxRows rows of x a call, in tiles of 8 tokens; x converted to f16 first (quant_mma_x.cu).
inline constexpr int kQuantMmaMaxRows = 64;
struct QuantMmaParams {
  int warps = 8;      // warps per block, splitting k: 1..16
  int row_tiles = 1;  // tiles of 16 weight rows a block (and each warp) takes, sharing each x load: 1..4
  int unroll = 2;     // 16-byte words of every row tile a warp loads a round: 1..8, row_tiles * unroll <= 8
  // Up to 8 rows with m * k <= kQuantMmaFusedElems (f32 x): no pre-pass, each block scales and converts x itself.
  bool fuse_x = true;
  // 0: a block's warps split k (quant_mma). 1..16: row mode (quant_mma_rows, more than 8 rows of x only): a
  // block's warps take different row tiles, k cut into this many slices over blocks (atomically added).
  // With stages: the k slices of the stream form (0: chosen by the launcher for the shape and the device).
  int k_slices = 0;
  // 2..8: the stream form (quant_mma_stream.cu; the default up to 8 rows of x, takes up to 64): each warp streams
  // its words through a shared-memory ring of this many stages of `unroll` words (cp.async), one wave of blocks
  // over the device; row_tiles does not apply, fuse_x: each block converts its slice of x (else the pre-pass
  // converts x once, row-major, and blocks copy their slices: fewer L2 bytes for many rows). 0: quant_mma.cu.
  int stages = 0;
  std::string str() const {
    if (stages)
      return "w" + std::to_string(warps) + "u" + std::to_string(unroll) + "s" + std::to_string(stages) + (fuse_x ? "" : "p") +
             (k_slices ? "k" + std::to_string(k_slices) : "");
    return "w" + std::to_string(warps) + "t" + std::to_string(row_tiles) + "u" + std::to_string(unroll) + (fuse_x ? "" : "p") +
           (k_slices ? "k" + std::to_string(k_slices) : "");
  }
};
inline constexpr int64_t kQuantMmaFusedElems = 16384;
// Throws an Error naming the parameter outside its range (m: rows of x, 1..kQuantMmaMaxRows).
void check_quant_mma_params(int m, const QuantMmaParams& p);
// The schedule used when no other is given: fewer words in flight for more token tiles (registers).
QuantMmaParams quant_mma_default_params(DType w, int m);
// The product's source for w, m rows of x (compiled for ceil(m / 8) token tiles) and the schedule; fused: x read
// as f32 and converted in the product (m <= 8, see fuse_x), else the f16 x of the pre-pass.
std::string quant_mma_source(DType w, int m, const QuantMmaParams& p, bool fused = false);
// The stream form's geometry for w, m rows of x (1..64) and a schedule with stages: the f16 x a block holds per
// token (its k slice is at most x_cap elements), the row tiles a block may own, and the dynamic shared memory.
inline constexpr int64_t kQuantMmaStreamMaxSmem = 227 * 1024;  // Hopper's shared memory a block
struct QuantMmaStreamGeometry {
  int64_t x_cap = 0;
  int64_t max_tiles = 0;
  int64_t smem_bytes = 0;
};
QuantMmaStreamGeometry quant_mma_stream_geometry(DType w, int m, const QuantMmaParams& p);
// The grid of the stream form (schedules with stages, up to 8 rows of x): gx blocks along the row tiles times
// `splits` k slices. k_slices > 0 asks for that many (raised to what x's shared memory needs, capped at kw);
// 0 picks the slices that give the busiest SM the fewest words (slices beyond what x needs only when
// accumulating: otherwise y must be zeroed first). per_sm blocks fit an SM, the device has sms.
struct QuantMmaStreamGrid {
  int64_t gx = 0, splits = 0;
};
QuantMmaStreamGrid quant_mma_stream_grid(int m, int64_t n_tiles, int64_t kw, int64_t word_k, bool accumulate, int64_t x_cap,
                                         int64_t max_tiles, int k_slices, int per_sm, int sms);
// What the stream form may do beyond the product in a quantized decode step (as the bf16 GEMV's prologue and
// epilogue do): the RMSNorm of x (x the residual; the product reads x * rsqrt(mean(x^2) + eps) * gamma) and a
// gated activation of gate|up rows interleaved (out[t, c] = act(y[t, 2c]) * y[t, 2c + 1], y not written; one k
// slice only, no accumulation).
enum class QuantGlu { None, SwiGlu, GeGluTanh };
struct QuantMmaFusion {
  bool rms_norm = false;
  QuantGlu glu = QuantGlu::None;
  std::string str() const {
    return std::string(rms_norm ? "_norm" : "") + (glu == QuantGlu::SwiGlu ? "_swiglu" : glu == QuantGlu::GeGluTanh ? "_geglu" : "");
  }
};
// The stream form's source (x f32, or bf16 when x_bf16). Throws like quant_mma_source, and for a schedule without
// stages.
std::string quant_mma_stream_source(DType w, int m, const QuantMmaParams& p, bool x_bf16, const QuantMmaFusion& fu = {});
// The activation conversion's source (x f32, or bf16 when bf16_input; row-major f16 for the stream form when rows).
std::string quant_mma_x_source(bool bf16_input, bool rows = false);
// The bf16 expansion of the tensor-core layout (quant_mma_dequant.cu). Throws for a dtype without a form.
std::string quant_mma_dequant_source(DType w);

}  // namespace synaptix::kernels::cuda
