// The generated linear_quant kernels (kernels/linear/cpu/linear_quant.h) against linear_quant_reference on
// random Q4_0 / Q4_1 / Q8_0 blocks: every isa x activation mode the CPU has, at m = 1 and m = 5 with bias, n
// not a multiple of the tiles. act = f32 must match to f32 rounding; act = q8 within the activation-rounding
// bound (q8_activation_error_bound). A kernel that mixes up nibbles, blocks or scales, or drops Q4_1's min,
// is off by a block's share of y, outside both. To add a variant: add its point to `points` below.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <random>
#include <vector>

#include "synaptix/backend/module_builder.h"
#include "synaptix/backend/pool_runtime.h"
#include "synaptix/core/error.h"
#include "synaptix/core/thread_pool.h"
#include "synaptix/hw/cpu_profile.h"
#include "synaptix/kernels/linear/cpu/linear_quant.h"
#include "synaptix/kernels/linear/quant_reference.h"
#include "synaptix/quant/block_dtype.h"
#include "synaptix/quant/dequantize.h"
#include "synaptix/tune/linear_kernel.h"
#include "synaptix/tune/measurer.h"

using namespace synaptix;

namespace {

std::vector<uint8_t> random_legacy_blocks(DType t, int64_t elems, std::mt19937& rng) {
  const quant::BlockFormat& f = *quant::block_format(t);
  std::vector<uint8_t> w(static_cast<size_t>(quant::row_bytes(t, elems)));
  for (auto& b : w) b = static_cast<uint8_t>(rng());
  std::uniform_real_distribution<float> d(-0.1f, 0.1f);
  for (int64_t b = 0; b < elems / 32; ++b)
    for (int off : t == DType::Q4_1 ? std::vector<int>{0, 2} : std::vector<int>{0}) {
      const uint16_t h = f32_to_f16(d(rng));
      std::memcpy(w.data() + b * f.block_bytes + off, &h, 2);
    }
  return w;
}

graph::Op op_of(DType w, int64_t m_lo, int64_t m, int64_t n, int64_t k) {
  graph::Op op;
  op.name = "test";
  op.kind = graph::OpKind::Linear;
  op.m_lo = m_lo, op.m = m, op.n = n, op.k = k;
  op.w_dtype = w;
  op.bias = true;
  return op;
}

}  // namespace

TEST(LinearQuantGenerated, EveryIsaAndActivationModeMatchesTheReference) {
  const auto cpu = hw::probe_cpu(false);
  const kernels::LinearQuantGenerator gen;
  const auto dir = std::filesystem::temp_directory_path() / ("synaptix_linear_quant_" + std::to_string(::getpid()));
  backend::ModuleBuilder builder(dir.string());
  ThreadPool pool(2);
  const synaptix_runtime rt = backend::pool_runtime(pool);
  std::mt19937 rng(5);
  const int64_t n = 37, k = 96;

  struct Case { graph::Op op; nlohmann::json point; };
  std::vector<Case> cases;
  for (DType t : {DType::Q4_0, DType::Q4_1, DType::Q8_0}) {
    const auto op = op_of(t, 1, 5, n, k);
    ASSERT_TRUE(gen.applies(op, cpu));
    const auto isas = gen.space(op, cpu).front().values;
    for (const auto& isa : isas)
      for (const char* act : {"f32", "q8"}) {
        // Q4_1 (the SmolLM2 format) in every tiling shape; the others in one.
        const std::vector<std::pair<int, int>> tiles =
            t == DType::Q4_1 ? std::vector<std::pair<int, int>>{{1, 1}, {4, 2}} : std::vector<std::pair<int, int>>{{2, 2}};
        for (auto [nt, mt] : tiles) {
          nlohmann::json p = {{"isa", isa}, {"act", act}, {"n_tile", nt}, {"m_tile", mt}, {"rows_per_task", 8},
                              {"threads", "all"}};
          if (gen.valid(op, p)) cases.push_back({op, p});
        }
      }
  }
  ASSERT_GE(cases.size(), 9u);  // at least f32 on scalar and q8/f32 on one vector isa for each format
  std::vector<backend::ModuleSource> srcs;
  for (const auto& c : cases) srcs.push_back({gen.emit(c.op, c.point).code, {}});
  const auto built = builder.build_all(srcs, 2);

  for (size_t ci = 0; ci < cases.size(); ++ci) {
    const auto& [op, point] = cases[ci];
    ASSERT_TRUE(built[ci].ok) << point.dump() << "\n" << built[ci].error;
    const tune::LinearKernel kernel(built[ci].path);
    const bool q8 = point["act"] == "q8";
    const auto w = random_legacy_blocks(op.w_dtype, n * k, rng);
    std::vector<float> deq(static_cast<size_t>(n * k));
    quant::dequantize_f32(*quant::block_format(op.w_dtype), w.data(), n * k, deq.data());
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    std::vector<float> bias(static_cast<size_t>(n));
    for (auto& b : bias) b = u(rng);
    for (int64_t m : {int64_t{1}, int64_t{5}}) {
      std::vector<float> x(static_cast<size_t>(m * k)), want(static_cast<size_t>(m * n));
      for (auto& v : x) v = u(rng);
      std::vector<float> got(want.size(), std::numeric_limits<float>::quiet_NaN());
      kernel.run(&rt, x.data(), w.data(), bias.data(), got.data(), m);
      kernels::linear_quant_reference({x.data(), w.data(), op.w_dtype, bias.data(), want.data(), m, n, k});
      for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < n; ++j) {
          double abs_sum = std::fabs(bias[static_cast<size_t>(j)]), s1 = 0, s2 = 0;
          for (int64_t e = 0; e < k; ++e) {
            const double wv = deq[static_cast<size_t>(j * k + e)];
            abs_sum += std::fabs(wv * x[static_cast<size_t>(i * k + e)]);
            float amax = 0;
            for (int64_t t = e / 32 * 32; t < e / 32 * 32 + 32; ++t) amax = std::max(amax, std::fabs(x[static_cast<size_t>(i * k + t)]));
            const double step = amax / 127.0;
            s1 += std::fabs(wv) * step;
            s2 += wv * wv * step * step;
          }
          const double tol = 4.0 * std::numeric_limits<float>::epsilon() * std::sqrt(double(k)) * abs_sum +
                             (q8 ? kernels::q8_activation_error_bound(s1, s2) : 0.0);
          const float g = got[static_cast<size_t>(i * n + j)], e = want[static_cast<size_t>(i * n + j)];
          ASSERT_TRUE(std::isfinite(g)) << point.dump() << " " << dtype_name(op.w_dtype) << " m=" << m;
          ASSERT_LE(std::fabs(g - e), tol) << point.dump() << " " << dtype_name(op.w_dtype) << " m=" << m << " y[" << i
                                           << ", " << j << "] = " << g << ", reference " << e;
        }
    }
  }
  std::filesystem::remove_all(dir);
}

TEST(LinearQuantGenerated, SpaceRefusesWhatItCannotRun) {
  const auto cpu = hw::probe_cpu(false);
  const kernels::LinearQuantGenerator gen;
  EXPECT_FALSE(gen.applies(op_of(DType::BF16, 1, 1, 8, 64), cpu));
  EXPECT_FALSE(gen.applies(op_of(DType::Q4_K, 1, 1, 8, 256), cpu));  // k-quants: the default path
  EXPECT_FALSE(gen.applies(op_of(DType::Q4_1, 1, 1, 8, 48), cpu));   // rows must be whole blocks
  const auto op = op_of(DType::Q4_1, 1, 1, 64, 64);
  EXPECT_FALSE(gen.valid(op, {{"isa", "scalar"}, {"act", "q8"}, {"n_tile", 1}, {"m_tile", 1}, {"rows_per_task", 8},
                              {"threads", "all"}}));
  EXPECT_FALSE(gen.valid(op, {{"isa", "scalar"}, {"act", "f32"}, {"n_tile", 1}, {"m_tile", 2}, {"rows_per_task", 8},
                              {"threads", "all"}}));  // m_tile above m
  EXPECT_THROW(gen.emit(op, {{"isa", "scalar"}, {"act", "q8"}, {"n_tile", 1}, {"m_tile", 1}, {"rows_per_task", 8},
                             {"threads", "all"}}),
               Error);
}

TEST(LinearQuantGenerated, TheTunersCheckAcceptsTheDefaultAndBothActivationModes) {
  const auto cpu = hw::probe_cpu(false);
  if (!cpu.isa.avx2 || !cpu.isa.fma) GTEST_SKIP() << "no AVX2+FMA: the q8 kernels need 256-bit integer dots";
  const kernels::LinearQuantGenerator gen;
  const auto dir = std::filesystem::temp_directory_path() / ("synaptix_linear_quant_tune_" + std::to_string(::getpid()));
  backend::ModuleBuilder builder(dir.string());
  ThreadPool pool(2);
  const auto op = op_of(DType::Q4_1, 1, 4, 72, 576);
  EXPECT_EQ(tune::verify_impl(op, "", pool, 1), "");  // linear_default -> linear_quant_default
  std::vector<backend::ModuleSource> srcs;
  for (const char* act : {"f32", "q8"})
    srcs.push_back({gen.emit(op, {{"isa", "avx2"}, {"act", act}, {"n_tile", 2}, {"m_tile", 2}, {"rows_per_task", 8},
                                  {"threads", "all"}}).code, {}});
  const auto built = builder.build_all(srcs, 2);
  for (size_t i = 0; i < built.size(); ++i) {
    ASSERT_TRUE(built[i].ok) << built[i].error;
    EXPECT_EQ(tune::verify_impl(op, built[i].path, pool, 2 + i), "") << i;
  }
  // A Q4_1 kernel run on Q4_0 blocks of the same shape reads the wrong layout: the check must say so.
  auto wrong = op;
  wrong.w_dtype = DType::Q8_0;
  EXPECT_NE(tune::verify_impl(wrong, built[0].path, pool, 3), "");
  std::filesystem::remove_all(dir);
}
