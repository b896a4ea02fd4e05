#pragma once
// Row movement for sparse MoE on the device: gather the tokens routed to one expert into a dense block, and
// add the expert's output back into the residual stream scaled by each token's routing weight.
#include <cuda.h>

#include <cstdint>
#include <string>

namespace synaptix::kernels::cuda {

std::string moe_rows_source();
// dst[i, :] = src[rows[i], :], n rows of dim f32.
void gather_rows(CUdeviceptr src, CUdeviceptr rows, CUdeviceptr dst, int64_t n, int64_t dim, CUstream stream);
// dst[rows[i], :] += weights[i] * src[i, :]; rows distinct within one call.
void scatter_add_scaled(CUdeviceptr src, CUdeviceptr rows, CUdeviceptr weights, CUdeviceptr dst, int64_t n,
                        int64_t dim, CUstream stream);

}  // namespace synaptix::kernels::cuda
