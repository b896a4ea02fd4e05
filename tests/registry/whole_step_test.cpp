// The recipe's whole-step section: a plan with every field set survives a file, a recipe is refused on a
// CUDA device other than its own (and on the CPU), and malformed sections name the key that is wrong.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>

#include <unistd.h>

#include "synaptix/core/error.h"
#include "synaptix/registry/recipe.h"
#include "synaptix/registry/whole_step.h"

namespace synaptix::registry {
namespace {

const std::string kH200 = "cuda:NVIDIA H200:sm_90a:132sm:drv13000";
const std::string kH100 = "cuda:NVIDIA H100 80GB HBM3:sm_90a:132sm:drv13000";

// Every field away from its default, and every map with more than one entry.
tune::WholeStepPlan full_plan() {
  tune::WholeStepPlan p;
  p.gemv[{1, 6144, 4096}] = {8, 8, 2, 2, 1, 0, 0};
  p.gemv[{1, 4096, 14336}] = {16, 4, 1, 4, 0, 1, 32, 4, 16384};  // the bulk-copy GEMV (stages, chunk_bytes)
  p.gemv[{8, 128256, 4096}] = {4, 2, 4, 1, 1, 1, 16};
  p.gemv_rules.push_back({1, 4096, 0, 0, 0, {8, 8, 2, 2, 0, 0, 0}});
  p.gemv_rules.push_back({8, 1024, 8192, 2048, 65536, {4, 2, 4, 1, 1, 0, 16}});
  p.gemv_rules.push_back({2, 0, 0, 0, 0, {8, 4, 2, 1, 0, 0, 0, 8, 8192}});
  p.blaslt_algorithm[{2048, 6144, 4096}] = 3;
  p.blaslt_algorithm[{32, 28672, 4096}] = 0;
  p.fuse_decode = {{1, false}, {8, true}};
  p.attention_split = {{1, 128}, {8, 16}};
  p.o_prefetch = {{1, true}, {8, false}};
  p.decode_attention = {{1, {8, 8, true, false}}, {8, {0, 4, false, true}}};
  p.moe_down_spread = {{1, false}, {4, true}};
  p.speed = {false, false, false, false, 129, 4};
  p.steps_per_launch = 16;
  p.timed_precision = {false, true};
  return p;
}

Recipe cuda_recipe(const std::string& fingerprint) {
  Recipe r;
  r.target_kind = "cuda";
  r.target_fingerprint = fingerprint;
  r.target_hash = cuda_fingerprint_hash(fingerprint);
  r.target = {{"name", "NVIDIA H200"}, {"sm_count", 132}};
  r.model = {{"like", "llama-3.1-8b"}};
  r.whole_step = full_plan();
  r.precision = tune::StepPrecision{false, false};
  return r;
}

std::string scratch_file(const std::string& name) {
  auto d = std::filesystem::temp_directory_path() / ("synaptix_whole_step_" + std::to_string(::getpid()));
  std::filesystem::create_directories(d);
  return (d / name).string();
}

std::string error_of(const nlohmann::json& j) {
  try {
    whole_step_from_json(j, "recipe r.json: whole_step");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(WholeStep, PlanWithEveryFieldRoundTripsThroughARecipeFile) {
  const Recipe r = cuda_recipe(kH200);
  ASSERT_FALSE(full_plan() == tune::WholeStepPlan{});  // the comparison below can see a lost field
  const std::string path = scratch_file("plan.json");
  save_recipe(r, path);
  const Recipe back = load_recipe(path);
  ASSERT_TRUE(back.whole_step.has_value());
  EXPECT_TRUE(*back.whole_step == full_plan());
  ASSERT_TRUE(back.precision.has_value());
  EXPECT_EQ(back.precision->kv_f32, false);
  EXPECT_EQ(back.precision->split_bf16, false);
  EXPECT_EQ(back.target_kind, "cuda");
  EXPECT_EQ(back.target_fingerprint, kH200);
  // And the written text is the format the header documents (a person can read and edit it).
  const nlohmann::json j = to_json(r);
  EXPECT_EQ(j["whole_step"]["format"], kWholeStepFormat);
  EXPECT_EQ(j["whole_step"]["decode_attention"]["1"]["warps"], 8);
  EXPECT_EQ(j["whole_step"]["attention_split"]["8"], 16);
  EXPECT_EQ(j["precision"]["kv_cache"], "bf16");
  EXPECT_EQ(j["precision"]["bf16_products"], 1);
}

TEST(WholeStep, EachFieldChangesThePlan) {
  // A round trip that dropped a field would still compare equal if the field never mattered to ==.
  tune::WholeStepPlan a = full_plan(), b = full_plan();
  b.gemv[{1, 6144, 4096}].prefetch_kb = 8;
  EXPECT_FALSE(a == b);
  b = a, b.gemv[{1, 4096, 14336}].chunk_bytes = 8192;
  EXPECT_FALSE(a == b);
  b = a, b.decode_attention[1].reg_heads = true;
  EXPECT_FALSE(a == b);
  b = a, b.gemv_rules[1].n_max = 0;
  EXPECT_FALSE(a == b);
  b = a, b.speed.flash_min_tokens = 65;
  EXPECT_FALSE(a == b);
  b = a, b.timed_precision.split_bf16 = false;
  EXPECT_FALSE(a == b);
}

TEST(WholeStep, GemvRulesFillOnlyTheShapesNoEntryListsFirstRuleWins) {
  tune::WholeStepPlan p;
  p.gemv[{1, 4096, 4096}] = {4, 1, 1, 2, 0, 0, 0};  // an exact entry: kept
  p.gemv_rules.push_back({1, 4096, 0, 0, 8192, {8, 8, 2, 2, 0, 0, 0}});
  p.gemv_rules.push_back({1, 4096, 0, 0, 0, {16, 4, 2, 1, 0, 0, 0}});
  const std::vector<tune::LinearShapeKey> shapes = {
      {1, 4096, 4096}, {1, 6144, 4096}, {1, 128256, 4096}, {1, 4096, 2048}, {2, 6144, 4096}, {9, 6144, 4096}};
  EXPECT_EQ(tune::apply_gemv_rules(p, shapes, 8), 2);
  EXPECT_EQ(p.gemv.at({1, 4096, 4096}), (tune::GemvSchedule{4, 1, 1, 2, 0, 0, 0}));
  EXPECT_EQ(p.gemv.at({1, 6144, 4096}), (tune::GemvSchedule{8, 8, 2, 2, 0, 0, 0}));   // n <= 8192: the first
  EXPECT_EQ(p.gemv.at({1, 128256, 4096}), (tune::GemvSchedule{16, 4, 2, 1, 0, 0, 0}));  // past it: the second
  EXPECT_FALSE(p.gemv.count({1, 4096, 2048})) << "k below every rule: the code's fallback";
  EXPECT_FALSE(p.gemv.count({2, 6144, 4096})) << "no rule for two rows";
  EXPECT_FALSE(p.gemv.count({9, 6144, 4096})) << "past the GEMV path";
  EXPECT_EQ(tune::apply_gemv_rules(p, shapes, 8), 0) << "a second pass adds nothing";
}

TEST(WholeStep, RecipeWithoutTheSectionsLoadsAsBefore) {
  Recipe r = cuda_recipe(kH200);
  r.whole_step.reset();
  r.precision.reset();
  const Recipe back = recipe_from_json(to_json(r), "recipe r.json");
  EXPECT_FALSE(back.whole_step.has_value());
  EXPECT_FALSE(back.precision.has_value());
  // A recipe written before target.kind existed is a CPU recipe.
  nlohmann::json j = to_json(r);
  j["target"].erase("kind");
  EXPECT_EQ(recipe_from_json(j, "recipe r.json").target_kind, "cpu");
}

TEST(WholeStep, AnotherDevicesRecipeIsRefusedNamingBoth) {
  const Recipe r = cuda_recipe(kH100);
  EXPECT_NO_THROW(check_cuda_target(r, kH100, "recipe h100.json"));
  try {
    check_cuda_target(r, kH200, "recipe h100.json");
    FAIL() << "an H100 recipe was accepted on an H200";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("recipe h100.json"), std::string::npos) << m;
    EXPECT_NE(m.find(kH100), std::string::npos) << m;
    EXPECT_NE(m.find(kH200), std::string::npos) << m;
    EXPECT_NE(m.find("--target cuda"), std::string::npos) << m;
  }
  // A driver update changes the fingerprint too: the recipe is re-tuned, not trusted.
  EXPECT_THROW(check_cuda_target(r, "cuda:NVIDIA H100 80GB HBM3:sm_90a:132sm:drv13010", "r"), Error);
  // A CPU recipe on a CUDA device, and a CUDA recipe on the CPU.
  Recipe cpu = r;
  cpu.target_kind = "cpu";
  EXPECT_THROW(check_cuda_target(cpu, kH100, "recipe cpu.json"), Error);
  try {
    check_target(r, hw::probe_cpu(false), "recipe h100.json");
    FAIL() << "a CUDA recipe was accepted on the CPU";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("cuda target"), std::string::npos) << m;
    EXPECT_NE(m.find(kH100), std::string::npos) << m;
  }
  // A fingerprint whose hash was edited is refused as well.
  Recipe edited = r;
  edited.target_hash = "0000000000000000";
  EXPECT_THROW(check_cuda_target(edited, kH100, "r"), Error);
}

TEST(WholeStep, MalformedSectionsNameTheKey) {
  const nlohmann::json good = to_json(full_plan());
  EXPECT_EQ(error_of(good), "");
  struct Case {
    std::function<void(nlohmann::json&)> edit;
    std::string expect;
  };
  const std::vector<Case> cases = {
      {[](auto& j) { j.erase("format"); }, "missing key \"format\""},
      {[](auto& j) { j["format"] = "synaptix-whole-step/2"; }, "whole_step.format is \"synaptix-whole-step/2\""},
      {[](auto& j) { j["fuse_decoed"] = nlohmann::json::object(); }, "unknown key \"fuse_decoed\""},
      {[](auto& j) { j["steps_per_launch"] = 0; }, "whole_step.steps_per_launch is 0, expected 1..64"},
      {[](auto& j) { j["steps_per_launch"] = "8"; }, "whole_step.steps_per_launch is \"8\""},
      {[](auto& j) { j["speed"]["pdl"] = 1; }, "whole_step.speed.pdl is 1, expected true or false"},
      {[](auto& j) { j["speed"]["gemv_max_rows"] = 9; }, "whole_step.speed.gemv_max_rows is 9, expected 1..8"},
      {[](auto& j) { j["gemv"][1].erase("unroll"); }, "whole_step.gemv[1]: missing key \"unroll\""},
      {[](auto& j) { j["gemv"][0]["m"] = 9; }, "whole_step.gemv[0].m is 9, expected 1..8"},
      {[](auto& j) { j["gemv"][0]["kslices"] = 3; }, "whole_step.gemv[0]: kslices 3 does not divide warps"},
      {[](auto& j) { j["gemv"].push_back(j["gemv"][0]); }, "gemv[3]: a second schedule for the same (m, n, k)"},
      {[](auto& j) { j["gemv"] = nlohmann::json::object(); }, "whole_step.gemv is object, expected an array"},
      {[](auto& j) { j["blaslt_algorithm"][0]["algorithm"] = -1; }, "blaslt_algorithm[0].algorithm is -1"},
      {[](auto& j) { j["gemv_rules"][0]["m"] = 0; }, "whole_step.gemv_rules[0].m is 0, expected 1..8"},
      {[](auto& j) { j["gemv_rules"][1]["k_max"] = 512; }, "gemv_rules[1]: an empty bucket"},
      {[](auto& j) { j["gemv_rules"][0]["kmin"] = 1; }, "gemv_rules[0]: unknown key \"kmin\""},
      {[](auto& j) { j["gemv_rules"][0]["kslices"] = 3; }, "gemv_rules[0]: kslices 3 does not divide warps"},
      {[](auto& j) { j["gemv_rules"] = 1; }, "whole_step.gemv_rules is number, expected an array"},
      {[](auto& j) { j["attention_split"]["one"] = 64; }, "attention_split: key \"one\" is not a step size"},
      {[](auto& j) { j["attention_split"]["0"] = 64; }, "attention_split: key \"0\" is not a step size"},
      {[](auto& j) { j["attention_split"]["1"] = 0; }, "attention_split[\"1\"] is 0, expected positions per split"},
      {[](auto& j) { j["o_prefetch"]["1"] = "yes"; }, "o_prefetch[\"1\"] is \"yes\", expected true or false"},
      {[](auto& j) { j["decode_attention"]["1"]["keys_per_warp"] = 0; },
       "decode_attention[\"1\"].keys_per_warp is 0, expected 1..64"},
      {[](auto& j) { j["decode_attention"]["8"]["clusters"] = true; }, "decode_attention[\"8\"]: unknown key \"clusters\""},
      {[](auto& j) { j["timed_precision"]["kv_cache"] = "fp8"; }, "timed_precision.kv_cache: KV cache format \"fp8\" (expected one of f32, bf16, int8, fp8-e4m3)"},
      {[](auto& j) { j["timed_precision"]["bf16_products"] = 3; }, "timed_precision.bf16_products is 3, expected 1..2"},
  };
  for (const Case& c : cases) {
    nlohmann::json j = good;
    c.edit(j);
    const std::string m = error_of(j);
    EXPECT_NE(m.find("recipe r.json: whole_step"), std::string::npos) << m;
    EXPECT_NE(m.find(c.expect), std::string::npos) << "expected \"" << c.expect << "\" in: " << m;
  }
  // A malformed section is refused when the recipe is loaded, with the file's name.
  nlohmann::json r = to_json(cuda_recipe(kH200));
  r["whole_step"]["gemv"][0]["warps"] = "8";
  EXPECT_THROW(
      {
        try {
          recipe_from_json(r, "recipe plan.json");
        } catch (const Error& e) {
          EXPECT_NE(std::string(e.what()).find("recipe plan.json: whole_step.gemv[0].warps"), std::string::npos) << e.what();
          throw;
        }
      },
      Error);
  r = to_json(cuda_recipe(kH200));
  r["target"]["kind"] = "tpu";
  EXPECT_THROW(recipe_from_json(r, "recipe plan.json"), Error);
  r = to_json(cuda_recipe(kH200));
  r["precision"] = {{"kv_cache", "bf16"}, {"products", 1}};
  EXPECT_THROW(recipe_from_json(r, "recipe plan.json"), Error);
}

}  // namespace
}  // namespace synaptix::registry
