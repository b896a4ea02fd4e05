#pragma once
// Decode GEMV generator: y[m, n] (+)= x[m, k] * W[n, k]^T with W bf16 (16-byte loads, streamed past L1),
// x and y f32, f32 accumulation, m <= 8 rows of x applied to each weight row as it streams by, so weights
// are read once per call whatever m is. Memory-bound: the floor is n*k*2 bytes / HBM bandwidth.
//
// Schedule (the search space): a block of `warps` warps is split into `warps / kslices` row groups, each of
// `kslices` warps that share `rows_per_warp` weight rows and split their k range (split-K inside the block,
// reduced in shared memory: no atomics, deterministic). `unroll` 16-byte loads per lane are in flight per
// weight row before the first use.
#include <cstdint>
#include <string>
#include <vector>

#include <cuda.h>

namespace synaptix::kernels::cuda {

struct GemvParams {
  int warps = 4;
  int kslices = 1;
  int rows_per_warp = 1;
  int unroll = 2;

  int rows_per_block() const { return warps / kslices * rows_per_warp; }
  std::string str() const;
  bool operator==(const GemvParams&) const = default;
};

// A point of the space is valid when kslices divides warps and every field is in range.
bool gemv_params_valid(const GemvParams& p, int m);
// The untuned default for a shape: a reasonable point chosen from the shape alone.
GemvParams gemv_default_params(int m, int64_t n, int64_t k);
// The space the tuner searches for one shape.
std::vector<GemvParams> gemv_search_space(int m, int64_t n, int64_t k);

// CUDA C++ source of the kernel `gemv_bf16` for m rows of x under params p.
std::string gemv_bf16_source(int m, const GemvParams& p);

// Enqueues one call (the kernel is compiled and loaded through the module cache on first use).
// Requires k % 8 == 0 and 16-byte-aligned w; throws naming the shape otherwise.
void gemv_bf16(CUdeviceptr x, CUdeviceptr w, CUdeviceptr y, int m, int64_t n, int64_t k, bool accumulate,
               const GemvParams& p, CUstream stream);

}  // namespace synaptix::kernels::cuda
