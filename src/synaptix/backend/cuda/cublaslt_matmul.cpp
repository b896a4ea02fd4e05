#include "synaptix/backend/cuda/cublaslt_matmul.h"

#include <cublasLt.h>

#include "synaptix/backend/cuda/cublaslt_status.h"
#include "synaptix/core/error.h"

namespace synaptix::backend::cuda {

struct BlasLtMatmul::Plan {
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

BlasLtMatmul::BlasLtMatmul() : workspace_(kBlasLtWorkspaceBytes) {
  cublasLtHandle_t h = nullptr;
  check_lt(cublasLtCreate(&h), "cublasLtCreate");
  handle_ = h;
}

BlasLtMatmul::~BlasLtMatmul() {
  plans_.clear();
  if (handle_) cublasLtDestroy(static_cast<cublasLtHandle_t>(handle_));
}

BlasLtMatmul::Plan& BlasLtMatmul::plan(int64_t m, int64_t n, int64_t k, DType y_dtype) {
  if (y_dtype != DType::F32 && y_dtype != DType::BF16)
    fail("cuBLASLt matmul: output dtype must be f32 or bf16, got ", dtype_name(y_dtype));
  if (m <= 0 || n <= 0 || k <= 0) fail("cuBLASLt matmul: bad shape m=", m, " n=", n, " k=", k);
  auto key = std::make_tuple(m, n, k, static_cast<int>(y_dtype));
  auto it = plans_.find(key);
  if (it != plans_.end()) return *it->second;

  auto p = std::make_unique<Plan>();
  check_lt(cublasLtMatmulDescCreate(&p->op, CUBLAS_COMPUTE_32F, CUDA_R_32F), "cublasLtMatmulDescCreate");
  cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
  check_lt(cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta), "set TRANSA");
  check_lt(cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb), "set TRANSB");
  const cudaDataType_t yt = y_dtype == DType::F32 ? CUDA_R_32F : CUDA_R_16BF;
  // A = W stored column-major k x n (ld k), B = X column-major k x m (ld k), D column-major n x m (ld n).
  check_lt(cublasLtMatrixLayoutCreate(&p->a, CUDA_R_16BF, k, n, k), "layout A");
  check_lt(cublasLtMatrixLayoutCreate(&p->b, CUDA_R_16BF, k, m, k), "layout B");
  check_lt(cublasLtMatrixLayoutCreate(&p->d, yt, n, m, n), "layout D");

  cublasLtMatmulPreference_t pref = nullptr;
  check_lt(cublasLtMatmulPreferenceCreate(&pref), "cublasLtMatmulPreferenceCreate");
  size_t ws = kBlasLtWorkspaceBytes;
  cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws);
  p->algos.resize(8);
  int found = 0;
  cublasStatus_t s = cublasLtMatmulAlgoGetHeuristic(static_cast<cublasLtHandle_t>(handle_), p->op, p->a, p->b,
                                                    p->d, p->d, pref, 8, p->algos.data(), &found);
  cublasLtMatmulPreferenceDestroy(pref);
  if (s != CUBLAS_STATUS_SUCCESS || found == 0)
    fail("cuBLASLt has no bf16 algorithm for m=", m, " n=", n, " k=", k, " (status ", static_cast<int>(s), ")");
  p->algos.resize(found);
  Plan& ref = *p;
  plans_.emplace(key, std::move(p));
  return ref;
}

int BlasLtMatmul::algorithm_count(int64_t m, int64_t n, int64_t k, DType y_dtype) {
  return static_cast<int>(plan(m, n, k, y_dtype).algos.size());
}

void BlasLtMatmul::run(CUdeviceptr x, CUdeviceptr w, CUdeviceptr y, DType y_dtype, int64_t m, int64_t n,
                       int64_t k, CUstream stream, int algorithm, bool accumulate) {
  Plan& p = plan(m, n, k, y_dtype);
  if (algorithm < 0 || algorithm >= static_cast<int>(p.algos.size()))
    fail("cuBLASLt algorithm ", algorithm, " out of range for m=", m, " n=", n, " k=", k, " (", p.algos.size(), " offered)");
  const float alpha = 1.0f, beta = accumulate ? 1.0f : 0.0f;
  cublasStatus_t s = cublasLtMatmul(static_cast<cublasLtHandle_t>(handle_), p.op, &alpha,
                                    reinterpret_cast<const void*>(w), p.a, reinterpret_cast<const void*>(x), p.b,
                                    &beta, reinterpret_cast<void*>(y), p.d, reinterpret_cast<void*>(y), p.d,
                                    &p.algos[algorithm].algo, reinterpret_cast<void*>(workspace_.ptr()),
                                    workspace_.bytes(), reinterpret_cast<cudaStream_t>(stream));
  if (s != CUBLAS_STATUS_SUCCESS)
    fail("cublasLtMatmul m=", m, " n=", n, " k=", k, " algorithm ", algorithm, " failed: status ", static_cast<int>(s));
}

}  // namespace synaptix::backend::cuda
