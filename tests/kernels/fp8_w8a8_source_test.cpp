// The W8A8 FP8 helper kernels (kernels/linear/cuda/fp8_w8a8.cu) compile with NVRTC for Hopper (sm_90a).
// Needs the CUDA toolkit, no GPU (they run in tests/backend/cuda/cublaslt_fp8_test.cpp).
#include <gtest/gtest.h>

#if SYNAPTIX_HAVE_CUDA
#include <cstdlib>
#include <filesystem>
#include <string>

#include <unistd.h>

#include "synaptix/backend/cuda/nvrtc_compiler.h"
#include "synaptix/kernels/linear/cuda/fp8_w8a8_cuda.h"

TEST(Fp8W8A8Source, CompilesForSm90a) {
  const auto dir = std::filesystem::temp_directory_path() / ("synaptix-fp8-w8a8-" + std::to_string(::getpid()));
  ::setenv("SYNAPTIX_CACHE_DIR", dir.c_str(), 1);  // a fresh cache: the source really compiles
  const auto c = synaptix::backend::cuda::compile_cubin(synaptix::kernels::cuda::fp8_w8a8_source(), "sm_90a", "fp8_w8a8");
  EXPECT_GT(c.cubin.size(), 100u);
  // Every kernel is in it (their names are extern "C").
  for (const char* k : {"fp8_quantize_rows", "fp8_quantize_rows_bf16", "fp8_codes_from_mma", "fp8_unpack_weights",
                        "fp8_scale_outer"})
    EXPECT_NE(c.cubin.find(k), std::string::npos) << k;
  std::filesystem::remove_all(dir);
}
#endif  // SYNAPTIX_HAVE_CUDA
