#include "synaptix/tune_kv_gate.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "synaptix/core/error.h"
#include "synaptix/eval/quality_gate.h"
#include "synaptix/eval_subject.h"
#include "synaptix/text_comparison.h"

namespace synaptix::app {
namespace {

void progress(int64_t w, int64_t n) {
  std::fprintf(stderr, "\rKV gate: window %lld/%lld", static_cast<long long>(w + 1), static_cast<long long>(n));
}

}  // namespace

std::vector<kernels::KvFormat> parse_kv_candidates(const std::string& list, const std::string& flag) {
  std::vector<kernels::KvFormat> out;
  std::stringstream ss(list);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item.empty()) continue;
    const kernels::KvFormat f = kernels::parse_kv_format(item, flag);
    if (f == kernels::KvFormat::F32) fail(flag, " \"", list, "\": f32 is the incumbent, not a candidate");
    if (std::find(out.begin(), out.end(), f) == out.end()) out.push_back(f);
  }
  if (out.empty()) fail(flag, " \"", list, "\": no format (expected some of bf16, int8, fp8-e4m3)");
  return out;
}

nlohmann::json gate_kv_formats(registry::Recipe& r, const std::string& model, const std::string& recipe_path,
                               const PrecisionGateOptions& g, const std::vector<kernels::KvFormat>& candidates) {
  nlohmann::json v = {{"gate", g.gate}, {"text", g.text}, {"chosen", "f32"}};
  // Narrowest first (fewest bytes per element, the given order among equals): the first to pass is kept.
  std::vector<kernels::KvFormat> order = candidates;
  std::stable_sort(order.begin(), order.end(), [](kernels::KvFormat a, kernels::KvFormat b) {
    return kernels::kv_element_bytes(a) < kernels::kv_element_bytes(b);
  });
  if (g.text.empty()) {
    v["reason"] = "no gate text (tune --gate-text FILE): the KV cache stays f32";
    r.tuning["kv_gate"] = v;
    return v;
  }
  // Both sides run this recipe as it stands (kernels, weight formats); only the cache differs.
  r.precision.reset();
  const std::string tmp = recipe_path + ".kv-gate.json";
  registry::save_recipe(r, tmp);
  try {
    const eval::QualityGate gate = eval::load_gate(gate_path(g.gate));
    eval::PerplexityOptions po;
    po.max_windows = g.windows;
    SubjectSpec inc = subject_from_flags(model, tmp, "cpu");
    if (r.quant) inc.quant = tmp;
    Subject a(inc);
    po.ctx = std::min<int64_t>(g.ctx, a.model->spec.max_position_embeddings);  // windows the model can hold
    v["ctx"] = po.ctx;
    a.build_executor(po.ctx);
    for (kernels::KvFormat f : order) {
      SubjectSpec cand = inc;
      cand.precision.kv_f32 = false;
      cand.precision.narrow_kv = f;
      Subject b(std::move(cand));
      b.build_executor(po.ctx);
      const TextComparison c = compare_on_text(a, b, g.text, po, progress);
      std::fprintf(stderr, "\n");
      eval::ComparisonFigures figures;
      add_to(figures, c);
      const eval::GateVerdict verdict = eval::apply_gate(gate, figures);
      nlohmann::json row = {{"kv_cache", kernels::kv_format_name(f)}, {"figures", c.report}, {"pass", verdict.pass}};
      for (const auto& crit : verdict.criteria) row["criteria"].push_back(crit.line);
      v["candidates"].push_back(row);
      if (verdict.pass) {
        tune::StepPrecision p;
        p.kv_f32 = false;
        p.narrow_kv = f;
        r.precision = p;
        v["chosen"] = kernels::kv_format_name(f);
        break;
      }
    }
  } catch (const Error& e) {
    r.precision.reset();
    v["chosen"] = "f32";
    v["reason"] = std::string("could not run the quality gate: ") + e.what();
  }
  std::filesystem::remove(tmp);
  r.tuning["kv_gate"] = v;
  return v;
}

}  // namespace synaptix::app
