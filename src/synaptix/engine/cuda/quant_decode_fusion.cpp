#include "synaptix/engine/cuda/quant_decode_fusion.h"

#include "synaptix/backend/cuda/launch/quant_gemv.h"
#include "synaptix/quant/weight_format.h"

namespace synaptix::engine::cuda {

namespace kc = kernels::cuda;

bool quant_norm_linear(const DeviceWeights& w, const CudaExecutorOptions& opt, CUstream stream, CUdeviceptr x,
                       CUdeviceptr gamma, float eps, CUdeviceptr wt, DType wdt, CUdeviceptr y, int64_t m, int64_t n,
                       int64_t k, kc::QuantGlu glu) {
  if (!opt.fuse || !w.mma_layout || !quant::weight_format(wdt)) return false;
  if (m < 1 || m > 8 || m > opt.quant_mma_max_rows) return false;
  const auto it = opt.quant_mma_schedule.find(1);
  const kc::QuantMmaParams p = it == opt.quant_mma_schedule.end() ? kc::quant_mma_default_params(wdt, static_cast<int>(m)) : it->second;
  const kc::QuantMmaFusion fu{true, glu};
  if (!kc::quant_mma_fusable(wdt, static_cast<int>(m), n, k, p, fu)) return false;
  kc::QuantMmaFusedArgs fa;
  fa.fusion = fu;
  fa.gamma = gamma;
  fa.eps = eps;
  if (glu != kc::QuantGlu::None) fa.glu_out = y;
  // The stream form needs no scratch.
  kc::quant_mma(wdt, x, false, quant_mma_copy(w, wt, wdt, n, k), y, static_cast<int>(m), n, k, false, 0, 0, stream, p, fa);
  return true;
}

}  // namespace synaptix::engine::cuda
