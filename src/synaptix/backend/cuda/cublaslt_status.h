#pragma once
// What every cuBLASLt product object shares (cublaslt_matmul.h, cublaslt_fp8.h): the workspace it offers the
// library's algorithms and the status check that names the failing call.
#include <cublasLt.h>

#include <cstddef>

#include "synaptix/core/error.h"

namespace synaptix::backend::cuda {

inline constexpr size_t kBlasLtWorkspaceBytes = 64ull << 20;

inline void check_lt(cublasStatus_t s, const char* what) {
  if (s != CUBLAS_STATUS_SUCCESS) fail(what, " failed: cuBLAS status ", static_cast<int>(s));
}

}  // namespace synaptix::backend::cuda
