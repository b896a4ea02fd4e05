#include "synaptix/engine/fp8_activations.h"

#include "synaptix/core/error.h"

namespace synaptix::engine {

void check_fp8_activations(std::span<const ProjectionWeights> projections, int cc_major, int cc_minor,
                           const std::string& device) {
  if (cc_major * 10 + cc_minor < 89)
    fail("precision activations=fp8: ", device, " is sm_", cc_major, cc_minor,
         ", which has no FP8 tensor cores (sm_89 or later: Ada, Hopper, Blackwell)");
  if (projections.empty()) fail("precision activations=fp8: the model has no projection matrices to run in FP8");
  for (const ProjectionWeights& p : projections) {
    if (p.dtype != DType::FP8_PC)
      fail("precision activations=fp8: ", p.name, " is ", dtype_name(p.dtype),
           ", expected fp8-e4m3-pc (W8A8 needs every projection quantized to it: `synaptix quantize "
           "--formats fp8-e4m3-pc`, or a recipe whose \"quant\" section says so)");
    if (p.n % 16 || p.k % 16)
      fail("precision activations=fp8: ", p.name, " is ", p.n, " x ", p.k,
           ", but the FP8 GEMM needs both dimensions multiples of 16");
  }
}

}  // namespace synaptix::engine
