// The weight-format decode GEMV (kernels/linear/cuda/quant_gemv.cu) compiles with NVRTC for Hopper (sm_90a)
// for both formats and every m it takes, and the generator refuses what it has no form for. Needs the CUDA
// toolkit, no GPU; the kernel itself has not run yet.
#include <gtest/gtest.h>

#if SYNAPTIX_HAVE_CUDA
#include <cstdlib>
#include <filesystem>
#include <string>

#include <unistd.h>

#include "synaptix/backend/cuda/nvrtc_compiler.h"
#include "synaptix/core/error.h"
#include "synaptix/kernels/linear/cuda/quant_gemv_cuda.h"

using namespace synaptix;

TEST(QuantGemvSource, CompilesForSm90a) {
  const auto dir = std::filesystem::temp_directory_path() / ("synaptix-quant-gemv-" + std::to_string(::getpid()));
  ::setenv("SYNAPTIX_CACHE_DIR", dir.c_str(), 1);  // a fresh cubin cache: every source really compiles
  for (DType w : {DType::W4_G128, DType::FP8_PC})
    for (int m : {1, 2, 4, 8}) {
      const std::string name = "quant_gemv_" + std::string(dtype_name(w)) + "_m" + std::to_string(m);
      const auto c = backend::cuda::compile_cubin(kernels::cuda::quant_gemv_source(w, m, 4), "sm_90a", name);
      EXPECT_GT(c.cubin.size(), 100u) << name;
    }
  std::filesystem::remove_all(dir);
}

TEST(QuantGemvSource, RefusesFormatsAndShapesWithoutAForm) {
  EXPECT_THROW(kernels::cuda::quant_gemv_source(DType::MXFP4, 1, 4), Error);
  EXPECT_THROW(kernels::cuda::quant_gemv_source(DType::W4_G128, 9, 4), Error);
  EXPECT_THROW(kernels::cuda::quant_gemv_source(DType::FP8_PC, 1, 0), Error);
}
#endif
