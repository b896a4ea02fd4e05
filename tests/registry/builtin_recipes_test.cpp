// The checked-in recipes (registry/builtin_recipes.h): the H100 one parses and holds what the H100 run it
// cites measured (compared with that run's own result file, bench/gpu/results), its plan is one the CUDA
// executor accepts, and it is the default only for an H100 of that kind (any driver) running the
// Llama-3.1-8B shape. The H200's tuned plan is checked in the same way against its run's file; any other model
// on either device kind gets the kind's defaults (recipes/*-defaults.json: the rules the executor used to
// carry in code, as shape buckets expanded for the model); an unknown device kind gets none.
#include <gtest/gtest.h>

#include <fstream>

#include "synaptix/model/spec.h"
#include "synaptix/model/synth.h"
#include "synaptix/registry/builtin_recipes.h"
#include "synaptix/registry/recipe.h"
#if SYNAPTIX_HAVE_CUDA
#include "synaptix/registry/cuda/cuda_recipe_setup.h"
#endif

namespace synaptix::registry {
namespace {

const std::string kRecipes = std::string(SYNAPTIX_SOURCE_DIR) + "/recipes";
const std::string kH100 = "cuda:NVIDIA H100 80GB HBM3:sm_90a:132sm:drv13000";
const std::string kH200 = "cuda:NVIDIA H200:sm_90a:132sm:drv13000";

model::Spec preset(const std::string& name) { return model::parse_spec(model::preset_config(name), name); }

nlohmann::json run_file(const std::string& rel) {
  std::ifstream f(std::string(SYNAPTIX_SOURCE_DIR) + "/" + rel);
  EXPECT_TRUE(f.good()) << rel;
  return nlohmann::json::parse(f);
}

}  // namespace

TEST(BuiltinRecipes, TheH100RecipeRecordsTheRunThatChoseIt) {
  const Recipe r = load_recipe(kRecipes + "/h100-sxm-llama-3.1-8b.json");
  EXPECT_EQ(r.target_kind, "cuda");
  EXPECT_EQ(r.target_fingerprint, kH100);
  EXPECT_EQ(r.target_hash, cuda_fingerprint_hash(kH100));
  ASSERT_TRUE(r.whole_step.has_value());
  EXPECT_FALSE(r.precision.has_value()) << "no quality-gate evidence: the accurate default stays";
  // The run it cites, by its own result file: the same device, ceilings and isolated winners.
  const std::string source = r.tuning.at("source").get<std::string>();
  const nlohmann::json run = run_file(source);
  EXPECT_EQ(run["device"]["fingerprint"], r.target_fingerprint);
  EXPECT_EQ(run["ceilings"], r.tuning["ceilings"]);
  int tensor_core_shapes = 0;
  for (const auto& s : run["tuning"]["shapes"]) {
    const tune::LinearShapeKey key{s["m"].get<int64_t>(), s["n"].get<int64_t>(), s["k"].get<int64_t>()};
    if (s["m"].get<int64_t>() > 8) {
      ++tensor_core_shapes;
      ASSERT_TRUE(r.whole_step->blaslt_algorithm.count(key)) << s.dump();
      EXPECT_EQ("algo" + std::to_string(r.whole_step->blaslt_algorithm.at(key)), s["best"].get<std::string>());
    } else {
      EXPECT_TRUE(r.whole_step->gemv.count(key)) << "every GEMV shape of the run has its schedule: " << s.dump();
    }
  }
  EXPECT_EQ(tensor_core_shapes, 14);
  // The tuned plan's decode figures are the run's "tuned" row.
  int tuned_rows = 0;
  for (const auto& p : run["runs"]) {
    if (p["plan"] != "tuned") continue;
    for (const auto& d : p["decode"]) {
      ++tuned_rows;
      EXPECT_NEAR(r.tuning["decode_by_plan"]["tuned"]["decode_tok_s"][std::to_string(d["batch"].get<int>())].get<double>(),
                  d["tok_s"].get<double>(), 0.06);
    }
  }
  EXPECT_EQ(tuned_rows, 4);
  // Every in-context timing the run made is in the trace.
  EXPECT_EQ(r.trace.size(), run["in_context_choice"].size());
}

TEST(BuiltinRecipes, DefaultOnlyForThatDeviceKindAndModelShape) {
  const model::Spec llama8b = preset("llama-3.1-8b");
  // Another driver version: the same hardware, so the recipe applies, rewritten to this device.
  const std::string newer = "cuda:NVIDIA H100 80GB HBM3:sm_90a:132sm:drv13010";
  const auto b = builtin_cuda_recipe(newer, llama8b, kRecipes);
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->recipe.target_fingerprint, newer);
  EXPECT_NO_THROW(check_cuda_target(b->recipe, newer, "builtin"));
  EXPECT_NE(b->note.find("h100-sxm-llama-3.1-8b.json"), std::string::npos) << b->note;
  EXPECT_NE(b->note.find("drv13000"), std::string::npos) << "the note names the machine it was measured on";
  // Another GPU (the H200 has its own), another SM count: not the H100's plan; no recipe for an unknown kind.
  const auto h200 = builtin_cuda_recipe(kH200, llama8b, kRecipes);
  ASSERT_TRUE(h200.has_value());
  EXPECT_NE(h200->path.find("h200-llama-3.1-8b.json"), std::string::npos) << h200->path;
  EXPECT_FALSE(builtin_cuda_recipe("cuda:NVIDIA H100 PCIe:sm_90a:114sm:drv13000", llama8b, kRecipes));
  // Another model shape on the H100: the device kind's defaults, not the 8B plan.
  for (const char* other : {"llama-3.2-1b", "qwen2.5-7b", "mixtral-8x7b"}) {
    const auto d = builtin_cuda_recipe(kH100, preset(other), kRecipes);
    ASSERT_TRUE(d.has_value()) << other;
    EXPECT_NE(d->path.find("h100-sxm-defaults.json"), std::string::npos) << other << ": " << d->path;
    EXPECT_TRUE(recipe_is_device_defaults(d->recipe));
    EXPECT_NE(d->note.find("defaults of this device kind"), std::string::npos) << d->note;
  }
  EXPECT_FALSE(builtin_cuda_recipe(kH100, llama8b, "/nonexistent/recipes"));
  EXPECT_EQ(cuda_device_kind(kH100), "cuda:NVIDIA H100 80GB HBM3:sm_90a:132sm");
  // Without a directory given: the repository's recipes/ (this test runs from the build directory).
  EXPECT_TRUE(builtin_cuda_recipe(kH100, llama8b).has_value()) << builtin_recipes_dir();
}

TEST(BuiltinRecipes, TheH200RecipeIsThePlanItsTuningRunWrote) {
  const Recipe r = load_recipe(kRecipes + "/h200-llama-3.1-8b.json");
  EXPECT_EQ(r.target_kind, "cuda");
  EXPECT_EQ(r.target_fingerprint, kH200);
  EXPECT_EQ(r.target_hash, cuda_fingerprint_hash(kH200));
  EXPECT_TRUE(recipe_fits_model(r, preset("llama-3.1-8b")));
  EXPECT_FALSE(r.precision.has_value()) << "tune --precision's choice was not gated: the accurate default stays";
  // The run's own recipe file: the same device and the same whole-step plan, entry for entry.
  const std::string source = r.tuning.at("source").get<std::string>();
  const Recipe run = load_recipe(std::string(SYNAPTIX_SOURCE_DIR) + "/" + source);
  EXPECT_EQ(run.target_fingerprint, r.target_fingerprint);
  ASSERT_TRUE(r.whole_step && run.whole_step);
  EXPECT_TRUE(*r.whole_step == *run.whole_step);
  EXPECT_EQ(r.whole_step->gemv.size(), 10u);
  EXPECT_EQ(r.trace.size(), run.trace.size());
  // Its timings say it beat the rules it replaces at batch 1 (tuned vs untuned in the same run).
  const auto& decode = r.tuning.at("decode");
  ASSERT_FALSE(decode.empty());
  EXPECT_EQ(decode[0]["batch"], 1);
  EXPECT_GT(decode[0]["tuned_tok_s"].get<double>(), decode[0]["untuned_tok_s"].get<double>());
}

TEST(BuiltinRecipes, DeviceDefaultsExpandTheirRulesForTheModel) {
  // The 1B shape (hidden 2048, MLP 8192): one-row products with k >= 4096 are the MLP's down projection only.
  const model::Spec s = preset("llama-3.2-1b");
  const auto d = builtin_cuda_recipe(kH200, s, kRecipes);
  ASSERT_TRUE(d.has_value());
  EXPECT_NE(d->path.find("h200-defaults.json"), std::string::npos) << d->path;
  ASSERT_TRUE(d->recipe.whole_step.has_value());
  const tune::WholeStepPlan& p = *d->recipe.whole_step;
  ASSERT_EQ(p.gemv_rules.size(), 1u);
  const tune::GemvSchedule rule{8, 8, 2, 2, 0, 0, 0};
  EXPECT_EQ(p.gemv.size(), 1u);
  EXPECT_EQ(p.gemv.at({1, s.hidden_size, s.intermediate_size}), rule);
  for (int64_t t = 1; t <= 8; ++t) {
    EXPECT_EQ(p.decode_attention.at(t), (tune::DecodeAttentionChoice{16, 4, false, true})) << t;
    EXPECT_TRUE(p.fuse_decode.at(t)) << t;
    EXPECT_FALSE(p.o_prefetch.at(t)) << t;
  }
  // The 8B shape on an H100 has its own recipe; a 7B qwen's every one-row product has k >= 3584: those of
  // k >= 4096 (its MLP down projection, 18944) take the rule.
  const model::Spec q = preset("qwen2.5-7b");
  const auto dq = builtin_cuda_recipe(kH100, q, kRecipes);
  ASSERT_TRUE(dq.has_value());
  EXPECT_EQ(dq->recipe.whole_step->gemv.size(), 1u);
  EXPECT_EQ(dq->recipe.whole_step->gemv.at({1, q.hidden_size, q.intermediate_size}), rule);
  // Both device kinds' defaults are one plan: the H200's are the H100's rules, measured there, not re-chosen.
  EXPECT_TRUE(load_recipe(kRecipes + "/h100-sxm-defaults.json").whole_step ==
              load_recipe(kRecipes + "/h200-defaults.json").whole_step);
}

#if SYNAPTIX_HAVE_CUDA
TEST(BuiltinRecipes, DeviceDefaultsAreTheRulesTheExecutorUsedToCarry) {
  // The defaults recipe reproduces the code's values, so a device of that kind runs what it ran before the
  // rules moved: every GEMV entry it adds is gemv_default_params' point, and the decode attention entry is
  // CudaKernelPlan's default.
  for (const char* name : {"llama-3.2-1b", "llama-3.2-3b", "qwen2.5-7b", "mistral-7b", "mixtral-8x7b"}) {
    const model::Spec s = preset(name);
    for (const std::string& fp : {kH100, kH200}) {
      const auto d = builtin_cuda_recipe(fp, s, kRecipes);
      ASSERT_TRUE(d.has_value()) << name;
      ASSERT_TRUE(recipe_is_device_defaults(d->recipe)) << name;
      const CudaSetup setup = cuda_setup(&d->recipe, d->path, fp, std::nullopt);
      EXPECT_FALSE(setup.plan.gemv.empty()) << name;
      for (const auto& [shape, g] : setup.plan.gemv) {
        const auto [m, n, k] = shape;
        EXPECT_EQ(g, kernels::cuda::gemv_default_params(static_cast<int>(m), n, k)) << name << " " << m << "x" << n << "x" << k;
      }
      for (int64_t t = 1; t <= 8; ++t) EXPECT_EQ(setup.plan.decode_attention.at(t), engine::CudaKernelPlan::DecodeAttention{});
      EXPECT_TRUE(setup.options.kv_f32) << setup.precision_note;
      EXPECT_EQ(setup.steps_per_launch, 8);
    }
  }
}

TEST(BuiltinRecipes, TheH200PlanIsWhatTheExecutorIsBuiltWith) {
  const auto b = builtin_cuda_recipe(kH200, preset("llama-3.1-8b"), kRecipes);
  ASSERT_TRUE(b.has_value());
  const CudaSetup s = cuda_setup(&b->recipe, b->path, kH200, std::nullopt);
  const Recipe file = load_recipe(kRecipes + "/h200-llama-3.1-8b.json");
  EXPECT_EQ(s.plan.gemv.size(), file.whole_step->gemv.size());
  for (const auto& [shape, g] : file.whole_step->gemv) EXPECT_EQ(s.plan.gemv.at(shape), to_gemv_params(g));
  EXPECT_EQ(s.plan.blaslt_algorithm, file.whole_step->blaslt_algorithm);
  EXPECT_EQ(s.plan.fuse_decode, file.whole_step->fuse_decode);
  EXPECT_EQ(s.plan.attention_split, file.whole_step->attention_split);
  EXPECT_TRUE(s.plan.decode_attention.at(1).cluster);
  EXPECT_TRUE(s.options.kv_f32) << "precision stays the accurate default: " << s.precision_note;
}

TEST(BuiltinRecipes, TheH100PlanIsWhatTheExecutorIsBuiltWith) {
  const auto b = builtin_cuda_recipe(kH100, preset("llama-3.1-8b"), kRecipes);
  ASSERT_TRUE(b.has_value());
  const CudaSetup s = cuda_setup(&b->recipe, b->path, kH100, std::nullopt);
  // Batch 1: RMSNorm fused, the fused cluster attention at split 64; batch 8: RMSNorm separate, split 128.
  EXPECT_TRUE(s.plan.fuse_decode.at(1));
  EXPECT_FALSE(s.plan.fuse_decode.at(8));
  EXPECT_EQ(s.plan.attention_split.at(1), 64);
  EXPECT_EQ(s.plan.attention_split.at(8), 128);
  EXPECT_TRUE(s.plan.decode_attention.at(1).cluster);
  EXPECT_EQ(s.plan.gemv.at({1, 6144, 4096}), (kernels::cuda::GemvParams{8, 8, 2, 1, 0, 0, 0}));
  EXPECT_EQ(s.steps_per_launch, 8);
  EXPECT_TRUE(s.options.kv_f32) << "precision stays the accurate default: " << s.precision_note;
}
#endif

}  // namespace synaptix::registry
