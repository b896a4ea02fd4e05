#include "synaptix/backend/cuda/cublaslt_fp8.h"

#include <cublasLt.h>

#include <algorithm>

#include "synaptix/backend/cuda/cublaslt_status.h"
#include "synaptix/backend/cuda/device_random.h"
#include "synaptix/backend/cuda/launch/fp8_w8a8.h"
#include "synaptix/core/error.h"

namespace synaptix::backend::cuda {

struct BlasLtFp8Matmul::Plan {
  bool outer = false;  // cuBLASLt applies the per-row and per-column scales
  cublasLtMatmulDesc_t op = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, d = nullptr;
  std::vector<cublasLtMatmulHeuristicResult_t> algos;
  ~Plan() {
    if (op) cublasLtMatmulDescDestroy(op);
    if (a) cublasLtMatrixLayoutDestroy(a);
    if (b) cublasLtMatrixLayoutDestroy(b);
    if (d) cublasLtMatrixLayoutDestroy(d);
  }
};

BlasLtFp8Matmul::BlasLtFp8Matmul(bool fast_accumulation) : fast_(fast_accumulation), workspace_(kBlasLtWorkspaceBytes) {
  cublasLtHandle_t h = nullptr;
  check_lt(cublasLtCreate(&h), "cublasLtCreate");
  handle_ = h;
}

BlasLtFp8Matmul::~BlasLtFp8Matmul() {
  plans_.clear();
  if (handle_) cublasLtDestroy(static_cast<cublasLtHandle_t>(handle_));
}

// A plan with (outer) or without the outer-vector scale modes; null when cuBLASLt offers no algorithm.
std::unique_ptr<BlasLtFp8Matmul::Plan> BlasLtFp8Matmul::make_plan(int64_t m, int64_t n, int64_t k, bool outer) {
  auto p = std::make_unique<Plan>();
  p->outer = outer;
  check_lt(cublasLtMatmulDescCreate(&p->op, CUBLAS_COMPUTE_32F, CUDA_R_32F), "cublasLtMatmulDescCreate (fp8)");
  cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
  check_lt(cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta), "set TRANSA");
  check_lt(cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb), "set TRANSB");
  const int8_t fast = fast_ ? 1 : 0;
  check_lt(cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_FAST_ACCUM, &fast, sizeof fast), "set FAST_ACCUM");
  if (outer) {
    const int32_t mode = CUBLASLT_MATMUL_MATRIX_SCALE_OUTER_VEC_32F;
    if (cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_A_SCALE_MODE, &mode, sizeof mode) != CUBLAS_STATUS_SUCCESS ||
        cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_B_SCALE_MODE, &mode, sizeof mode) != CUBLAS_STATUS_SUCCESS)
      return nullptr;
  }
  // A = W codes column-major k x n (ld k), B = X codes column-major k x m (ld k), D f32 column-major n x m.
  check_lt(cublasLtMatrixLayoutCreate(&p->a, CUDA_R_8F_E4M3, k, n, k), "layout A (fp8)");
  check_lt(cublasLtMatrixLayoutCreate(&p->b, CUDA_R_8F_E4M3, k, m, k), "layout B (fp8)");
  check_lt(cublasLtMatrixLayoutCreate(&p->d, CUDA_R_32F, n, m, n), "layout D (fp8)");
  cublasLtMatmulPreference_t pref = nullptr;
  check_lt(cublasLtMatmulPreferenceCreate(&pref), "cublasLtMatmulPreferenceCreate");
  size_t ws = kBlasLtWorkspaceBytes;
  cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws);
  p->algos.resize(8);
  int found = 0;
  const cublasStatus_t s = cublasLtMatmulAlgoGetHeuristic(static_cast<cublasLtHandle_t>(handle_), p->op, p->a, p->b, p->d,
                                                          p->d, pref, 8, p->algos.data(), &found);
  cublasLtMatmulPreferenceDestroy(pref);
  if (s != CUBLAS_STATUS_SUCCESS || found == 0) return nullptr;
  p->algos.resize(static_cast<size_t>(found));
  return p;
}

BlasLtFp8Matmul::Plan& BlasLtFp8Matmul::plan(int64_t m, int64_t n, int64_t k) {
  if (m <= 0 || n <= 0 || k <= 0 || k % 16 || n % 16)
    fail("cuBLASLt fp8 matmul: shape m=", m, " n=", n, " k=", k, " (k and n must be positive multiples of 16)");
  const auto key = std::make_tuple(m, n, k, force_separate_);
  auto it = plans_.find(key);
  if (it != plans_.end()) return *it->second;
  std::unique_ptr<Plan> p = force_separate_ ? nullptr : make_plan(m, n, k, true);
  if (!p) p = make_plan(m, n, k, false);
  if (!p) fail("cuBLASLt has no E4M3 x E4M3 algorithm for m=", m, " n=", n, " k=", k);
  Plan& ref = *p;
  plans_.emplace(key, std::move(p));
  return ref;
}

int BlasLtFp8Matmul::algorithm_count(int64_t m, int64_t n, int64_t k) { return static_cast<int>(plan(m, n, k).algos.size()); }

bool BlasLtFp8Matmul::library_scales(int64_t m, int64_t n, int64_t k) { return plan(m, n, k).outer; }

void BlasLtFp8Matmul::run(CUdeviceptr xq, CUdeviceptr xs, CUdeviceptr wq, CUdeviceptr ws, CUdeviceptr y, int64_t m, int64_t n,
                          int64_t k, CUstream stream, int algorithm, bool accumulate) {
  if (xq % 16 || wq % 16 || y % 16) fail("cuBLASLt fp8 matmul: operands must be 16-byte aligned");
  Plan* p = &plan(m, n, k);
  if (algorithm < 0 || algorithm >= static_cast<int>(p->algos.size()))
    fail("cuBLASLt fp8 algorithm ", algorithm, " out of range for m=", m, " n=", n, " k=", k, " (", p->algos.size(), " offered)");
  const float alpha = 1.0f;
  // Where the unscaled product goes when our kernel scales it: y itself, unless y accumulates.
  CUdeviceptr product = y;
  auto matmul = [&](Plan& q) {
    const float beta = q.outer && accumulate ? 1.0f : 0.0f;
    if (!q.outer && accumulate) {
      const size_t bytes = static_cast<size_t>(m * n) * 4;
      if (product_.bytes() < bytes) product_ = DeviceBuffer(bytes);
      product = product_.ptr();
    }
    if (q.outer) {
      const void* a_scale = reinterpret_cast<const void*>(ws);
      const void* b_scale = reinterpret_cast<const void*>(xs);
      check_lt(cublasLtMatmulDescSetAttribute(q.op, CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, &a_scale, sizeof a_scale), "set A_SCALE_POINTER");
      check_lt(cublasLtMatmulDescSetAttribute(q.op, CUBLASLT_MATMUL_DESC_B_SCALE_POINTER, &b_scale, sizeof b_scale), "set B_SCALE_POINTER");
    }
    const int algo = std::min(algorithm, static_cast<int>(q.algos.size()) - 1);
    return cublasLtMatmul(static_cast<cublasLtHandle_t>(handle_), q.op, &alpha, reinterpret_cast<const void*>(wq), q.a,
                          reinterpret_cast<const void*>(xq), q.b, &beta, reinterpret_cast<void*>(q.outer ? y : product), q.d,
                          reinterpret_cast<void*>(q.outer ? y : product), q.d, &q.algos[static_cast<size_t>(algo)].algo,
                          reinterpret_cast<void*>(workspace_.ptr()), workspace_.bytes(), reinterpret_cast<cudaStream_t>(stream));
  };
  cublasStatus_t s = matmul(*p);
  if (s != CUBLAS_STATUS_SUCCESS && p->outer) {
    // The heuristic offered the outer-vector mode but the launch refused it: unscaled product + our kernel,
    // from now on for this shape.
    std::unique_ptr<Plan> sep = make_plan(m, n, k, false);
    if (!sep) fail("cuBLASLt has no E4M3 x E4M3 algorithm for m=", m, " n=", n, " k=", k, " without scale modes");
    p = sep.get();
    plans_[std::make_tuple(m, n, k, force_separate_)] = std::move(sep);
    s = matmul(*p);
  }
  if (s != CUBLAS_STATUS_SUCCESS)
    fail("cublasLtMatmul (fp8) m=", m, " n=", n, " k=", k, " algorithm ", algorithm, " failed: status ", static_cast<int>(s));
  if (!p->outer && !gemm_only_) kernels::cuda::fp8_scale_outer(y, product, xs, ws, m, n, accumulate, stream);
}

void fp8_w8a8_linear(BlasLtFp8Matmul& mm, CUdeviceptr x, CUdeviceptr xq, CUdeviceptr xs, CUdeviceptr wq, CUdeviceptr ws,
                     CUdeviceptr y, int64_t m, int64_t n, int64_t k, CUstream stream, int algorithm, bool accumulate) {
  kernels::cuda::fp8_quantize_rows(x, xq, xs, m, k, stream);
  mm.run(xq, xs, wq, ws, y, m, n, k, stream, algorithm, accumulate);
}

GemmPeakMeasurement measure_fp8_gemm_peak(int64_t n, int repeats, bool fast_accumulation) {
  const size_t elems = static_cast<size_t>(n) * static_cast<size_t>(n);
  // Random codes (the bytes of random bf16 values): zeros run measurably faster than real data.
  DeviceBuffer a(elems), b(elems), c(elems * 4), scales(static_cast<size_t>(n) * 4);
  fill_uniform_bf16(a.ptr(), elems / 2, 21, 1.0f, nullptr);
  fill_uniform_bf16(b.ptr(), elems / 2, 22, 1.0f, nullptr);
  fill_uniform_f32(scales.ptr(), static_cast<size_t>(n), 23, 1.0f, nullptr);
  BlasLtFp8Matmul mm(fast_accumulation);
  mm.gemm_only(true);  // the tensor cores' rate, not the scale pass's
  return time_gemm_peak(n, repeats, [&] { mm.run(a.ptr(), scales.ptr(), b.ptr(), scales.ptr(), c.ptr(), n, n, n, nullptr); });
}

}  // namespace synaptix::backend::cuda
