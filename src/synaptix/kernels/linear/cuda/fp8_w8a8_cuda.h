#pragma once
// CUDA C++ source of the W8A8 FP8 helper kernels (kernels/linear/cuda/fp8_w8a8.cu): fp8_quantize_rows
// (activations, f32 or bf16, to E4M3 codes with one scale per row), fp8_unpack_weights (fp8-e4m3-pc rows to the codes and
// scales the GEMM reads), fp8_codes_from_mma (the codes of the tensor-core layout back to rows, for the CUDA
// executor's W8A8 product) and fp8_scale_outer (per-row x per-column scales applied to an f32 product). The
// launchers are in backend/cuda/launch/fp8_w8a8.h, the GEMM in backend/cuda/cublaslt_fp8.h.
#include <string>

namespace synaptix::kernels::cuda {

std::string fp8_w8a8_source();

}  // namespace synaptix::kernels::cuda
