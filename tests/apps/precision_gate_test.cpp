// Rounded activations are a precision choice under the quality gate: `tune` refuses to search them without a
// text to gate them on, and a recipe whose linear products round x to bf16 (VDPBF16PS kernels) runs through
// the whole model and is measured by `eval compare` against the exact defaults: its logits move (KL > 0,
// unlike an exact recipe's), by a bounded amount.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>

#include "support/cli.h"
#include "support/recipe_kernel.h"
#include "synaptix/graph/op_graph.h"
#include "synaptix/hw/cpu_profile.h"
#include "synaptix/kernels/cpu_generator.h"
#include "synaptix/model/spec.h"
#include "synaptix/registry/recipe.h"

using synaptix::testing::run_cli;
namespace fs = std::filesystem;

namespace {

const std::string kModel = std::string(SYNAPTIX_SHARED_DIR) + "/fixtures/models/llama";

// A recipe serving every linear product of the fixture (any m) with the first point of `generator`.
std::string recipe_with(const std::string& generator, const fs::path& dir) {
  namespace g = synaptix::graph;
  const auto cpu = synaptix::hw::probe_cpu(false);
  const auto spec = synaptix::model::load_spec(kModel + "/config.json");
  synaptix::registry::Recipe r;
  r.created = "test";
  r.target_fingerprint = cpu.fingerprint();
  r.target_hash = cpu.fingerprint_hash();
  r.target = synaptix::hw::to_json(cpu);
  std::set<std::pair<int64_t, int64_t>> shapes;
  for (const auto& op : g::distinct_ops(g::all_graphs(spec), {g::OpKind::Linear}))
    if (shapes.insert({op.n, op.k}).second)
      r.kernels.push_back(synaptix::testing::first_point_kernel(op, {&synaptix::kernels::cpu_generator(generator)}, cpu));
  const std::string path = (dir / (generator + ".json")).string();
  synaptix::registry::save_recipe(r, path);
  return path;
}

double mean_kl(const std::string& out) {
  std::smatch m;
  if (!std::regex_search(out, m, std::regex("\"mean_kl\":([-0-9.eE+]+)"))) return -1;
  return std::stod(m[1]);
}

}  // namespace

TEST(PrecisionGate, TuneRefusesRoundedActivationsWithoutAGateText) {
  const fs::path dir = fs::temp_directory_path() / ("sx_pgate_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  auto t = run_cli("tune --model " + kModel + " --activations f32,bf16 --budget 4 --out " + (dir / "r.json").string());
  EXPECT_NE(t.exit_code, 0) << t.output;
  EXPECT_NE(t.output.find("--gate-text"), std::string::npos) << t.output;
  EXPECT_FALSE(fs::exists(dir / "r.json"));
  auto u = run_cli("tune --model " + kModel + " --activations f16 --budget 4 --out " + (dir / "r.json").string());
  EXPECT_NE(u.exit_code, 0);
  EXPECT_NE(u.output.find("f16"), std::string::npos) << u.output;
}

TEST(PrecisionGate, Bf16ActivationRecipeIsMeasuredAgainstTheExactDefaults) {
  if (!synaptix::hw::probe_cpu(false).isa.avx512_bf16) GTEST_SKIP() << "this CPU has no AVX-512 BF16";
  const fs::path dir = fs::temp_directory_path() / ("sx_pgate2_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  // A short real text: the first 16 KB of wikitext-2's test split.
  const std::string text = (dir / "text.txt").string();
  {
    std::ifstream in(std::string(SYNAPTIX_SHARED_DIR) + "/data/wiki.test.raw");
    std::string s(16384, '\0');
    in.read(s.data(), static_cast<std::streamsize>(s.size()));
    s.resize(static_cast<size_t>(in.gcount()));
    ASSERT_GT(s.size(), 4096u);
    std::ofstream(text) << s;
  }
  const std::string compare = "eval compare --model " + kModel + " --incumbent model=" + kModel +
                              " --text " + text + " --ctx 128 --max-windows 2 --gate 8bit --candidate recipe=";
  const auto exact = run_cli(compare + recipe_with("linear_tiled", dir));
  ASSERT_NE(exact.output.find("verdict:"), std::string::npos) << exact.output;
  const double kl_exact = mean_kl(exact.output);
  const auto rounded = run_cli(compare + recipe_with("linear_bf16dot", dir));
  ASSERT_NE(rounded.output.find("verdict:"), std::string::npos) << rounded.output;
  const double kl_rounded = mean_kl(rounded.output);
  ASSERT_GE(kl_exact, 0) << exact.output;
  ASSERT_GE(kl_rounded, 0) << rounded.output;
  EXPECT_LT(kl_exact, 1e-7) << "exact kernels match the defaults to f32 rounding";
  EXPECT_GT(kl_rounded, 10 * kl_exact + 1e-9) << "bf16 activations move the logits: the kernels ran";
  EXPECT_LT(kl_rounded, 0.05) << "but only by the rounding of x";
}
