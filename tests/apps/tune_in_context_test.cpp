// `tune` times each bucket's step on the model with and without each group of the kernels it found, before
// it writes the recipe (registry/recipe_in_context.h decides; its decisions are tested in tests/registry).
// Here: the check runs on the path users take, records every group's verdict, removes exactly the dropped
// groups' kernels (naming why in `untuned`), is skipped with a reason when the model has no weights, and is off
// with --in-context-seconds 0.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>

#include <nlohmann/json.hpp>

#include "support/cli.h"
#include "synaptix/registry/recipe.h"
#include "synaptix/registry/recipe_in_context.h"

using synaptix::testing::run_cli;
namespace fs = std::filesystem;

namespace {

const std::string kModel = std::string(SYNAPTIX_SHARED_DIR) + "/fixtures/models/llama";

fs::path scratch(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("sx_incontext_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

nlohmann::json read_json(const fs::path& p) {
  std::ifstream f(p);
  return nlohmann::json::parse(f);
}

}  // namespace

TEST(TuneInContext, DroppedGroupsLeaveTheRecipeWithTheirReason) {
  const fs::path dir = scratch("run");
  const auto t = run_cli("tune --model " + kModel + " --budget 10s --buckets prefill --db " + (dir / "db").string() +
                         " --out " + (dir / "r.json").string());
  ASSERT_EQ(t.exit_code, 0) << t.output;
  const auto raw = read_json(dir / "r.json");
  ASSERT_TRUE(raw["tuning"].contains("in_context")) << raw["tuning"].dump();
  const auto& ic = raw["tuning"]["in_context"];
  const auto r = synaptix::registry::load_recipe((dir / "r.json").string());
  if (ic.contains("skipped")) {
    // Only an empty search leaves nothing to check on a model with weights.
    EXPECT_EQ(ic["skipped"], "no kernels") << ic.dump();
    EXPECT_TRUE(r.kernels.empty());
    return;
  }
  ASSERT_TRUE(ic.contains("groups")) << ic.dump();
  std::set<std::string> dropped, seen;
  for (const auto& g : ic["groups"]) {
    const std::string verdict = g["verdict"];
    seen.insert(g["group"].get<std::string>());
    if (verdict == "dropped") dropped.insert(g["group"].get<std::string>());
    if (verdict == "dropped" || verdict == "kept") {
      EXPECT_GT(g["with_ms"].get<double>(), 0) << g.dump();
      EXPECT_GT(g["without_ms"].get<double>(), 0) << g.dump();
    } else {
      EXPECT_EQ(verdict, "unchecked (out of time)") << g.dump();
    }
  }
  EXPECT_EQ(ic["dropped_groups"].get<int64_t>(), static_cast<int64_t>(dropped.size()));
  for (const auto& k : r.kernels) {
    const std::string group = synaptix::registry::recipe_kernel_group(k);
    EXPECT_TRUE(seen.count(group)) << group << " was never checked";
    EXPECT_FALSE(dropped.count(group)) << group << " was dropped but is still in the recipe";
  }
  int64_t condemned = 0;
  for (const auto& u : r.untuned)
    if (u.contains("dropped") && u["dropped"].get<std::string>().find("slower in context") != std::string::npos) ++condemned;
  if (!dropped.empty()) EXPECT_GE(condemned, static_cast<int64_t>(dropped.size())) << raw["untuned"].dump();
  else EXPECT_EQ(condemned, 0);
}

TEST(TuneInContext, AModelWithoutWeightsIsSkippedWithTheReason) {
  const fs::path dir = scratch("config_only");
  fs::create_directories(dir / "model");
  fs::copy_file(kModel + "/config.json", dir / "model" / "config.json");
  const auto t = run_cli("tune --model " + (dir / "model").string() + " --budget 10s --buckets prefill --db " +
                         (dir / "db").string() + " --out " + (dir / "r.json").string());
  ASSERT_EQ(t.exit_code, 0) << t.output;
  const auto raw = read_json(dir / "r.json");
  const auto& ic = raw["tuning"]["in_context"];
  ASSERT_TRUE(ic.contains("skipped")) << ic.dump();
  if (raw["kernels"].empty()) EXPECT_EQ(ic["skipped"], "no kernels");
  else EXPECT_NE(ic["skipped"].get<std::string>().find("could not be loaded"), std::string::npos) << ic.dump();
  EXPECT_NE(t.output.find("in-context check: skipped"), std::string::npos) << t.output;
}

TEST(TuneInContext, ZeroSecondsTurnsItOff) {
  const fs::path dir = scratch("off");
  const auto t = run_cli("tune --model " + kModel + " --budget 4 --buckets 1 --in-context-seconds 0 --db " +
                         (dir / "db").string() + " --out " + (dir / "r.json").string());
  ASSERT_EQ(t.exit_code, 0) << t.output;
  EXPECT_FALSE(read_json(dir / "r.json")["tuning"].contains("in_context"));
  const auto bad = run_cli("tune --model " + kModel + " --in-context-seconds -1 --out " + (dir / "x.json").string());
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.output.find("--in-context-seconds"), std::string::npos) << bad.output;
}
