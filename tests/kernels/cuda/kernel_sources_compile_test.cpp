// Every generated kernel source compiles with NVRTC for Hopper (sm_90a). Needs no GPU: compilation is
// host-only, so this catches source errors before any device time is spent.
#include <gtest/gtest.h>

#include "synaptix/backend/cuda/nvrtc_compiler.h"
#include "synaptix/core/error.h"
#include "synaptix/kernels/attention/cuda/paged_attention_cuda.h"
#include "synaptix/kernels/embedding/cuda/embedding_cuda.h"
#include "synaptix/kernels/linear/cuda/gemv_bf16.h"
#include "synaptix/kernels/rmsnorm/cuda/rmsnorm_cuda.h"
#include "synaptix/kernels/rope/cuda/rope_kv_cuda.h"
#include "synaptix/kernels/sampling/cuda/argmax_cuda.h"
#include "synaptix/kernels/swiglu/cuda/swiglu_cuda.h"

namespace kc = synaptix::kernels::cuda;
using synaptix::backend::cuda::compile_cubin;

namespace {
void expect_compiles(const std::string& src, const std::string& name) {
  auto c = compile_cubin(src, "sm_90a", name);
  EXPECT_GT(c.cubin.size(), 100u) << name;
}
}  // namespace

TEST(KernelSources, FixedKernelsCompileForSm90a) {
  expect_compiles(kc::rmsnorm_source(), "rmsnorm");
  expect_compiles(kc::swiglu_source(), "swiglu");
  expect_compiles(kc::embedding_source(), "embedding");
  expect_compiles(kc::argmax_source(), "argmax");
  expect_compiles(kc::rope_kv_source(), "rope_kv");
}

TEST(KernelSources, AttentionCompilesForFixtureAndLlamaShapes) {
  for (auto [g, d] : {std::pair<int64_t, int64_t>{2, 16}, {1, 16}, {2, 32}, {4, 128}, {8, 128}, {1, 80}, {2, 256}})
    expect_compiles(kc::paged_attention_source(g, d, d % 32 == 0), "attention_g" + std::to_string(g) + "_d" + std::to_string(d));
}

TEST(KernelSources, WholeGemvSearchSpaceCompiles) {
  int count = 0;
  for (int m : {1, 8})
    for (const auto& p : kc::gemv_search_space(m, 4096, 4096)) {
      expect_compiles(kc::gemv_bf16_source(m, p), "gemv_m" + std::to_string(m) + "_" + p.str());
      ++count;
    }
  EXPECT_GT(count, 20);
}

TEST(KernelSources, InvalidGemvParamsAreRejected) {
  EXPECT_THROW(kc::gemv_bf16_source(1, kc::GemvParams{4, 3, 1, 1}), synaptix::Error);
  EXPECT_THROW(kc::gemv_bf16_source(9, kc::GemvParams{}), synaptix::Error);
}
