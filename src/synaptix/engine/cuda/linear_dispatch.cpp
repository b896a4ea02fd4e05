// Which kernel runs a linear product y = x W^T of a step: the weight-streaming GEMV with the plan's schedule
// for its (m, n, k) (decode-sized steps, 8 rows per call), or cuBLASLt on tensor cores with the plan's
// algorithm (larger steps, x converted to bf16 first). Quantized weights (a weight format) run the
// tensor-core product on their tensor-core layout up to quant_mma_max_rows rows (64 rows a call), else the
// format's GEMV up to quant_gemv_max_rows rows, else (fp8-e4m3-pc under the precision activations=fp8) run the
// W8A8 FP8 product (linear_w8a8.cpp), else are expanded to bf16 for cuBLASLt.
#include <algorithm>

#include "synaptix/backend/cuda/launch/gemv_bf16.h"
#include "synaptix/backend/cuda/launch/quant_gemv.h"
#include "synaptix/backend/cuda/launch/swiglu.h"
#include "synaptix/core/error.h"
#include "synaptix/engine/cuda/cuda_executor_impl.h"

namespace synaptix::engine::cuda {

namespace kc = kernels::cuda;

// y[m, n] (+)= x[m, k] W^T, x f32. The tensor-core path converts x to bf16 first (hi, and with split_bf16
// also lo, accumulated by a second product).
void CudaExecutorImpl::linear(bool tc, CUdeviceptr x, CUdeviceptr w, CUdeviceptr y, int64_t m, int64_t n, int64_t k,
                              bool acc, DType wdt) {
  if (wdt != DType::BF16) {
    if (quant_mma(x, false, w, y, m, n, k, acc, wdt, !tc)) return;
    if (w_.packed_rows && (m <= opt_.quant_gemv_max_rows || !tc)) {
      for (int64_t r = 0; r < m; r += 8) {
        const int rows = static_cast<int>(std::min<int64_t>(8, m - r));
        const auto it = opt_.quant_gemv_schedule.find(rows);
        const kc::QuantGemvParams p = it == opt_.quant_gemv_schedule.end() ? kc::quant_gemv_default_params(wdt, rows) : it->second;
        kc::quant_gemv(wdt, x + static_cast<CUdeviceptr>(r * k * 4), w, y + static_cast<CUdeviceptr>(r * n * 4), rows, n,
                       k, acc, stream_, p);
      }
      return;
    }
    if (linear_w8a8(x, false, w, y, m, n, k, acc, wdt)) return;  // precision activations=fp8 (linear_w8a8.cpp)
    w = expand_weights(w, wdt, n, k);
  }
  if (tc) {
    auto it = plan_.blaslt_algorithm.find({m, n, k});
    const int algo = it == plan_.blaslt_algorithm.end() ? 0 : it->second;
    if (opt_.split_bf16) {
      kc::split_bf16(x, actb_.ptr(), actlo_.ptr(), m * k, stream_);
      blas_->run(actb_.ptr(), w, y, DType::F32, m, n, k, stream_, algo, acc);
      blas_->run(actlo_.ptr(), w, y, DType::F32, m, n, k, stream_, algo, true);
    } else {
      kc::to_bf16(x, actb_.ptr(), m * k, stream_);
      blas_->run(actb_.ptr(), w, y, DType::F32, m, n, k, stream_, algo, acc);
    }
    return;
  }
  for (int64_t r = 0; r < m; r += 8) {
    const int rows = static_cast<int>(std::min<int64_t>(8, m - r));
    auto it = plan_.gemv.find({rows, n, k});
    const kc::GemvParams p = it == plan_.gemv.end() ? kc::gemv_default_params(rows, n, k) : it->second;
    kc::gemv_bf16(x + static_cast<CUdeviceptr>(r * k * 4), w, y + static_cast<CUdeviceptr>(r * n * 4), rows, n, k,
                  acc, p, stream_);
  }
}

// y[m, n] (+)= xb[m, k] W^T on tensor cores, xb already bf16.
void CudaExecutorImpl::matmul_bf16(CUdeviceptr xb, CUdeviceptr w, CUdeviceptr y, int64_t m, int64_t n, int64_t k,
                                   bool acc, DType wdt) {
  if (wdt != DType::BF16) {
    if (quant_mma(xb, true, w, y, m, n, k, acc, wdt, false)) return;
    if (linear_w8a8(xb, true, w, y, m, n, k, acc, wdt)) return;  // precision activations=fp8
    w = expand_weights(w, wdt, n, k);
  }
  auto it = plan_.blaslt_algorithm.find({m, n, k});
  const int algo = it == plan_.blaslt_algorithm.end() ? 0 : it->second;
  blas_->run(xb, w, y, DType::F32, m, n, k, stream_, algo, acc);
}

// The tensor-core product of a quantized matrix (its tensor-core layout, DeviceWeights::mma_layout), 64 rows of
// x a call, its f16 x in wscratch_; false (nothing run) when the step is too large for it (unless `any_rows`: a
// step that must not use cuBLASLt: then in calls of 64 rows) or turned off (quant_mma_max_rows 0, only when the
// packed rows are held for the GEMV). Without the packed rows it is the only kernel that reads the weights in
// place.
bool CudaExecutorImpl::quant_mma(CUdeviceptr x, bool x_bf16, CUdeviceptr w, CUdeviceptr y, int64_t m, int64_t n,
                                 int64_t k, bool acc, DType wdt, bool any_rows) {
  if (!w_.mma_layout) return false;
  if (w_.packed_rows && opt_.quant_mma_max_rows == 0) return false;
  if (m > opt_.quant_mma_max_rows && !any_rows) return false;  // cuBLASLt on the bf16 expansion
  const int64_t chunk = std::min<int64_t>(std::max(opt_.quant_mma_max_rows, 8), kc::kQuantMmaMaxRows);
  const size_t need = kc::quant_mma_scratch_bytes(wdt, static_cast<int>(std::min(m, chunk)), k);
  if (need > wscratch_.bytes()) {
    if (w_.packed_rows) return false;
    fail("CUDA executor: internal: the tensor-core product of ", n, " x ", k, " needs ", need, " bytes of scratch, has ",
         wscratch_.bytes());
  }
  const CUdeviceptr wm = quant_mma_copy(w_, w, wdt, n, k);
  const int64_t xelem = x_bf16 ? 2 : 4;
  for (int64_t r = 0; r < m; r += chunk) {
    const int rows = static_cast<int>(std::min(chunk, m - r));
    const auto it = opt_.quant_mma_schedule.find((rows + 7) / 8);
    const kc::QuantMmaParams p = it == opt_.quant_mma_schedule.end() ? kc::quant_mma_default_params(wdt, rows) : it->second;
    kc::quant_mma(wdt, x + static_cast<CUdeviceptr>(r * k * xelem), x_bf16, wm, y + static_cast<CUdeviceptr>(r * n * 4),
                  rows, n, k, acc, wscratch_.ptr(), wscratch_.bytes(), stream_, p);
  }
  return true;
}

CUdeviceptr CudaExecutorImpl::expand_weights(CUdeviceptr w, DType wdt, int64_t n, int64_t k) {
  if (static_cast<size_t>(n * k * 2) > wscratch_.bytes())
    fail("CUDA executor: internal: a ", dtype_name(wdt), " matrix of ", n, " x ", k, " exceeds the bf16 scratch of ",
         wscratch_.bytes(), " bytes");
  if (w_.mma_layout) kc::quant_mma_dequantize_bf16(wdt, quant_mma_copy(w_, w, wdt, n, k), wscratch_.ptr(), n, k, stream_);
  else kc::quant_dequantize_bf16(wdt, w, wscratch_.ptr(), n, k, stream_);
  return wscratch_.ptr();
}

// One fused GEMV (m <= 8 rows) with the plan's schedule for its shape.
void CudaExecutorImpl::gemv(CUdeviceptr x, CUdeviceptr w, CUdeviceptr y, int64_t m, int64_t n, int64_t k, bool acc,
                            const kc::GemvFusion& f) {
  auto it = plan_.gemv.find({m, n, k});
  const int mi = static_cast<int>(m);
  kc::GemvParams p = it == plan_.gemv.end() ? kc::gemv_default_params(mi, n, k) : it->second;
  kc::gemv_bf16(x, w, y, mi, n, k, acc, kc::gemv_fit_params(p, mi, f), stream_, f);
}

}  // namespace synaptix::engine::cuda
