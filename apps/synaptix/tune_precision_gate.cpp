#include "synaptix/tune_precision_gate.h"

#include <cstdio>
#include <filesystem>
#include <set>

#include "synaptix/core/error.h"
#include "synaptix/eval/quality_gate.h"
#include "synaptix/eval_subject.h"
#include "synaptix/kernels/cpu_generator.h"
#include "synaptix/text_comparison.h"

namespace synaptix::app {

namespace {

// Replaces each rounding kernel by the best exact one the run found, or moves it to `untuned` (the bucket
// keeps the default), naming why. Returns how many were replaced.
int64_t drop_rounded(registry::Recipe& r, const std::string& why, const ExactFallback& exact) {
  std::vector<registry::RecipeKernel> kept;
  int64_t replaced = 0;
  for (auto& k : r.kernels) {
    if (kernel_activations(k) == "f32") {
      kept.push_back(std::move(k));
      continue;
    }
    const std::string dropped = k.generator + " " + k.params.dump() + ": " + why;
    if (auto e = exact ? exact(k) : std::nullopt) {
      kept.push_back(std::move(*e));
      ++replaced;
      continue;
    }
    r.untuned.push_back({{"signature", k.signature}, {"baseline_us", k.baseline_us}, {"dropped", dropped}});
  }
  r.kernels = std::move(kept);
  return replaced;
}

void progress(int64_t w, int64_t n) {
  std::fprintf(stderr, "\rprecision gate: window %lld/%lld", static_cast<long long>(w + 1), static_cast<long long>(n));
}

}  // namespace

std::string kernel_activations(const registry::RecipeKernel& k) {
  return kernels::cpu_generator(k.generator).activations(k.params);
}

nlohmann::json gate_rounded_activations(registry::Recipe& r, const std::string& model, const std::string& recipe_path,
                                        const PrecisionGateOptions& g, const ExactFallback& exact) {
  std::set<std::string> rounded;
  int64_t count = 0;
  for (const auto& k : r.kernels)
    if (const auto a = kernel_activations(k); a != "f32") rounded.insert(a), ++count;
  if (rounded.empty()) return nlohmann::json::object();
  nlohmann::json v = {{"activations", rounded}, {"kernels", count}, {"gate", g.gate}, {"text", g.text}};
  if (g.text.empty()) {
    v["replaced_by_exact"] = drop_rounded(r, "rounded activations are kept only under the quality gate (tune --gate-text FILE)", exact);
    v["pass"] = false;
    v["reason"] = "no gate text";
  } else {
    // The candidate is this recipe as it stands; the incumbent the exact defaults.
    const std::string tmp = recipe_path + ".gate-candidate.json";
    registry::save_recipe(r, tmp);
    try {
      const eval::QualityGate gate = eval::load_gate(gate_path(g.gate));
      // With weight formats, both sides hold them (quant= reads the candidate's quant section).
      SubjectSpec incumbent = subject_from_flags(model, "", "cpu");
      if (r.quant) incumbent.quant = tmp;
      Subject a(std::move(incumbent)), b(subject_from_flags(model, tmp, "cpu"));
      eval::PerplexityOptions po;
      po.ctx = g.ctx;
      po.max_windows = g.windows;
      a.build_executor(po.ctx);
      b.build_executor(po.ctx);
      const TextComparison c = compare_on_text(a, b, g.text, po, progress);
      std::fprintf(stderr, "\n");
      eval::ComparisonFigures f;
      add_to(f, c);
      const eval::GateVerdict verdict = eval::apply_gate(gate, f);
      v["figures"] = c.report;
      v["pass"] = verdict.pass;
      for (const auto& crit : verdict.criteria) v["criteria"].push_back(crit.line);
      if (!verdict.pass) v["replaced_by_exact"] = drop_rounded(r, "the quality gate " + g.gate + " failed on " + g.text, exact);
    } catch (const Error& e) {
      v["replaced_by_exact"] = drop_rounded(r, std::string("could not run the quality gate: ") + e.what(), exact);
      v["pass"] = false;
      v["reason"] = e.what();
    }
    std::filesystem::remove(tmp);
  }
  r.tuning["precision_gate"] = v;
  return v;
}

}  // namespace synaptix::app
