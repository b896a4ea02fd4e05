// The checked-in recipes (registry/builtin_recipes.h): the H100 one parses and holds what the H100 run it
// cites measured (compared with that run's own result file, bench/gpu/results), its plan is one the CUDA
// executor accepts, and it is the default only for an H100 of that kind (any driver) running the
// Llama-3.1-8B shape; another GPU or another model keeps the generic defaults.
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
  // Another GPU, another SM count, or another model shape: none.
  EXPECT_FALSE(builtin_cuda_recipe("cuda:NVIDIA H200:sm_90a:132sm:drv13000", llama8b, kRecipes));
  EXPECT_FALSE(builtin_cuda_recipe("cuda:NVIDIA H100 PCIe:sm_90a:114sm:drv13000", llama8b, kRecipes));
  EXPECT_FALSE(builtin_cuda_recipe(kH100, preset("llama-3.2-1b"), kRecipes));
  EXPECT_FALSE(builtin_cuda_recipe(kH100, preset("qwen2.5-7b"), kRecipes));
  EXPECT_FALSE(builtin_cuda_recipe(kH100, llama8b, "/nonexistent/recipes"));
  EXPECT_EQ(cuda_device_kind(kH100), "cuda:NVIDIA H100 80GB HBM3:sm_90a:132sm");
  // Without a directory given: the repository's recipes/ (this test runs from the build directory).
  EXPECT_TRUE(builtin_cuda_recipe(kH100, llama8b).has_value()) << builtin_recipes_dir();
}

#if SYNAPTIX_HAVE_CUDA
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
