// Every generated kernel source compiles with NVRTC for Hopper (sm_90a). Needs no GPU and no driver
// (NVRTC is host-only), so it runs in CI wherever the CUDA toolkit is installed and catches source errors
// before any device time is spent. The cubins go to a fresh cache directory, so every source is compiled.
// To add a kernel: put its source in kernels/<op>/cuda/<name>.cu, its generator in <name>_source.cpp, and
// a line here for every point of its parameter space the runtime can ask for.
#include <gtest/gtest.h>

#if SYNAPTIX_HAVE_CUDA
#include <string>

#include "support/nvrtc_compile.h"
#include "synaptix/core/error.h"
#include "synaptix/kernels/attention/cuda/flash_attention_cuda.h"
#include "synaptix/kernels/attention/cuda/paged_attention_cuda.h"
#include "synaptix/kernels/embedding/cuda/embedding_cuda.h"
#include "synaptix/kernels/linear/cuda/gemv_bf16.h"
#include "synaptix/kernels/linear/cuda/weight_prefetch_cuda.h"
#include "synaptix/kernels/moe/cuda/moe_experts_cuda.h"
#include "synaptix/kernels/moe/cuda/moe_route_cuda.h"
#include "synaptix/kernels/moe/cuda/moe_rows_cuda.h"
#include "synaptix/kernels/moe/cuda/moe_sort_cuda.h"
#include "synaptix/kernels/rmsnorm/cuda/rmsnorm_cuda.h"
#include "synaptix/kernels/rope/cuda/rope_kv_cuda.h"
#include "synaptix/kernels/sampling/cuda/argmax_cuda.h"
#include "synaptix/kernels/sampling/cuda/sample_cuda.h"
#include "synaptix/kernels/swiglu/cuda/swiglu_cuda.h"

namespace kc = synaptix::kernels::cuda;

using synaptix::testing::expect_compiles;

TEST(KernelSources, FixedKernelsCompileForSm90a) {
  expect_compiles(kc::rmsnorm_source(), "rmsnorm");
  expect_compiles(kc::swiglu_source(), "swiglu");
  expect_compiles(kc::geglu_source(), "geglu");
  expect_compiles(kc::rmsnorm_add_source(), "rmsnorm_add");
  expect_compiles(kc::embedding_scale_source(), "embedding_scale");
  expect_compiles(kc::embedding_source(), "embedding");
  expect_compiles(kc::argmax_source(), "argmax");
  expect_compiles(kc::sample_source(), "sample");
  expect_compiles(kc::rope_kv_source(), "rope_kv");
  expect_compiles(kc::moe_rows_source(), "moe_rows");
  expect_compiles(kc::moe_route_source(), "moe_route");
  expect_compiles(kc::moe_sort_source(), "moe_sort");
  expect_compiles(kc::weight_prefetch_source(), "weight_prefetch");
}

TEST(KernelSources, AttentionCompilesForFixtureAndLlamaShapes) {
  // {4, 256}: Gemma 3 270M and 1B (4 query heads per KV head of head_dim 256).
  for (auto [g, d] : {std::pair<int64_t, int64_t>{2, 16}, {1, 16}, {2, 32}, {4, 128}, {8, 128}, {1, 80}, {2, 256}, {4, 256}})
    expect_compiles(kc::paged_attention_source(g, d, d % 32 == 0), "attention_g" + std::to_string(g) + "_d" + std::to_string(d));
  // The fused decode kernel's other schedules (warps per block, keys per warp).
  for (auto [w, k] : {std::pair<int, int>{8, 4}, {16, 4}, {8, 8}, {16, 8}})
    expect_compiles(kc::paged_attention_source(4, 128, false, w, k), "attention_g4_d128_dw" + std::to_string(w) + "_dk" + std::to_string(k));
  // The fused decode kernel as thread block clusters of 2 to 16 split blocks (16: non-portable size).
  for (int cl : {2, 4, 8, 16}) {
    for (auto [g, d] : {std::pair<int64_t, int64_t>{2, 16}, {1, 16}, {2, 32}, {4, 128}, {8, 128}, {1, 80}, {2, 256}})
      expect_compiles(kc::paged_attention_source(g, d, d % 32 == 0, 4, 4, cl),
                      "attention_g" + std::to_string(g) + "_d" + std::to_string(d) + "_cl" + std::to_string(cl));
    expect_compiles(kc::paged_attention_source(4, 128, false, 16, 8, cl), "attention_g4_d128_dw16_dk8_cl" + std::to_string(cl));
  }
  // With the token's heads in registers (RoPE through warp shuffles), both cache types, with and without clusters.
  for (auto [g, d] : {std::pair<int64_t, int64_t>{2, 16}, {4, 64}, {4, 128}, {8, 128}, {2, 256}, {4, 256}})
    for (int cl : {0, 4})
      for (bool kv32 : {false, true})
        expect_compiles(kc::paged_attention_source(g, d, kv32, 16, 4, cl, true),
                        "attention_g" + std::to_string(g) + "_d" + std::to_string(d) + "_cl" + std::to_string(cl) + "_rh");
  // Gemma 3 270M's decode default: 16 warps, heads staged in shared memory (its q/k norms rule out registers).
  for (bool kv32 : {false, true})
    expect_compiles(kc::paged_attention_source(4, 256, kv32, 16, 4, 0, false), "attention_g4_d256_dw16");
  EXPECT_THROW(kc::paged_attention_source(4, 128, false, 4, 4, 32), synaptix::Error);
}

TEST(KernelSources, WholeGemvSearchSpaceCompiles) {
  int count = 0;
  for (int m : {1, 8})
    for (const auto& p : kc::gemv_search_space(m, 4096, 4096)) {
      expect_compiles(kc::gemv_bf16_source(m, p), "gemv_m" + std::to_string(m) + "_" + p.str());
      ++count;
    }
  EXPECT_GT(count, 20);
  // The capped L2 prefetch variants the decode step tries in context.
  for (int kb : {8, 16, 32, 64}) {
    kc::GemvParams p = kc::gemv_default_params(1, 4096, 14336);
    p.prefetch_kb = kb;
    expect_compiles(kc::gemv_bf16_source(1, p), "gemv_m1_" + p.str());
  }
  kc::GemvParams bad;
  bad.prefetch_kb = 12;
  EXPECT_FALSE(kc::gemv_params_valid(bad, 1));
}

TEST(KernelSources, FlashAttentionCompilesForEverySupportedHeadDim) {
  for (int64_t d : {16, 32, 64, 128, 256}) expect_compiles(kc::flash_attention_source(d), "flash_d" + std::to_string(d));
  EXPECT_THROW(kc::flash_attention_source(80), synaptix::Error);
}

TEST(KernelSources, FusedGemvVariantsCompile) {
  using kc::GemvInput;
  using kc::GemvOutput;
  for (int m : {1, 3, 8})
    for (auto [in, out] : {std::pair{GemvInput::RmsNorm, GemvOutput::Plain}, {GemvInput::RmsNorm, GemvOutput::SwiGlu},
                           {GemvInput::Plain, GemvOutput::AccumulateSumSq}, {GemvInput::RmsNorm, GemvOutput::ArgMax},
                           {GemvInput::RmsNorm, GemvOutput::GeGlu}, {GemvInput::Plain, GemvOutput::GeGlu}}) {
      kc::GemvFusion f;
      f.input = in;
      f.output = out;
      const kc::GemvParams p = kc::gemv_fit_params(kc::gemv_default_params(m, 4096, 4096), m, f);
      expect_compiles(kc::gemv_bf16_source(m, p, f), "gemv_m" + std::to_string(m) + "_" + p.str() + "_" + f.str());
    }
  // The MoE router's form: the RMSNorm prologue also writes the normalised rows.
  kc::GemvFusion f;
  f.input = kc::GemvInput::RmsNorm;
  f.xn_out = 256;
  for (int m : {1, 8}) expect_compiles(kc::gemv_bf16_source(m, kc::gemv_default_params(m, 128, 2048), f), "gemv_router_xn");
}

TEST(KernelSources, InvalidGemvParamsAreRejected) {
  EXPECT_THROW(kc::gemv_bf16_source(1, kc::GemvParams{4, 3, 1, 1, 0, 0}), synaptix::Error);
  EXPECT_THROW(kc::gemv_bf16_source(9, kc::GemvParams{}), synaptix::Error);
}

TEST(KernelSources, MoeExpertsCompileForEveryDecodeShape) {
  // Every (tokens, top_k) the executor can ask for at top_k 1, 2 (Mixtral), 4 and 8 (Qwen3-MoE).
  for (int64_t k : {1, 2, 4, 8})
    for (int64_t t = 1; t <= kc::kMoeExpertsMaxTokens; ++t)
      if (t * k <= kc::kMoeExpertsMaxPairs)
        expect_compiles(kc::moe_experts_source(t, k), "moe_experts_m" + std::to_string(t) + "_k" + std::to_string(k));
}
#endif  // SYNAPTIX_HAVE_CUDA
