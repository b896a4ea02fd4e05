#include "synaptix/eval/quality_gate.h"

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "synaptix/core/error.h"
#include "synaptix/eval/paired_stats.h"

namespace synaptix::eval {
namespace {

constexpr const char* kKeys[] = {"name",          "description",   "max_mean_kl",         "max_p99_kl",
                                 "min_same_top1", "max_perplexity_ratio", "task_alpha"};

std::optional<double> bound(const nlohmann::json& j, const char* key, double lo, double hi, const std::string& where) {
  if (!j.contains(key)) return std::nullopt;
  const auto& v = j.at(key);
  if (!v.is_number() || v.get<double>() < lo || v.get<double>() > hi)
    fail(where, ": \"", key, "\" is ", v.dump(), ", expected a number in [", lo, ", ", hi, "]");
  return v.get<double>();
}

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

CriterionResult criterion(const std::string& name, bool pass, const std::string& text) {
  return {name, pass, text + (pass ? ": pass" : ": FAIL")};
}

}  // namespace

QualityGate gate_from_json(const nlohmann::json& j, const std::string& where) {
  if (!j.is_object()) fail(where, ": a gate is a JSON object, found ", j.type_name());
  for (const auto& [k, v] : j.items()) {
    bool known = false;
    for (const char* key : kKeys) known = known || k == key;
    if (known) continue;
    std::string list;
    for (const char* key : kKeys) list += std::string(list.empty() ? "" : ", ") + key;
    fail(where, ": unknown key \"", k, "\" (expected one of: ", list, ")");
  }
  QualityGate g;
  for (const char* key : {"name", "description"}) {
    if (!j.contains(key)) continue;
    if (!j.at(key).is_string()) fail(where, ": \"", key, "\" is ", j.at(key).type_name(), ", expected a string");
    (std::string(key) == "name" ? g.name : g.description) = j.at(key).get<std::string>();
  }
  g.max_mean_kl = bound(j, "max_mean_kl", 0, 1e9, where);
  g.max_p99_kl = bound(j, "max_p99_kl", 0, 1e9, where);
  g.min_same_top1 = bound(j, "min_same_top1", 0, 1, where);
  g.max_perplexity_ratio = bound(j, "max_perplexity_ratio", 0, 1e9, where);
  g.task_alpha = bound(j, "task_alpha", 0, 1, where);
  return g;
}

QualityGate load_gate(const std::string& path) {
  std::ifstream in(path);
  if (!in) fail(path, ": cannot open the gate file");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::parse_error& e) {
    fail(path, ": not valid JSON (", e.what(), ")");
  }
  QualityGate g = gate_from_json(j, path);
  if (g.name.empty()) g.name = path;
  return g;
}

GateVerdict apply_gate(const QualityGate& g, const ComparisonFigures& f) {
  GateVerdict v;
  auto upper = [&](const char* name, const char* label, const std::optional<double>& got, const std::optional<double>& bar) {
    if (!bar || !got) return;
    v.criteria.push_back(criterion(name, *got <= *bar, std::string(label) + " " + fmt("%.6g", *got) + " <= " + fmt("%.6g", *bar)));
  };
  upper("mean_kl", "mean KL (nats)", f.mean_kl, g.max_mean_kl);
  upper("p99_kl", "p99 KL (nats)", f.p99_kl, g.max_p99_kl);
  if (g.min_same_top1 && f.same_top1)
    v.criteria.push_back(criterion("same_top1", *f.same_top1 >= *g.min_same_top1,
                                   "same top-1 " + fmt("%.4f", *f.same_top1 * 100) + "% >= " + fmt("%.4g", *g.min_same_top1 * 100) + "%"));
  upper("perplexity_ratio", "perplexity ratio", f.perplexity_ratio, g.max_perplexity_ratio);
  if (g.task_alpha) {
    for (const auto& t : f.tasks) {
      int64_t only_inc = 0, only_cand = 0, inc = 0, cand = 0;
      for (size_t i = 0; i < t.incumbent_correct.size(); ++i) {
        inc += t.incumbent_correct[i];
        cand += t.candidate_correct[i];
        only_inc += t.incumbent_correct[i] && !t.candidate_correct[i];
        only_cand += !t.incumbent_correct[i] && t.candidate_correct[i];
      }
      const double p = mcnemar_exact_p(only_inc, only_cand);
      const bool significant_drop = cand < inc && p < *g.task_alpha;
      const std::string n = std::to_string(t.incumbent_correct.size());
      v.criteria.push_back(criterion("task " + t.name, !significant_drop,
                                     "task " + t.name + " " + std::to_string(inc) + "/" + n + " -> " + std::to_string(cand) +
                                         "/" + n + " (McNemar p " + fmt("%.4g", p) + ", drop significant below " +
                                         fmt("%.3g", *g.task_alpha) + ")"));
    }
  }
  v.pass = !v.criteria.empty();
  for (const auto& c : v.criteria) v.pass = v.pass && c.pass;
  return v;
}

}  // namespace synaptix::eval
