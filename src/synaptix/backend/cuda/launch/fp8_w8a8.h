#pragma once
// Launchers of the W8A8 FP8 helper kernels (kernels/linear/cuda/fp8_w8a8_cuda.h), compiled and loaded
// through the module cache on first use, enqueued on `stream`. Each throws naming the shape when it does not
// fit the kernel.
#include <cuda.h>

#include <cstdint>

namespace synaptix::kernels::cuda {

// x f32 [m, k] -> q E4M3 codes [m, k] and scale f32 [m] (per-row RTN as the fp8-e4m3-pc quantizer: scale =
// amax / 448, code = e4m3(v / scale)). k % 4 == 0, x 16-byte aligned (8-byte for bf16), q 4-byte aligned.
void fp8_quantize_rows(CUdeviceptr x, CUdeviceptr q, CUdeviceptr scale, int64_t m, int64_t k, CUstream stream);
// The same from bf16 x [m, k].
void fp8_quantize_rows_bf16(CUdeviceptr x, CUdeviceptr q, CUdeviceptr scale, int64_t m, int64_t k, CUstream stream);
// The codes of an fp8-e4m3-pc n x k matrix in its tensor-core layout (kernels/linear/quant_mma_layout.h, at
// mma) as row-major codes [n, k] (the row scales stay where the layout keeps them). k % 4 == 0.
void fp8_codes_from_mma(CUdeviceptr mma, CUdeviceptr codes, int64_t n, int64_t k, CUstream stream);
// n fp8-e4m3-pc rows of k elements (4 + k bytes each) -> codes [n, k] and scales [n]. k % 4 == 0.
void fp8_unpack_weights(CUdeviceptr packed, CUdeviceptr codes, CUdeviceptr scales, int64_t n, int64_t k, CUstream stream);
// y f32 [m, n] = (accumulate ? y : 0) + acc[i, j] * xs[i] * ws[j]; acc may be y when not accumulating. n % 4 == 0,
// y, acc and ws 16-byte aligned.
void fp8_scale_outer(CUdeviceptr y, CUdeviceptr acc, CUdeviceptr xs, CUdeviceptr ws, int64_t m, int64_t n, bool accumulate,
                     CUstream stream);

}  // namespace synaptix::kernels::cuda
