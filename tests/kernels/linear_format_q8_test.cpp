// The generated linear_format_q8 kernels (kernels/linear/cpu/linear_format_q8.h: int8-pc and int4-g32/64/128
// weights, with and without zero points, times x rounded to 8 bits per 32 values) against
// linear_quant_reference (the format's dequantization reference, then f32 linear) on random weights rounded to
// nearest, and their exact form (act=f32, f32 rounding only): every isa the CPU has, at m = 1 and m = 5 with bias, n not a multiple of the tiles, k several
// groups. They must agree within f32 rounding plus q8_activation_error_bound (the widened bound of the "q8"
// activations they declare), and the exact bound alone must fail somewhere (the activations really are
// rounded, so the tuner must gate them). The tuner's own check (verify_impl) accepts them and refuses a
// kernel run on another format's bytes.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <random>
#include <vector>

#include "synaptix/backend/module_builder.h"
#include "synaptix/backend/pool_runtime.h"
#include "synaptix/core/error.h"
#include "synaptix/core/thread_pool.h"
#include "synaptix/hw/cpu_profile.h"
#include "synaptix/kernels/cpu_generator.h"
#include "synaptix/kernels/linear/cpu/linear_format_q8.h"
#include "synaptix/kernels/linear/cpu/linear_quant.h"
#include "synaptix/kernels/linear/quant_reference.h"
#include "synaptix/quant/weight_quantize.h"
#include "synaptix/tune/linear_kernel.h"
#include "synaptix/tune/measurer.h"

using namespace synaptix;

namespace {

graph::Op op_of(DType w, int64_t m, int64_t n, int64_t k) {
  graph::Op op;
  op.name = "test";
  op.kind = graph::OpKind::Linear;
  op.m_lo = 1, op.m = m, op.n = n, op.k = k;
  op.w_dtype = w;
  op.bias = true;
  return op;
}

const DType kFormats[] = {DType::W8_PC,   DType::W4_G32,  DType::W4_G64,  DType::W4_G128,
                          DType::W4A_G32, DType::W4A_G64, DType::W4A_G128};

}  // namespace

TEST(LinearFormatQ8, EveryFormatAndIsaMatchesTheReferenceWithinTheQ8Bound) {
  const auto cpu = hw::probe_cpu(false);
  const kernels::LinearFormatQ8Generator gen;
  if (!gen.applies(op_of(DType::W8_PC, 5, 8, 256), cpu)) GTEST_SKIP() << "no AVX2+FMA: no 256-bit integer dots";
  EXPECT_EQ(&kernels::cpu_generator("linear_format_q8"), &kernels::cpu_generator(gen.name()));  // registered
  const auto dir = std::filesystem::temp_directory_path() / ("synaptix_format_q8_" + std::to_string(::getpid()));
  backend::ModuleBuilder builder(dir.string());
  ThreadPool pool(2);
  const synaptix_runtime rt = backend::pool_runtime(pool);
  std::mt19937 rng(7);
  const int64_t n = 37;

  struct Case { graph::Op op; nlohmann::json point; };
  std::vector<Case> cases;
  for (DType t : kFormats) {
    // int8-pc: 9 blocks of x, so the 512-bit form has a 256-bit tail; int4: 2 groups of 128 and more.
    const auto op = op_of(t, 5, n, t == DType::W8_PC ? 288 : 256);
    ASSERT_TRUE(gen.applies(op, cpu)) << dtype_name(t);
    const auto space = gen.space(op, cpu);
    for (const auto& isa : space.front().values)
      for (const char* act : {"q8", "f32"}) {
        // int4-g64 (both kinds) in two tilings; the others in one.
        const bool both = t == DType::W4_G64 || t == DType::W4A_G64;
        for (auto [nt, mt] : both ? std::vector<std::pair<int, int>>{{1, 1}, {4, 2}} : std::vector<std::pair<int, int>>{{2, 2}}) {
          for (int width : {256, 512}) {
            const nlohmann::json p = {{"isa", isa}, {"act", act}, {"width", width}, {"n_tile", nt}, {"m_tile", mt},
                                      {"rows_per_task", 8}, {"threads", "all"}};
            if (!gen.valid(op, p)) continue;  // the exact form is one isa's; 512 bits VNNI's, groups of 64+
            EXPECT_EQ(gen.activations(p), act);
            cases.push_back({op, p});
          }
        }
      }
  }
  ASSERT_GE(cases.size(), 2 * std::size(kFormats));  // q8 and exact for every format at least
  const auto wide = std::count_if(cases.begin(), cases.end(), [](const Case& c) { return c.point["width"] == 512; });
  if (cpu.isa.avx512_vnni && cpu.isa.avx512vl && cpu.isa.avx512bw) {
    EXPECT_EQ(wide, 7);  // q8 on VNNI: int8-pc and int4-g128 (both kinds) in one tiling, int4-g64 (both) in two
  }
  std::vector<backend::ModuleSource> srcs;
  for (const auto& c : cases) srcs.push_back({gen.emit(c.op, c.point).code, {}});
  const auto built = builder.build_all(srcs, 2);

  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (size_t ci = 0; ci < cases.size(); ++ci) {
    const auto& [op, point] = cases[ci];
    const int64_t k = op.k;
    const std::string what = point.dump() + " " + std::string(dtype_name(op.w_dtype));
    ASSERT_TRUE(built[ci].ok) << what << "\n" << built[ci].error;
    const tune::LinearKernel kernel(built[ci].path);
    const quant::WeightFormat& f = *quant::weight_format(op.w_dtype);
    std::vector<float> wf(static_cast<size_t>(n * k)), deq(wf.size()), bias(static_cast<size_t>(n));
    for (auto& v : wf) v = u(rng);
    for (auto& b : bias) b = u(rng);
    std::vector<uint8_t> w(static_cast<size_t>(n * quant::weight_row_bytes(f, k)));
    quant::quantize_rows(f, wf.data(), n, k, w.data());
    quant::dequantize_rows(f, w.data(), n, k, deq.data());
    int beyond_exact = 0;
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
          const double exact = 4.0 * std::numeric_limits<float>::epsilon() * std::sqrt(double(k)) * abs_sum;
          const bool q8 = point["act"] == "q8";
          const double tol = exact + (q8 ? kernels::q8_activation_error_bound(s1, s2) : 0.0);
          const float g = got[static_cast<size_t>(i * n + j)], e = want[static_cast<size_t>(i * n + j)];
          ASSERT_TRUE(std::isfinite(g)) << what << " m=" << m;
          ASSERT_LE(std::fabs(g - e), tol) << what << " m=" << m << " y[" << i << ", " << j << "] = " << g
                                           << ", reference " << e;
          beyond_exact += std::fabs(g - e) > exact;
        }
    }
    if (point["act"] == "q8") {
      EXPECT_GT(beyond_exact, 0) << what << ": every output within f32 rounding of the reference; the activations "
                                  "were not rounded, or the exact bound is too loose to tell";
    }
  }
  std::filesystem::remove_all(dir);
}

TEST(LinearFormatQ8, SpaceRefusesWhatItCannotRun) {
  const auto cpu = hw::probe_cpu(false);
  const kernels::LinearFormatQ8Generator gen;
  EXPECT_FALSE(gen.applies(op_of(DType::BF16, 1, 8, 64), cpu));
  EXPECT_FALSE(gen.applies(op_of(DType::Q4_0, 1, 8, 64), cpu));     // GGUF blocks: linear_quant's
  EXPECT_FALSE(gen.applies(op_of(DType::FP8_PC, 1, 8, 64), cpu));   // not an integer code
  EXPECT_FALSE(gen.applies(op_of(DType::MXFP4, 1, 8, 64), cpu));
  EXPECT_FALSE(gen.applies(op_of(DType::W4_G128, 1, 8, 192), cpu));  // rows not whole groups
  EXPECT_FALSE(gen.applies(op_of(DType::W8_PC, 1, 8, 48), cpu));     // rows not whole blocks of x
  const auto op = op_of(DType::W4_G32, 1, 64, 64);
  EXPECT_FALSE(gen.valid(op, {{"isa", "scalar"}, {"act", "q8"}, {"n_tile", 1}, {"m_tile", 1}, {"rows_per_task", 8}, {"threads", "all"}}));
  EXPECT_FALSE(gen.valid(op, {{"isa", "avx2"}, {"act", "q8"}, {"n_tile", 1}, {"m_tile", 2}, {"rows_per_task", 8}, {"threads", "all"}}));
  EXPECT_FALSE(gen.valid(op, {{"isa", "avx512_vnni"}, {"act", "f32"}, {"n_tile", 1}, {"m_tile", 1}, {"rows_per_task", 8}, {"threads", "all"}}));
  EXPECT_THROW(gen.emit(op, {{"isa", "avx2"}, {"act", "q8"}, {"n_tile", 1}, {"m_tile", 2}, {"rows_per_task", 8}, {"threads", "all"}}),
               Error);
}

TEST(LinearFormatQ8, TheTunersCheckAcceptsThemAndRefusesAnotherFormatsBytes) {
  const auto cpu = hw::probe_cpu(false);
  const kernels::LinearFormatQ8Generator gen;
  const auto op = op_of(DType::W4A_G64, 4, 72, 576);
  if (!gen.applies(op, cpu)) GTEST_SKIP() << "no AVX2+FMA: no 256-bit integer dots";
  const auto dir = std::filesystem::temp_directory_path() / ("synaptix_format_q8_tune_" + std::to_string(::getpid()));
  backend::ModuleBuilder builder(dir.string());
  ThreadPool pool(2);
  EXPECT_EQ(tune::verify_impl(op, "", pool, 1), "");  // linear_default on the weight format
  auto sym = op;
  sym.w_dtype = DType::W4_G64;
  const nlohmann::json p = {{"isa", gen.space(op, cpu).front().values.front()}, {"act", "q8"}, {"n_tile", 2}, {"m_tile", 2},
                            {"rows_per_task", 8}, {"threads", "all"}};
  const auto built = builder.build_all({{gen.emit(op, p).code, {}}, {gen.emit(sym, p).code, {}}}, 2);
  ASSERT_TRUE(built[0].ok) << built[0].error;
  ASSERT_TRUE(built[1].ok) << built[1].error;
  EXPECT_EQ(tune::verify_impl(op, built[0].path, pool, 2), "");
  EXPECT_EQ(tune::verify_impl(sym, built[1].path, pool, 3), "");
  // The symmetric kernel run on asymmetric rows (longer: it reads within them) takes zero points for codes.
  EXPECT_NE(tune::verify_impl(op, built[1].path, pool, 4), "");
  std::filesystem::remove_all(dir);
}
