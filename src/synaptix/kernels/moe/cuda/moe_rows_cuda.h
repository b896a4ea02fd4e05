#pragma once
// Row movement for sparse MoE on the device: gather the tokens routed to one expert into a dense block, and
// add the expert's output back into the residual stream scaled by each token's routing weight.
#include <cuda.h>

#include <cstdint>
#include <string>

namespace synaptix::kernels::cuda {

std::string moe_rows_source();

}  // namespace synaptix::kernels::cuda
