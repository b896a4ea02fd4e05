// The weight-format kernels (kernels/linear/cuda/quant_gemv.cu and quant_dequant.cu) compile with NVRTC for
// Hopper (sm_90a) for every weight format, the GEMV for every m it takes, and the generators refuse what they
// have no form for. Needs the CUDA toolkit, no GPU (the kernels run in tests/kernels/cuda/quant_gemv_device_test.cpp).
#include <gtest/gtest.h>

#if SYNAPTIX_HAVE_CUDA
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <vector>
#include <string>

#include <unistd.h>

#include "synaptix/backend/cuda/nvrtc_compiler.h"
#include "synaptix/core/error.h"
#include "synaptix/kernels/linear/cuda/quant_gemv_cuda.h"
#include "synaptix/quant/weight_format.h"

using namespace synaptix;

namespace {

// A fresh cubin cache: every source really compiles.
struct FreshCache {
  std::filesystem::path dir = std::filesystem::temp_directory_path() / ("synaptix-quant-gemv-" + std::to_string(::getpid()));
  FreshCache() { ::setenv("SYNAPTIX_CACHE_DIR", dir.c_str(), 1); }
  ~FreshCache() { std::filesystem::remove_all(dir); }
};

}  // namespace

TEST(QuantGemvSource, EveryFormatCompilesForSm90a) {
  FreshCache cache;
  for (const quant::WeightFormat& f : quant::weight_formats()) {
    ASSERT_TRUE(kernels::cuda::quant_gemv_supports(f.dtype)) << f.name;
    // The GEMV at both ends of m with the default schedule, and the bf16 expansion.
    for (int m : {1, 8}) {
      const std::string name = "quant_gemv_" + std::string(f.name) + "_m" + std::to_string(m);
      const auto src = kernels::cuda::quant_gemv_source(f.dtype, m, kernels::cuda::quant_gemv_default_params(f.dtype, m));
      EXPECT_GT(backend::cuda::compile_cubin(src, "sm_90a", name).cubin.size(), 100u) << name;
    }
    const std::string name = "quant_dequant_" + std::string(f.name);
    EXPECT_GT(backend::cuda::compile_cubin(kernels::cuda::quant_dequant_source(f.dtype), "sm_90a", name).cubin.size(), 100u)
        << name;
  }
}

TEST(QuantGemvSource, EveryRowCountAndScheduleCompiles) {
  FreshCache cache;
  for (int m : {2, 3, 4, 5, 6, 7}) {
    // The schedule's extremes, alternately (each compile costs ~0.2-0.5 s).
    const kernels::cuda::QuantGemvParams p = m % 2 ? kernels::cuda::QuantGemvParams{16, 4, 8} : kernels::cuda::QuantGemvParams{4, 1, 1};
    const std::string name = "quant_gemv_int4-g128_m" + std::to_string(m) + "_" + p.str();
    const auto src = kernels::cuda::quant_gemv_source(DType::W4_G128, m, p);
    EXPECT_GT(backend::cuda::compile_cubin(src, "sm_90a", name).cubin.size(), 100u) << name;
  }
}

// The tensor-core product (quant_mma.cu) for every format at one and eight token tiles with the default
// schedule, the schedule's extremes for int4-g128 and fp8, and the activation conversion for f32 and bf16 x.
TEST(QuantMmaSource, EveryFormatCompilesForSm90a) {
  FreshCache cache;
  for (const quant::WeightFormat& f : quant::weight_formats())
    for (int m : {1, 64}) {
      const std::string name = "quant_mma_" + std::string(f.name) + "_m" + std::to_string(m);
      // m = 1: the split-K form (the default is the stream form, below).
      const kernels::cuda::QuantMmaParams p = m == 1 ? kernels::cuda::QuantMmaParams{} : kernels::cuda::quant_mma_default_params(f.dtype, m);
      const auto src = kernels::cuda::quant_mma_source(f.dtype, m, p);
      EXPECT_GT(backend::cuda::compile_cubin(src, "sm_90a", name).cubin.size(), 100u) << name;
      if (m == 1) {  // x converted in the product
        const auto fsrc = kernels::cuda::quant_mma_source(f.dtype, m, p, true);
        EXPECT_GT(backend::cuda::compile_cubin(fsrc, "sm_90a", name + "_fx").cubin.size(), 100u) << name << " fused";
      }
    }
  for (DType w : {DType::W4_G128, DType::FP8_PC})
    for (int m : {9, 32}) {
      const kernels::cuda::QuantMmaParams p = m == 9 ? kernels::cuda::QuantMmaParams{16, 4, 2} : kernels::cuda::QuantMmaParams{1, 2, 4, true, 16};
      const std::string name = "quant_mma_" + std::string(dtype_name(w)) + "_m" + std::to_string(m) + "_" + p.str();
      EXPECT_GT(backend::cuda::compile_cubin(kernels::cuda::quant_mma_source(w, m, p), "sm_90a", name).cubin.size(), 100u) << name;
    }
  for (const quant::WeightFormat& f : quant::weight_formats()) {
    const std::string name = "quant_mma_dequant_" + std::string(f.name);
    EXPECT_GT(backend::cuda::compile_cubin(kernels::cuda::quant_mma_dequant_source(f.dtype), "sm_90a", name).cubin.size(), 100u) << name;
  }
  for (bool bf16 : {false, true}) {
    const std::string name = std::string("quant_mma_x_") + (bf16 ? "bf16" : "f32");
    EXPECT_GT(backend::cuda::compile_cubin(kernels::cuda::quant_mma_x_source(bf16), "sm_90a", name).cubin.size(), 100u) << name;
  }
}

// The stream form (quant_mma_stream.cu), the default up to 8 rows of x: every format at m = 1 and 8 with the
// default schedule, f32 and bf16 x, and the schedule's extremes that fit shared memory.
TEST(QuantMmaStreamSource, EveryFormatCompilesForSm90a) {
  FreshCache cache;
  namespace kc = kernels::cuda;
  auto p_of = [](int m) {
    kc::QuantMmaParams p = kc::quant_mma_default_params(DType::W4_G128, 1);
    p.unroll = m > 32 ? 1 : 2;
    return p;
  };
  for (const quant::WeightFormat& f : quant::weight_formats())
    for (int m : {1, 8}) {
      const kc::QuantMmaParams p = kc::quant_mma_default_params(f.dtype, m);
      ASSERT_GT(p.stages, 0) << "the default up to 8 rows is the stream form";
      const bool bf16 = m == 8 && f.dtype == DType::W4_G128;
      const std::string name = "quant_mma_stream_" + std::string(f.name) + "_m" + std::to_string(m) + (bf16 ? "_xbf16" : "");
      EXPECT_GT(backend::cuda::compile_cubin(kc::quant_mma_stream_source(f.dtype, m, p, bf16), "sm_90a", name).cubin.size(), 100u)
          << name;
    }
  // The fusions of a quantized decode step: RMSNorm of x, and SwiGLU / GeGLU of gate|up.
  for (DType w : {DType::W4_G128, DType::MXFP4})
    for (const kc::QuantMmaFusion& fu : {kc::QuantMmaFusion{true, kc::QuantGlu::None}, kc::QuantMmaFusion{true, kc::QuantGlu::SwiGlu},
                                         kc::QuantMmaFusion{false, kc::QuantGlu::GeGluTanh}}) {
      const std::string name = "quant_mma_stream_" + std::string(dtype_name(w)) + "_m2" + fu.str();
      const auto src = kc::quant_mma_stream_source(w, 2, kc::quant_mma_default_params(w, 2), false, fu);
      EXPECT_GT(backend::cuda::compile_cubin(src, "sm_90a", name).cubin.size(), 100u) << name;
    }
  // More token tiles (the stream form takes up to 64 rows; the sweep times it at 32), x by the row-major pre-pass.
  for (int m : {32, 64}) {
    kc::QuantMmaParams p = p_of(m);
    p.fuse_x = m == 32;
    const std::string name = "quant_mma_stream_int4-g128_m" + std::to_string(m) + p.str();
    EXPECT_GT(backend::cuda::compile_cubin(kc::quant_mma_stream_source(DType::W4_G128, m, p, false), "sm_90a", name).cubin.size(), 100u) << name;
  }
  EXPECT_GT(backend::cuda::compile_cubin(kc::quant_mma_x_source(false, true), "sm_90a", "quant_mma_x_rows").cubin.size(), 100u);
  kc::QuantMmaParams lo, hi;
  lo.warps = 1, lo.unroll = 1, lo.stages = 2;
  hi.warps = 16, hi.unroll = 4, hi.stages = 2, hi.k_slices = 3;
  for (DType w : {DType::W4A_G32, DType::FP8_PC})
    for (const kc::QuantMmaParams& p : {lo, hi}) {
      const int m = p.warps == 1 ? 5 : 2;
      const std::string name = "quant_mma_stream_" + std::string(dtype_name(w)) + "_m" + std::to_string(m) + "_" + p.str();
      EXPECT_GT(backend::cuda::compile_cubin(kc::quant_mma_stream_source(w, m, p, false), "sm_90a", name).cubin.size(), 100u) << name;
    }
}

// The stream form's refusals, and its grid: x's k slice fits, the busiest SM's share is near the mean.
TEST(QuantMmaStreamSource, RefusesOutOfRangeAndBalancesTheGrid) {
  namespace kc = kernels::cuda;
  kc::QuantMmaParams p = kc::quant_mma_default_params(DType::W4_G128, 1);
  EXPECT_THROW(kc::quant_mma_source(DType::W4_G128, 1, p), Error);  // the stream form has its own source
  EXPECT_THROW(kc::quant_mma_stream_source(DType::W4_G128, 65, p, false), Error);
  EXPECT_THROW(kc::quant_mma_stream_source(DType::W4_G128, 1, kc::QuantMmaParams{}, false), Error);  // no stages
  EXPECT_THROW(kc::quant_mma_stream_source(DType::Q4_0, 1, p, false), Error);
  kc::QuantMmaParams big = p;
  big.warps = 16, big.unroll = 8, big.stages = 8;  // 1 MB of ring
  try {
    kc::quant_mma_stream_geometry(DType::W4_G128, 1, big);
    ADD_FAILURE() << "no error for a ring larger than shared memory";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("shared memory"), std::string::npos) << e.what();
  }
  big.stages = 1;
  EXPECT_THROW(kc::check_quant_mma_params(1, big), Error);
  // Llama-3.1-8B's shapes in int4 (word_k 128) on 132 SMs, 2 blocks each.
  const struct {
    int64_t n_tiles, kw;
    bool accumulate;
  } shapes[] = {{384, 32, false}, {256, 32, true}, {1792, 32, false}, {256, 112, true}};
  for (int m : {1, 8})
    for (const auto& s : shapes) {
      const kc::QuantMmaStreamGeometry geo = kc::quant_mma_stream_geometry(DType::W4_G128, m, p);
      const kc::QuantMmaStreamGrid g = kc::quant_mma_stream_grid(m, s.n_tiles, s.kw, 128, s.accumulate, geo.x_cap, geo.max_tiles, 0, 2, 132);
      ASSERT_GE(g.splits, 1);
      ASSERT_GE(g.gx, 1);
      EXPECT_LE((s.kw + g.splits - 1) / g.splits * 128, geo.x_cap) << "x's slice fits";
      EXPECT_LE((s.n_tiles + g.gx - 1) / g.gx, geo.max_tiles);
      EXPECT_LE(g.gx * g.splits, 264) << "one wave";
      if (!s.accumulate) {
        EXPECT_EQ(g.splits, (s.kw * 128 + geo.x_cap - 1) / geo.x_cap) << "no zeroing of y unless x needs it";
      }
      // The busiest SM streams at most a quarter more than the mean.
      std::vector<double> load(132, 0.0);
      const int64_t per = (s.kw + g.splits - 1) / g.splits;
      for (int64_t b = 0; b < g.gx * g.splits; ++b) {
        const int64_t bx = b % g.gx, by = b / g.gx;
        const int64_t words = std::max<int64_t>(0, std::min(s.kw, (by + 1) * per) - by * per);
        load[static_cast<size_t>(b % 132)] += static_cast<double>(((bx + 1) * s.n_tiles / g.gx - bx * s.n_tiles / g.gx) * words);
      }
      const double mean = static_cast<double>(s.n_tiles * s.kw) / 132;
      EXPECT_LE(*std::max_element(load.begin(), load.end()), 1.25 * mean)
          << "n_tiles " << s.n_tiles << " kw " << s.kw << " m " << m << ": gx " << g.gx << " splits " << g.splits;
    }
  // An explicit number of slices is kept (raised to what x needs).
  EXPECT_EQ(kc::quant_mma_stream_grid(1, 256, 112, 128, true, 16384, 32, 5, 2, 132).splits, 5);
  EXPECT_EQ(kc::quant_mma_stream_grid(8, 256, 112, 128, true, 4096, 32, 1, 2, 132).splits, 4);
}

TEST(QuantMmaSource, RefusesWhatItHasNoFormFor) {
  EXPECT_THROW(kernels::cuda::quant_mma_source(DType::BF16, 1, {}), Error);
  EXPECT_THROW(kernels::cuda::quant_mma_source(DType::W4_G128, 65, {}), Error);
  EXPECT_THROW(kernels::cuda::quant_mma_source(DType::W4_G128, 0, {}), Error);
  EXPECT_THROW(kernels::cuda::quant_mma_source(DType::W4_G128, 9, {}, true), Error);  // fused: one token tile
  EXPECT_THROW(kernels::cuda::check_quant_mma_params(8, kernels::cuda::QuantMmaParams{8, 1, 1, true, 17}), Error);
  EXPECT_THROW(kernels::cuda::check_quant_mma_params(8, kernels::cuda::QuantMmaParams{0, 1, 1}), Error);
  EXPECT_THROW(kernels::cuda::check_quant_mma_params(8, kernels::cuda::QuantMmaParams{8, 5, 1}), Error);
  EXPECT_THROW(kernels::cuda::check_quant_mma_params(8, kernels::cuda::QuantMmaParams{8, 1, 9}), Error);
  EXPECT_THROW(kernels::cuda::check_quant_mma_params(8, kernels::cuda::QuantMmaParams{8, 4, 4}), Error);  // 16 words
  EXPECT_NO_THROW(kernels::cuda::check_quant_mma_params(64, kernels::cuda::QuantMmaParams{16, 4, 2}));
}

TEST(QuantGemvSource, RefusesFormatsAndShapesWithoutAForm) {
  for (DType t : {DType::BF16, DType::Q4_0, DType::Q6_K, DType::F32}) {
    EXPECT_FALSE(kernels::cuda::quant_gemv_supports(t));
    EXPECT_THROW(kernels::cuda::quant_gemv_source(t, 1, 4), Error);
    EXPECT_THROW(kernels::cuda::quant_dequant_source(t), Error);
  }
  try {
    kernels::cuda::quant_gemv_source(DType::Q4_K, 1, 4);
    ADD_FAILURE() << "no error for q4_k";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("q4_k"), std::string::npos) << e.what();  // names what it got
    EXPECT_NE(std::string(e.what()).find("int4-g128"), std::string::npos) << e.what();  // and what it takes
  }
  EXPECT_THROW(kernels::cuda::quant_gemv_source(DType::W4_G128, 9, 4), Error);
  EXPECT_THROW(kernels::cuda::quant_gemv_source(DType::W4_G128, 0, 4), Error);
  EXPECT_THROW(kernels::cuda::quant_gemv_source(DType::FP8_PC, 1, 0), Error);
  EXPECT_THROW(kernels::cuda::quant_gemv_source(DType::FP8_PC, 1, kernels::cuda::QuantGemvParams{4, 17, 4}), Error);
  EXPECT_THROW(kernels::cuda::quant_gemv_source(DType::FP8_PC, 1, kernels::cuda::QuantGemvParams{4, 4, 9}), Error);
  // The executor checks a schedule with this at construction (not at the first decode step).
  EXPECT_NO_THROW(kernels::cuda::check_quant_gemv_params(8, kernels::cuda::QuantGemvParams{16, 16, 8}));
  try {
    kernels::cuda::check_quant_gemv_params(2, kernels::cuda::QuantGemvParams{0, 4, 4});
    ADD_FAILURE() << "no error for 0 warps";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("warps = 0"), std::string::npos) << e.what();
  }
}
#endif
