#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <cmath>
#include <random>

#include "synaptix/core/error.h"
#include "synaptix/backend/module_builder.h"
#include "synaptix/core/hash.h"
#include "synaptix/core/thread_pool.h"
#include "synaptix/hw/cpu_isa_mask.h"
#include "synaptix/kernels/cpu_generator.h"
#include "synaptix/kernels/linear/reference.h"
#include "synaptix/registry/recipe.h"
#include "synaptix/registry/recipe_kernels.h"

namespace synaptix::registry {
namespace {

std::string scratch() {
  auto d = std::filesystem::temp_directory_path() / ("synaptix_registry_" + std::to_string(::getpid()));
  std::filesystem::create_directories(d);
  return d.string();
}

graph::Op op_of(int64_t m_lo, int64_t m, int64_t n, int64_t k) {
  graph::Op op;
  op.kind = graph::OpKind::Linear;
  op.m_lo = m_lo;
  op.m = m;
  op.n = n;
  op.k = k;
  op.w_dtype = DType::BF16;
  return op;
}

RecipeKernel kernel_for(const graph::Op& op, const std::string& gen, const nlohmann::json& p) {
  RecipeKernel k;
  k.op = op.kind == graph::OpKind::MoeExpert ? "linear" : graph::op_kind_name(op.kind);
  k.kv_heads = op.kv_heads;
  k.ctx = op.ctx;
  k.signature = op.signature();
  k.m_lo = op.m_lo;
  k.m_hi = op.m;
  k.n = op.n;
  k.k = op.k;
  k.w_dtype = op.w_dtype;
  k.generator = gen;
  k.params = p;
  auto src = kernels::cpu_generator(gen).emit(op, p);
  k.source = src.code;
  k.libs = src.libs;
  k.source_sha256 = sha256_hex(k.source);
  k.baseline_us = 10;
  k.tuned_us = 5;
  return k;
}

Recipe sample(const hw::CpuProfile& cpu) {
  Recipe r;
  r.created = "2026-01-01T00:00:00Z";
  r.model = {{"model_type", "llama"}};
  r.target_fingerprint = cpu.fingerprint();
  r.target_hash = cpu.fingerprint_hash();
  nlohmann::json packed = {{"isa", "scalar"}, {"m_tile", 1}, {"n_tile", 4}, {"k_unroll", 1}, {"rows_per_task", 8},
                           {"threads", "all"}, {"prefetch", 0}, {"packed", true}, {"m_block", 0}};
  r.kernels.push_back(kernel_for(op_of(1, 1, 40, 24), "linear_tiled", packed));
  r.kernels.push_back(kernel_for(op_of(2, 4, 40, 24), "linear_openblas", {{"gemv_at_m1", false}}));
  r.trace.push_back({{"event", "promote"}});
  return r;
}

graph::Op attention_op(int64_t ctx) {
  graph::Op op = op_of(1, 16, 8, 16);
  op.kind = graph::OpKind::Attention;
  op.w_dtype = DType::F32;
  op.kv_heads = 2;
  op.ctx = ctx;
  return op;
}

// The sample plus the fused hooks: add_rmsnorm, and attention tuned at two contexts.
Recipe sample_with_fused(const hw::CpuProfile& cpu) {
  Recipe r = sample(cpu);
  graph::Op norm = op_of(1, 64, 48, 0);
  norm.kind = graph::OpKind::AddRmsNorm;
  norm.w_dtype = DType::F32;
  r.kernels.push_back(kernel_for(norm, "add_rmsnorm_vec",
                                 {{"isa", "scalar"}, {"unroll", 1}, {"rows_per_task", 1}, {"threads", "all"}}));
  const nlohmann::json ap = {{"isa", "scalar"}, {"split", "token"}, {"threads", "all"}, {"prefetch", false}};
  r.kernels.push_back(kernel_for(attention_op(128), "attention_paged", ap));
  r.kernels.push_back(kernel_for(attention_op(2048), "attention_paged", ap));
  return r;
}

}  // namespace

TEST(Recipe, RoundTripThroughAFile) {
  const auto cpu = hw::probe_cpu(false);
  Recipe r = sample(cpu);
  const std::string path = scratch() + "/r.json";
  save_recipe(r, path);
  Recipe back = load_recipe(path);
  EXPECT_EQ(to_json(back), to_json(r));
  EXPECT_EQ(back.kernels[1].libs, std::vector<std::string>{"-lopenblas"});
  EXPECT_NO_THROW(check_target(back, cpu, path));
}

TEST(Recipe, FusedHooksRoundTripAndBadOnesAreRejected) {
  const auto cpu = hw::probe_cpu(false);
  Recipe r = sample_with_fused(cpu);
  const std::string path = scratch() + "/fused.json";
  save_recipe(r, path);
  EXPECT_EQ(to_json(load_recipe(path)), to_json(r));
  auto j = to_json(r);
  j["kernels"][2]["op"] = "softmax";
  try {
    recipe_from_json(j, "r.json");
    FAIL() << "accepted a kernel for a hook that does not exist";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'softmax'"), std::string::npos) << e.what();
  }
  auto j2 = to_json(r);
  j2["kernels"][3]["kv_heads"] = 3;  // 8 heads are not a multiple of 3
  EXPECT_THROW(recipe_from_json(j2, "r.json"), Error);
}

TEST(RecipeKernels, FusedHooksAreServedByShapeBucketAndContext) {
  const auto cpu = hw::probe_cpu(false);
  Recipe r = sample_with_fused(cpu);
  backend::ModuleBuilder builder(scratch());
  ThreadPool pool(2);
  auto set = make_kernel_set(r, builder, pool);
  EXPECT_NE(set->add_rmsnorm(3, 48), nullptr);
  EXPECT_EQ(set->add_rmsnorm(3, 49), nullptr);
  EXPECT_EQ(set->gate_up_silu(1, 40, 24, DType::BF16), nullptr);  // none in the recipe: the default path
  EXPECT_EQ(set->attention(1, 8, 4, 16, 100), nullptr);            // kv_heads differ
  const auto* short_ctx = set->attention(4, 8, 2, 16, 100);
  const auto* long_ctx = set->attention(4, 8, 2, 16, 3000);
  ASSERT_NE(short_ctx, nullptr);
  ASSERT_NE(long_ctx, nullptr);
  EXPECT_NE(short_ctx, long_ctx) << "the kernel tuned at the closest context serves";
  EXPECT_EQ(set->attention(40, 8, 2, 16, 3000), long_ctx);  // past the largest bucket: the largest
  // The served add_rmsnorm computes residual += x, y = rmsnorm(residual) * gamma.
  std::vector<float> res{1, 2}, x{0.5f, -1}, gamma{1, 1};
  res.resize(48, 0.0f), x.resize(48, 0.0f), gamma.resize(48, 1.0f);
  std::vector<float> y(48);
  (*set->add_rmsnorm(1, 48))(res.data(), x.data(), gamma.data(), y.data(), 1, 0.0f);
  EXPECT_FLOAT_EQ(res[0], 1.5f);
  EXPECT_FLOAT_EQ(res[1], 1.0f);
  const float inv = 1.0f / std::sqrt((1.5f * 1.5f + 1.0f) / 48.0f);
  EXPECT_NEAR(y[0], 1.5f * inv, 1e-5);
  EXPECT_NEAR(y[1], 1.0f * inv, 1e-5);
}

TEST(Recipe, AnotherTargetsRecipeIsRefusedClearly) {
  const auto cpu = hw::probe_cpu(false);
  Recipe r = sample(cpu);
  r.target_fingerprint = "cpu|aarch64|Neoverse-V2|neon|72c|L1d:64K|L2:1M|L3:114M|g++ 13";
  r.target_hash = "0123456789abcdef";
  try {
    check_target(r, cpu, "recipe x.json");
    FAIL() << "accepted another target's recipe";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("another target"), std::string::npos) << m;
    EXPECT_NE(m.find("Neoverse-V2"), std::string::npos) << m;
    EXPECT_NE(m.find(cpu.fingerprint_hash()), std::string::npos) << m;
  }
}

TEST(Recipe, MalformedRecipesAreRejectedWithTheKey) {
  const auto cpu = hw::probe_cpu(false);
  auto j = to_json(sample(cpu));
  j["kernels"][0]["source"] = "tampered";
  EXPECT_THROW(recipe_from_json(j, "r.json"), Error);
  auto j2 = to_json(sample(cpu));
  j2["kernels"][0].erase("n");
  try {
    recipe_from_json(j2, "r.json");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'n'"), std::string::npos) << e.what();
  }
  auto j3 = to_json(sample(cpu));
  j3["format"] = "other/9";
  EXPECT_THROW(recipe_from_json(j3, "r.json"), Error);
}

TEST(RecipeKernels, KernelSetServesBucketsAndMatchesTheReference) {
  const auto cpu = hw::probe_cpu(false);
  Recipe r = sample(cpu);
  backend::ModuleBuilder builder(scratch());
  ThreadPool pool(2);
  auto set = make_kernel_set(r, builder, pool);
  EXPECT_EQ(set->linear(1, 40, 24, DType::F32), nullptr);  // dtype differs
  EXPECT_EQ(set->linear(1, 41, 24, DType::BF16), nullptr);  // shape differs
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> d(-1, 1);
  std::vector<uint16_t> w(40 * 24);
  for (auto& v : w) v = f32_to_bf16(d(rng));
  for (int64_t m : {1, 3, 9}) {  // 9 is past the last bucket: served by the largest
    const kernels::LinearFn* fn = set->linear(m, 40, 24, DType::BF16);
    ASSERT_NE(fn, nullptr) << m;
    std::vector<float> x(static_cast<size_t>(m * 24)), got(static_cast<size_t>(m * 40)), want(got.size());
    for (auto& v : x) v = d(rng);
    for (int rep = 0; rep < 2; ++rep) {  // the second call uses the cached packed weights
      (*fn)(kernels::LinearArgs{x.data(), w.data(), DType::BF16, nullptr, got.data(), m, 40, 24});
      kernels::linear_reference(kernels::LinearArgs{x.data(), w.data(), DType::BF16, nullptr, want.data(), m, 40, 24});
      for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-4) << "m=" << m << " i=" << i;
    }
  }
}

}  // namespace synaptix::registry

namespace synaptix::registry {
namespace {

// A bucket where the default won (the recipe's untuned list) is served by the default, not by a smaller
// bucket's kernel standing in: the stand-in is for m beyond every bucket the tuner tried.
TEST(RecipeKernels, BucketsWhereTheDefaultWonAreNotTakenOverBySmallerBuckets) {
  const auto cpu = hw::probe_cpu(false);
  Recipe r = sample(cpu);
  backend::ModuleBuilder builder(scratch());
  ThreadPool pool(2);
  const int64_t largest = std::max_element(r.kernels.begin(), r.kernels.end(), [](const auto& a, const auto& b) {
                            return a.m_hi < b.m_hi;
                          })->m_hi;
  {
    auto set = make_kernel_set(r, builder, pool);
    EXPECT_NE(set->linear(largest + 10, 40, 24, DType::BF16), nullptr);  // beyond every bucket: the largest
  }
  const std::string lo = std::to_string(largest + 1), hi = std::to_string(largest + 64);
  r.untuned.push_back({{"signature", "linear m=" + lo + ".." + hi + " n=40 k=24 w=bf16"}, {"baseline_us", 1.0}});
  r.untuned.push_back({{"signature", "not_a_hook m=1 n=2"}});  // ignored
  auto set = make_kernel_set(r, builder, pool);
  EXPECT_EQ(set->linear(largest + 10, 40, 24, DType::BF16), nullptr);  // the default won there
  EXPECT_EQ(set->linear(largest + 100, 40, 24, DType::BF16), nullptr);  // beyond it: still the default's bucket
  EXPECT_NE(set->linear(1, 40, 24, DType::BF16), nullptr);  // the tuned buckets keep their kernels
  EXPECT_EQ(set->linear(largest + 10, 41, 24, DType::BF16), nullptr);  // another shape is untouched
}

}  // namespace
}  // namespace synaptix::registry

namespace synaptix::registry {
namespace {

std::string error_loading(const std::string& path) {
  try {
    load_recipe(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

// A recipe file cut short, or broken by a hand edit, is refused naming the file, the line and the column.
TEST(Recipe, UnreadableFilesNameTheFileAndTheLine) {
  const auto cpu = hw::probe_cpu(false);
  const std::string path = scratch() + "/whole.json";
  save_recipe(sample(cpu), path);
  std::ifstream in(path);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_GT(std::count(text.begin(), text.end(), '\n'), 20);

  const std::string cut = scratch() + "/cut.json";
  std::ofstream(cut) << text.substr(0, text.size() / 2);
  const std::string m = error_loading(cut);
  EXPECT_NE(m.find("recipe " + cut), std::string::npos) << m;
  EXPECT_NE(m.find("not valid JSON: line "), std::string::npos) << m;
  EXPECT_NE(m.find("truncated"), std::string::npos) << m;

  // A stray character at the start of line 3.
  size_t third = text.find('\n', text.find('\n') + 1) + 1;
  std::string edited = text;
  edited.insert(third, "@");
  const std::string bad = scratch() + "/edited.json";
  std::ofstream(bad) << edited;
  const std::string e = error_loading(bad);
  EXPECT_NE(e.find("line 3, column 1"), std::string::npos) << e;
  EXPECT_EQ(e.find("truncated"), std::string::npos) << e;

  const std::string missing = scratch() + "/no-such-recipe.json";
  EXPECT_NE(error_loading(missing).find(missing), std::string::npos) << error_loading(missing);

  // Valid JSON syntax the parser still refuses (a number beyond double's range), and a field of the wrong
  // type: both name the file, neither escapes as a bare library exception.
  const std::string huge = scratch() + "/huge.json";
  std::ofstream(huge) << "{\"format\": 1e999}";
  const std::string h = error_loading(huge);
  EXPECT_NE(h.find("recipe " + huge + " is not valid JSON"), std::string::npos) << h;
  nlohmann::json typed = nlohmann::json::parse(text);
  ASSERT_TRUE(typed.contains("target"));
  typed["target"] = 5;
  const std::string wrong = scratch() + "/wrong-type.json";
  std::ofstream(wrong) << typed.dump();
  const std::string w = error_loading(wrong);  // an escaping nlohmann exception would fail the test here
  EXPECT_NE(w.find("recipe " + wrong), std::string::npos) << w;
}

// A kernel whose code needs a CPU feature this CPU lacks would stop the process mid-step: the recipe is
// refused first, naming the kernel and the feature.
TEST(Recipe, KernelNeedingAFeatureThisCpuLacksIsRefused) {
  const auto cpu = hw::probe_cpu(false);
  Recipe r = sample(cpu);
  EXPECT_NO_THROW(check_kernel_isa(r, cpu.isa, "recipe r.json"));
  // This CPU as SYNAPTIX_CPU_MASK=avx shows it: without AVX, nor AVX2 that needs it.
  hw::CpuIsa masked = cpu.isa;
  hw::mask_isa(masked, "avx");
  r.kernels[1].isa_features = {"avx2"};
  try {
    check_kernel_isa(r, masked, "recipe r.json");
    FAIL() << "a kernel needing avx2 was accepted on " << masked.to_string();
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("recipe r.json: kernels[1]"), std::string::npos) << m;
    EXPECT_NE(m.find(r.kernels[1].signature), std::string::npos) << m;
    EXPECT_NE(m.find("needs the CPU feature 'avx2'"), std::string::npos) << m;
  }
  if (cpu.isa.avx2) {
    EXPECT_NO_THROW(check_kernel_isa(r, cpu.isa, "recipe r.json"));
  }
  r.kernels[1].isa_features = {"avx1024"};
  try {
    check_kernel_isa(r, cpu.isa, "recipe r.json");
    FAIL() << "an unknown feature was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'avx1024', which is not one of"), std::string::npos) << e.what();
  }
}

}  // namespace synaptix::registry
