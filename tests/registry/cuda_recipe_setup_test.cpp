// The recipe -> CUDA executor translation the executor factory runs (registry/cuda/cuda_recipe_setup.h),
// checked without a GPU: the plan, speed switches and steps per launch a recipe names are what the executor
// gets, its precision comes from the gate's section (else the accurate default, said so), and a recipe of
// another device is refused before anything is built.
#include <gtest/gtest.h>

#if SYNAPTIX_HAVE_CUDA

#include <filesystem>

#include <unistd.h>

#include "synaptix/core/error.h"
#include "synaptix/registry/cuda/cuda_recipe_setup.h"
#include "synaptix/registry/recipe.h"

namespace synaptix::registry {
namespace {

const std::string kDevice = "cuda:NVIDIA H200:sm_90a:132sm:drv13000";

// A recipe as `tune --target cuda` writes it, read back from its file.
Recipe written_and_read(const tune::WholeStepPlan& plan, std::optional<tune::StepPrecision> precision) {
  Recipe r;
  r.target_kind = "cuda";
  r.target_fingerprint = kDevice;
  r.target_hash = cuda_fingerprint_hash(kDevice);
  r.whole_step = plan;
  r.precision = precision;
  const auto dir = std::filesystem::temp_directory_path() / ("synaptix_cuda_setup_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "r.json").string();
  save_recipe(r, path);
  return load_recipe(path);
}

// A kernel plan with every field away from the executor's default, as the in-context search leaves it.
engine::CudaKernelPlan searched_plan() {
  engine::CudaKernelPlan p;
  p.gemv[{1, 6144, 4096}] = {8, 8, 2, 2, 0, 1, 16};
  p.gemv[{8, 4096, 14336}] = {4, 4, 2, 2, 1, 0, 0};
  p.blaslt_algorithm[{2048, 28672, 4096}] = 5;
  p.fuse_decode[1] = false;
  p.attention_split[1] = 32;
  p.o_prefetch[1] = true;
  p.decode_attention[1] = {8, 8, true, false};
  p.decode_attention[8] = {0, 4, false, true};
  p.moe_down_spread[1] = false;
  return p;
}

void expect_same_plan(const engine::CudaKernelPlan& a, const engine::CudaKernelPlan& b) {
  EXPECT_EQ(a.gemv, b.gemv);
  EXPECT_EQ(a.blaslt_algorithm, b.blaslt_algorithm);
  EXPECT_EQ(a.fuse_decode, b.fuse_decode);
  EXPECT_EQ(a.attention_split, b.attention_split);
  EXPECT_EQ(a.o_prefetch, b.o_prefetch);
  EXPECT_EQ(a.decode_attention, b.decode_attention);
  EXPECT_EQ(a.moe_down_spread, b.moe_down_spread);
}

TEST(CudaRecipeSetup, TheExecutorGetsThePlanTheRecipeNames) {
  engine::CudaExecutorOptions searched_speed;
  searched_speed.pdl = false;
  searched_speed.weight_prefetch = false;
  searched_speed.flash_min_tokens = 97;
  searched_speed.gemv_max_rows = 4;
  const tune::WholeStepPlan w = to_whole_step_plan(searched_plan(), speed_of(searched_speed), 16, {false, false});
  const Recipe r = written_and_read(w, tune::StepPrecision{false, false});
  const CudaSetup s = cuda_setup(&r, "recipe r.json", kDevice, std::nullopt);
  expect_same_plan(s.plan, searched_plan());
  EXPECT_EQ(s.steps_per_launch, 16);
  EXPECT_EQ(s.options.pdl, false);
  EXPECT_EQ(s.options.weight_prefetch, false);
  EXPECT_EQ(s.options.fuse, true);
  EXPECT_EQ(s.options.flash_min_tokens, 97);
  EXPECT_EQ(s.options.gemv_max_rows, 4);
  EXPECT_EQ(s.options.kv_f32, false);
  EXPECT_EQ(s.options.split_bf16, false);
  EXPECT_NE(s.precision_note.find("\"precision\" section"), std::string::npos) << s.precision_note;
}

TEST(CudaRecipeSetup, WithoutGateEvidenceTheAccurateDefaultRunsAndTheNoteSaysSo) {
  const tune::WholeStepPlan w = to_whole_step_plan(searched_plan(), speed_of({}), 8, {false, false});
  const Recipe r = written_and_read(w, std::nullopt);
  const CudaSetup s = cuda_setup(&r, "recipe r.json", kDevice, std::nullopt);
  EXPECT_TRUE(s.options.kv_f32);
  EXPECT_TRUE(s.options.split_bf16);
  EXPECT_NE(s.precision_note.find("no \"precision\" section"), std::string::npos) << s.precision_note;
  EXPECT_NE(s.precision_note.find("timed with kv=bf16, products=1"), std::string::npos) << s.precision_note;
  // An explicit choice (eval's kv=/products=) wins over the recipe.
  const CudaSetup asked = cuda_setup(&r, "recipe r.json", kDevice, tune::StepPrecision{false, true});
  EXPECT_FALSE(asked.options.kv_f32);
  EXPECT_TRUE(asked.options.split_bf16);
  expect_same_plan(asked.plan, searched_plan());
  // No recipe: the executor's own defaults, an empty plan.
  const CudaSetup none = cuda_setup(nullptr, "", kDevice, std::nullopt);
  const engine::CudaExecutorOptions defaults;
  EXPECT_EQ(none.options.kv_f32, defaults.kv_f32);
  EXPECT_EQ(none.options.fuse, defaults.fuse);
  EXPECT_TRUE(none.plan.gemv.empty());
  EXPECT_TRUE(none.plan.decode_attention.empty());
}

TEST(CudaRecipeSetup, AnotherDevicesRecipeIsRefusedBeforeAnythingIsBuilt) {
  const Recipe r = written_and_read(to_whole_step_plan(searched_plan(), speed_of({}), 8, {false, false}), std::nullopt);
  try {
    cuda_setup(&r, "recipe r.json", "cuda:NVIDIA H100 80GB HBM3:sm_90a:132sm:drv13000", std::nullopt);
    FAIL() << "an H200 recipe was accepted on an H100";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find(kDevice), std::string::npos) << m;
    EXPECT_NE(m.find("NVIDIA H100 80GB HBM3"), std::string::npos) << m;
  }
}

TEST(CudaRecipeSetup, ScheduleOutsideTheGeneratorsSpaceIsRefusedNamingTheShape) {
  tune::WholeStepPlan w = to_whole_step_plan(searched_plan(), speed_of({}), 8, {false, false});
  w.gemv[{8, 4096, 14336}].unroll = 8;  // rows_per_warp 2 * unroll 8 * m 8 > 32
  const Recipe r = written_and_read(w, std::nullopt);
  try {
    cuda_setup(&r, "recipe r.json", kDevice, std::nullopt);
    FAIL() << "an invalid GEMV schedule was accepted";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("recipe r.json: whole_step"), std::string::npos) << m;
    EXPECT_NE(m.find("m=8 n=4096 k=14336"), std::string::npos) << m;
  }
}

TEST(CudaRecipeSetup, DecodeAttentionWithoutAKernelFormIsRefusedNamingTheStep) {
  tune::WholeStepPlan w = to_whole_step_plan(searched_plan(), speed_of({}), 8, {false, false});
  w.decode_attention[1] = {6, 4, false, true};  // the fused kernel has 4, 8 or 16 warps
  const Recipe r = written_and_read(w, std::nullopt);
  try {
    cuda_setup(&r, "recipe r.json", kDevice, std::nullopt);
    FAIL() << "a decode attention of 6 warps was accepted";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("recipe r.json: whole_step"), std::string::npos) << m;
    EXPECT_NE(m.find("1-token steps"), std::string::npos) << m;
    EXPECT_NE(m.find("6 warps"), std::string::npos) << m;
  }
  w.decode_attention[1] = {16, 5, false, true};
  const Recipe keys = written_and_read(w, std::nullopt);
  EXPECT_THROW(cuda_setup(&keys, "recipe r.json", kDevice, std::nullopt), Error);
  w.decode_attention[1] = {0, 5, false, true};  // three kernels: keys_per_warp is not used
  const Recipe three = written_and_read(w, std::nullopt);
  EXPECT_EQ(cuda_setup(&three, "recipe r.json", kDevice, std::nullopt).plan.decode_attention.at(1).warps, 0);
}

}  // namespace
}  // namespace synaptix::registry

#else
TEST(CudaRecipeSetup, NeedsTheCudaToolkit) { GTEST_SKIP() << "built without the CUDA toolkit: no CUDA headers"; }
#endif
