// The int8 KV cache's kernel variants compile with NVRTC for Hopper (sm_90a): the paged attention (its
// prefill and combine kernels), the fused RoPE + decode attention at warp, keys-per-warp, cluster and
// head-layout points, the flash prefill, and the RoPE + KV write (one source for every format); the device
// layout (kv_int8_layout.h) tiles a block exactly. Needs no GPU.
#include <gtest/gtest.h>

#include <set>
#include <tuple>

#include "synaptix/kernels/attention/cuda/kv_int8_layout.h"
#include "synaptix/kernels/attention/kv_format.h"

namespace kc = synaptix::kernels::cuda;

// Every slot's codes and scale lie inside its own block, never overlap another's, and the blocks hold
// exactly the bytes kv_bytes_per_token_layer counts for K (or V); rows stay 4-byte aligned.
TEST(KvInt8Layout, TilesEachBlockExactly) {
  for (auto [bs, kvh, d] : {std::tuple<int64_t, int64_t, int64_t>{16, 3, 64}, {4, 1, 256}, {16, 8, 128}, {8, 2, 80}}) {
    const int64_t blocks = 3, block_bytes = kc::kv_int8_block_bytes(bs, kvh, d);
    EXPECT_EQ(block_bytes, bs * synaptix::kernels::kv_bytes_per_token_layer(synaptix::kernels::KvFormat::Int8, kvh, d) / 2);
    std::set<int64_t> used;
    for (int64_t slot = 0; slot < blocks * bs; ++slot)
      for (int64_t h = 0; h < kvh; ++h) {
        const int64_t row = kc::kv_int8_row_offset(slot, bs, kvh, h, d), sc = kc::kv_int8_scale_offset(slot, bs, kvh, h, d);
        EXPECT_EQ(row / block_bytes, slot / bs);
        EXPECT_EQ(sc / block_bytes, slot / bs);
        EXPECT_EQ(row % 4, 0);
        EXPECT_EQ(sc % 4, 0);
        for (int64_t i = 0; i < d; ++i) EXPECT_TRUE(used.insert(row + i).second) << "slot " << slot << " head " << h;
        for (int64_t i = 0; i < 4; ++i) EXPECT_TRUE(used.insert(sc + i).second) << "slot " << slot << " head " << h;
      }
    EXPECT_EQ(static_cast<int64_t>(used.size()), blocks * block_bytes);
  }
  EXPECT_TRUE(kc::kv_int8_block_size_ok(16));
  EXPECT_FALSE(kc::kv_int8_block_size_ok(6));
  EXPECT_FALSE(kc::kv_int8_block_size_ok(0));
}

#if SYNAPTIX_HAVE_CUDA
#include <string>

#include "support/nvrtc_compile.h"
#include "synaptix/core/error.h"
#include "synaptix/kernels/attention/cuda/flash_attention_cuda.h"
#include "synaptix/kernels/attention/cuda/paged_attention_cuda.h"
#include "synaptix/kernels/rope/cuda/rope_kv_cuda.h"


using synaptix::testing::expect_compiles;

TEST(KvInt8Sources, PagedAndFusedDecodeAttentionCompileForSm90a) {
  // Head dims whose lanes hold 2, 4, 8 codes (one load each) and 3 (byte by byte); both head layouts.
  for (auto [g, d, w, rh] : {std::tuple<int64_t, int64_t, int, bool>{3, 64, 4, false}, {4, 128, 16, true}, {3, 80, 8, false},
                             {4, 256, 16, false}, {8, 128, 8, true}, {3, 64, 8, true}}) {
    expect_compiles(kc::paged_attention_source(g, d, false, w, 8, 0, rh, false, true),
                    "kvint8_g" + std::to_string(g) + "_d" + std::to_string(d) + "_dw" + std::to_string(w) + (rh ? "_rh" : ""));
  }
  for (int cl : {2, 16})
    expect_compiles(kc::paged_attention_source(4, 128, false, 16, 4, cl, true, false, true), "kvint8_g4_d128_rh_cl" + std::to_string(cl));
  EXPECT_THROW(kc::paged_attention_source(4, 128, true, 4, 4, 0, false, false, true), synaptix::Error);  // f32 and int8
  EXPECT_THROW(kc::paged_attention_source(4, 128, false, 4, 4, 0, false, true, true), synaptix::Error);  // fp8 and int8
}

TEST(KvInt8Sources, FlashAttentionAndRopeKvWriteCompileForSm90a) {
  for (int64_t d : {16, 64, 128, 256}) expect_compiles(kc::flash_attention_source(d, false, true), "flash_kvint8_d" + std::to_string(d));
  EXPECT_THROW(kc::flash_attention_source(64, true, true), synaptix::Error);
  expect_compiles(kc::rope_kv_source(), "rope_kv");
}

#else
TEST(KvInt8Sources, NeedsTheCudaToolkit) { GTEST_SKIP() << "built without the CUDA toolkit: NVRTC is not available"; }
#endif
