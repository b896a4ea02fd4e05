// A CPU without AVX-512, made here by masking (SYNAPTIX_CPU_MASK): the tuner offers and compiles no AVX-512
// candidate, the kernel it keeps needs only features that CPU has, and an AVX-512 candidate does not even
// compile for it. Unmasked, the same op does get AVX-512 candidates.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "synaptix/backend/module_builder.h"
#include "synaptix/core/error.h"
#include "synaptix/hw/cpu_isa_mask.h"
#include "synaptix/kernels/cpu_generator.h"
#include "synaptix/kernels/linear/cpu/linear_isa.h"
#include "synaptix/tune/search_space.h"
#include "synaptix/tune/tuner.h"
#include "tune_test_util.h"

namespace synaptix::tune {

namespace {

// Sets SYNAPTIX_CPU_MASK for the scope of one test.
struct MaskScope {
  explicit MaskScope(const char* mask) { ::setenv("SYNAPTIX_CPU_MASK", mask, 1); }
  ~MaskScope() { ::unsetenv("SYNAPTIX_CPU_MASK"); }
};

bool uses_avx512(const nlohmann::json& params) {
  return params.contains("isa") && params["isa"].get<std::string>().rfind("avx512", 0) == 0;
}

}  // namespace

TEST(IsaMask, TheTunerChoosesOtherKernelsOnACpuWithoutAvx512) {
  const hw::CpuProfile plain = hw::probe_cpu(false);
  if (!plain.isa.avx512f) GTEST_SKIP() << "this CPU has no AVX-512 to mask";
  const auto op = testing::linear_op(1, 1, 64, 128);
  const auto& gens = kernels::cpu_generators();

  int plain_avx512 = 0;
  for (const auto& p : build_space(op, plain, gens).points) plain_avx512 += uses_avx512(p.params);
  EXPECT_GT(plain_avx512, 0) << "unmasked, AVX-512 candidates are offered";

  MaskScope mask("avx512f");
  const hw::CpuProfile cpu = hw::probe_cpu(false);
  ASSERT_FALSE(cpu.isa.avx512f);
  const auto space = build_space(op, cpu, gens);
  ASSERT_FALSE(space.points.empty());
  for (const auto& p : space.points) EXPECT_FALSE(uses_avx512(p.params)) << p.key();

  const std::string dir = testing::scratch_dir("isa_mask");
  std::filesystem::remove(dir + "/t.db");
  TuningDb db(dir + "/t.db");
  backend::ModuleBuilder builder(dir);
  EXPECT_NE(std::find(builder.flags().begin(), builder.flags().end(), "-mno-avx512f"), builder.flags().end());

  TuneOptions o;
  o.budget_trials = 6;
  o.batch = 3;
  o.finalists = 2;
  o.measure.max_seconds = 0.03;
  o.measure.min_samples = 5;
  o.limits.threads = 1;
  o.limits.time_limit_s = 60;
  const auto r = Tuner(db, builder, cpu, o).tune({op});
  ASSERT_EQ(r.ops.size(), 1u);
  const auto trials = db.trials(op.signature(), cpu.fingerprint_hash());
  ASSERT_EQ(trials.size(), 6u);
  int ok = 0;
  for (const auto& t : trials) {
    EXPECT_FALSE(uses_avx512(t.params)) << t.generator << " " << t.params.dump();
    ok += t.status == TrialStatus::Ok;
  }
  EXPECT_GT(ok, 0) << "the masked CPU's candidates compile and run";
  if (r.ops[0].promoted && r.ops[0].params.contains("isa")) {
    for (const auto& f : kernels::isa_features(r.ops[0].params["isa"].get<std::string>(), op.w_dtype)) {
      EXPECT_EQ(f.rfind("avx512", 0), std::string::npos) << "the kept kernel needs " << f;
    }
  }

  // The masked builder cannot build an AVX-512 candidate: the mask reaches the compiler, not only the search.
  const auto& tiled = kernels::cpu_generator("linear_tiled");
  const nlohmann::json p512 = {{"isa", "avx512"}, {"m_tile", 1}, {"n_tile", 4}, {"k_unroll", 2}, {"rows_per_task", 8},
                               {"threads", "all"}, {"prefetch", 0}, {"packed", false}, {"m_block", 0}};
  ASSERT_TRUE(tiled.valid(op, p512));
  const backend::ModuleSource src{tiled.emit(op, p512).code, {}};
  EXPECT_FALSE(builder.build(src).ok);
  ::unsetenv("SYNAPTIX_CPU_MASK");
  backend::ModuleBuilder plain_builder(dir);
  const auto built = plain_builder.build(src);
  EXPECT_TRUE(built.ok) << built.error;
}

TEST(IsaMask, KernelIsaFeatures) {
  EXPECT_EQ(kernels::isa_features("avx512", DType::BF16), (std::vector<std::string>{"avx512f"}));
  EXPECT_EQ(kernels::isa_features("avx2", DType::F16), (std::vector<std::string>{"avx2", "fma", "f16c"}));
  EXPECT_TRUE(kernels::isa_features("scalar", DType::F16).empty());
  EXPECT_THROW(kernels::isa_features("sve", DType::BF16), Error);
}

}  // namespace synaptix::tune
