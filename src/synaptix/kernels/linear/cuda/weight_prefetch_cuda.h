#pragma once
// Pulls a weight matrix into L2 ahead of the GEMV that streams it. The decode step runs it on a side
// stream while the latency-bound kernels between two GEMVs (RoPE, attention, its combine) leave HBM idle,
// so the next GEMV (o_proj: 32 MiB on Llama-3.1-8B, inside the 50 MiB L2) reads from L2 instead.
#include <cuda.h>

#include <cstdint>
#include <string>

namespace synaptix::kernels::cuda {

std::string weight_prefetch_source();

}  // namespace synaptix::kernels::cuda
