// The CUDA C++ source of this op's kernels for a point of its space (no driver calls: NVRTC compiles it
// at run time; the launchers are in backend/cuda/launch/moe_experts.cpp).
#include "synaptix/kernels/moe/cuda/moe_experts_cuda.h"

#include <algorithm>
#include <sstream>

#include "synaptix/core/error.h"
#include "synaptix/kernels/common/cuda/device_prelude.h"
#include "synaptix/kernels/cuda_sources.h"

namespace synaptix::kernels::cuda {
namespace {

// Each warp streams whole weight rows with 16-byte loads and applies every token routed to the expert to
// each chunk as it passes (as the decode GEMV does), so an expert's bytes are read once per step.
const std::string kBody(kernels::cuda_source("kernels/moe/cuda/moe_experts.cu"));

}  // namespace

bool moe_experts_supports(int64_t tokens, int64_t top_k, int64_t hidden, int64_t inter) {
  return tokens >= 1 && tokens <= kMoeExpertsMaxTokens && top_k >= 1 && tokens * top_k <= kMoeExpertsMaxPairs &&
         hidden > 0 && inter > 0 && hidden % 8 == 0 && inter % 8 == 0 && hidden <= (1ll << 30) &&
         inter <= (1ll << 30);
}

int64_t moe_down_counters(int64_t hidden) {
  const int64_t rows = kMoeExpertsWarps * kMoeDownRowsPerWarp;
  return (hidden + rows - 1) / rows;
}

std::string moe_experts_source(int64_t tokens, int64_t top_k) {
  if (tokens < 1 || tokens > kMoeExpertsMaxTokens || top_k < 1 || tokens * top_k > kMoeExpertsMaxPairs)
    fail("moe_experts: ", tokens, " tokens of top_k ", top_k, ": expected 1..", kMoeExpertsMaxTokens,
         " tokens and at most ", kMoeExpertsMaxPairs, " (token, expert) pairs");
  std::ostringstream os;
  os << kDevicePrelude << "#define M " << tokens << "\n#define K " << top_k << "\n#define WARPS " << kMoeExpertsWarps
     << "\n#define DOWN_RPW " << kMoeDownRowsPerWarp << "\n#define UNROLL " << kMoeExpertsUnroll << "\n"
     << kBody;
  return os.str();
}

}  // namespace synaptix::kernels::cuda
