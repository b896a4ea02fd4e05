// The fp8-e4m3 KV cache's kernel variants compile with NVRTC for Hopper (sm_90a): the paged attention (its
// prefill and combine kernels), the fused RoPE + decode attention at every warp, keys-per-warp, cluster and
// head-layout point, the flash prefill, and the RoPE + KV write (one source for every format). Needs no GPU.
#include <gtest/gtest.h>

#if SYNAPTIX_HAVE_CUDA
#include <string>
#include <tuple>

#include "support/nvrtc_compile.h"
#include "synaptix/core/error.h"
#include "synaptix/kernels/attention/cuda/flash_attention_cuda.h"
#include "synaptix/kernels/attention/cuda/paged_attention_cuda.h"
#include "synaptix/kernels/rope/cuda/rope_kv_cuda.h"

namespace kc = synaptix::kernels::cuda;

using synaptix::testing::expect_compiles;

TEST(KvFp8Sources, PagedAndFusedDecodeAttentionCompileForSm90a) {
  // Head dims whose lanes hold 2, 4, 8 codes (one load each) and 3 (byte by byte); both head layouts.
  for (auto [g, d, w, rh] : {std::tuple<int64_t, int64_t, int, bool>{3, 64, 4, false}, {4, 128, 16, true}, {3, 80, 8, false},
                             {4, 256, 16, false}, {8, 128, 8, true}}) {
    expect_compiles(kc::paged_attention_source(g, d, false, w, 8, 0, rh, true),
                    "kvfp8_g" + std::to_string(g) + "_d" + std::to_string(d) + "_dw" + std::to_string(w) + (rh ? "_rh" : ""));
  }
  for (int cl : {2, 16})
    expect_compiles(kc::paged_attention_source(4, 128, false, 16, 4, cl, true, true), "kvfp8_g4_d128_rh_cl" + std::to_string(cl));
  EXPECT_THROW(kc::paged_attention_source(4, 128, true, 4, 4, 0, false, true), synaptix::Error);  // f32 and fp8
}

TEST(KvFp8Sources, FlashAttentionAndRopeKvWriteCompileForSm90a) {
  for (int64_t d : {16, 64, 128, 256}) expect_compiles(kc::flash_attention_source(d, true), "flash_kvfp8_d" + std::to_string(d));
  expect_compiles(kc::rope_kv_source(), "rope_kv");
}

#else
TEST(KvFp8Sources, NeedsTheCudaToolkit) { GTEST_SKIP() << "built without the CUDA toolkit: NVRTC is not available"; }
#endif
