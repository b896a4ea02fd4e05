// A recipe tuned from config.json alone drives generate/verify: the fixture still matches the reference with
// the tuned kernels, and a recipe for another target is refused with a clear message. Where the tuner kept
// the default for a fused hook (likely on a model this small), the recipe is completed with that hook's
// generated kernel, so verify runs every hook: gate_up_silu, add_rmsnorm, attention (and linear).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <nlohmann/json.hpp>

#include "support/cli.h"
#include "support/recipe_kernel.h"
#include "synaptix/graph/op_graph.h"
#include "synaptix/hw/cpu_profile.h"
#include "synaptix/kernels/cpu_generator.h"
#include "synaptix/model/spec.h"
#include "synaptix/registry/recipe.h"

using synaptix::testing::run_cli;
namespace fs = std::filesystem;

TEST(RecipeVerify, TunedRecipePassesVerifyAndForeignRecipeIsRefused) {
  const std::string model = std::string(SYNAPTIX_SHARED_DIR) + "/fixtures/models/qwen2";
  const fs::path dir = fs::temp_directory_path() / ("sx_recipe_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string recipe = (dir / "recipe.json").string();
  auto t = run_cli("tune --model " + model + " --budget 24 --buckets 1,prefill --sample-seconds 0.02 --db " +
                   (dir / "db.sqlite").string() + " --cache-dir " + (dir / "cache").string() + " --out " + recipe);
  ASSERT_EQ(t.exit_code, 0) << t.output;
  {
    auto r = synaptix::registry::load_recipe(recipe);
    const auto cpu = synaptix::hw::probe_cpu(false);
    const auto spec = synaptix::model::load_spec(model + "/config.json");
    std::set<std::string> have;
    for (const auto& k : r.kernels) have.insert(k.op);
    namespace g = synaptix::graph;
    for (const auto& op : g::distinct_ops(g::all_graphs(spec), {g::OpKind::GateUpSilu, g::OpKind::AddRmsNorm,
                                                                g::OpKind::Attention})) {
      const std::string hook = g::op_kind_name(op.kind);
      if (have.count(hook)) continue;
      r.kernels.push_back(synaptix::testing::first_point_kernel(op, synaptix::kernels::cpu_generators(), cpu));
      have.insert(hook);
    }
    for (const char* hook : {"linear", "gate_up_silu", "add_rmsnorm", "attention"})
      EXPECT_TRUE(have.count(hook)) << hook;  // (and lm_head_argmax when it won: verify's greedy run uses it)
    synaptix::registry::save_recipe(r, recipe);
  }
  auto v = run_cli("verify --model " + model + " --reference " + model + "/reference.safetensors --recipe " + recipe);
  EXPECT_EQ(v.exit_code, 0) << v.output;
  auto g = run_cli("generate --model " + model + " --prompt 'hi' --max-tokens 4 --recipe " + recipe);
  EXPECT_EQ(g.exit_code, 0) << g.output;

  auto j = nlohmann::json::parse(std::ifstream(recipe));
  j["target"]["fingerprint"] = "cpu|x86_64|Some Other CPU|avx2|64c";
  j["target"]["hash"] = "0123456789abcdef";
  std::ofstream(dir / "foreign.json") << j.dump();
  auto f = run_cli("verify --model " + model + " --reference " + model + "/reference.safetensors --recipe " +
                   (dir / "foreign.json").string());
  EXPECT_NE(f.exit_code, 0);
  EXPECT_NE(f.output.find("error: "), std::string::npos) << f.output;
  EXPECT_NE(f.output.find("Some Other CPU"), std::string::npos) << f.output;
  fs::remove_all(dir);
}
