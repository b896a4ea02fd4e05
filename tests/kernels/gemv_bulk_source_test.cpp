// The decode GEMV's bulk-copy family (GemvParams::stages > 0) compiles with NVRTC for Hopper (sm_90a) with
// every fusion of the decode path and each m, and the generator keeps the family in the tuner's space and
// refuses rings it has no form for. Needs the CUDA toolkit, no GPU (the kernels run in
// tests/kernels/cuda/gemv_bulk_device_test.cpp). kernel_sources_compile_test.cpp compiles the whole search
// space (both families) without fusions.
#include <gtest/gtest.h>

#if SYNAPTIX_HAVE_CUDA
#include <cstdlib>
#include <filesystem>
#include <string>

#include <unistd.h>

#include "synaptix/backend/cuda/nvrtc_compiler.h"
#include "synaptix/core/error.h"
#include "synaptix/kernels/linear/cuda/gemv_bf16.h"

namespace kc = synaptix::kernels::cuda;

namespace {

// A fresh cubin cache: every source really compiles.
struct FreshCache {
  std::filesystem::path dir = std::filesystem::temp_directory_path() / ("synaptix-gemv-bulk-" + std::to_string(::getpid()));
  FreshCache() { ::setenv("SYNAPTIX_CACHE_DIR", dir.c_str(), 1); }
  ~FreshCache() { std::filesystem::remove_all(dir); }
};

void expect_compiles(const std::string& src, const std::string& name) {
  EXPECT_GT(synaptix::backend::cuda::compile_cubin(src, "sm_90a", name).cubin.size(), 100u) << name;
}

}  // namespace

TEST(GemvBulkSource, EveryFusionCompilesForSm90a) {
  FreshCache cache;
  using kc::GemvInput;
  using kc::GemvOutput;
  for (int m : {1, 3, 8}) {
    const auto space = kc::gemv_bulk_search_space(m, 4096, 4096);
    ASSERT_FALSE(space.empty());
    // The first point (no persistence, split-K 1) and the last (persistent, split-K over 4 of 16 warps).
    for (const kc::GemvParams& p0 : {space.front(), space.back()})
      for (auto [in, out] : {std::pair{GemvInput::RmsNorm, GemvOutput::Plain}, {GemvInput::RmsNorm, GemvOutput::SwiGlu},
                             {GemvInput::Plain, GemvOutput::AccumulateSumSq}, {GemvInput::RmsNorm, GemvOutput::ArgMax},
                             {GemvInput::RmsNorm, GemvOutput::GeGlu}}) {
        kc::GemvFusion f;
        f.input = in;
        f.output = out;
        const kc::GemvParams p = kc::gemv_fit_params(p0, m, f);
        ASSERT_GT(p.stages, 0);
        expect_compiles(kc::gemv_bf16_source(m, p, f), "gemv_m" + std::to_string(m) + "_" + p.str() + "_" + f.str());
      }
  }
  // The RMSNorm prologue that also writes the normalised rows (the MoE router's form), with a capped prefetch.
  kc::GemvFusion f;
  f.input = kc::GemvInput::RmsNorm;
  f.xn_out = 256;
  kc::GemvParams p = kc::gemv_bulk_search_space(8, 128, 2048).front();
  p.prefetch_kb = 16;
  expect_compiles(kc::gemv_bf16_source(8, p, f), "gemv_bulk_router_xn");
}

TEST(GemvBulkSource, TheSearchSpaceHoldsBothFamiliesAndRefusesBadRings) {
  for (int m : {1, 8}) {
    const auto all = kc::gemv_search_space(m, 4096, 14336);
    const auto reg = kc::gemv_register_search_space(m, 4096, 14336);
    const auto bulk = kc::gemv_bulk_search_space(m, 4096, 14336);
    EXPECT_EQ(all.size(), reg.size() + bulk.size());
    EXPECT_GE(bulk.size(), 12u);
    EXPECT_LE(bulk.size(), 48u) << "the tuner's budget";
    for (const auto& p : reg) EXPECT_EQ(p.stages, 0) << p.str();
    for (const auto& p : bulk) EXPECT_GT(p.stages, 0) << p.str();
  }
  kc::GemvParams p{8, 2, 2, 2, 0, 1, 0, 4, 16384};
  EXPECT_TRUE(kc::gemv_params_valid(p, 1));
  EXPECT_EQ(p.str(), "w8_ks2_r2_u2_pers_b4x16k");
  EXPECT_EQ(kc::gemv_ring_bytes(p), 65536);
  EXPECT_EQ(kc::gemv_threads(p), 288) << "the consumer warps and the producer warp";
  for (auto [stages, chunk] : {std::pair{5, 16384}, {4, 1000}, {4, 0}, {0, 4096}, {8, 32768}}) {
    kc::GemvParams q = p;
    q.stages = stages;
    q.chunk_bytes = chunk;
    EXPECT_FALSE(kc::gemv_params_valid(q, 1)) << stages << " x " << chunk;
    EXPECT_THROW(kc::gemv_bf16_source(1, q), synaptix::Error) << stages << " x " << chunk;
  }
  kc::GemvParams occ = p;
  occ.full_occupancy = 1;
  EXPECT_FALSE(kc::gemv_params_valid(occ, 1)) << "full_occupancy is the register path's";
  // A stage must hold whole 16-byte vectors of each of the block's rows: 64 rows need 1 KB multiples.
  kc::GemvParams wide{16, 1, 4, 1, 0, 0, 0, 2, 4096};
  EXPECT_TRUE(kc::gemv_params_valid(wide, 1));
}
#endif  // SYNAPTIX_HAVE_CUDA
