#include "synaptix/registry/recipe_in_context.h"

#include <algorithm>
#include <cstdio>
#include <vector>

#include "synaptix/graph/op_graph.h"

namespace synaptix::registry {

std::string recipe_kernel_bucket(const RecipeKernel& k) { return graph::rows_bucket_name(k.m_lo, k.m_hi); }

std::string recipe_kernel_group(const RecipeKernel& k) { return recipe_kernel_bucket(k) + " " + k.generator; }

Recipe recipe_without_groups(const Recipe& r, const std::set<std::string>& removed) {
  Recipe v = r;
  v.kernels.clear();
  for (const auto& k : r.kernels)
    if (!removed.count(recipe_kernel_group(k))) v.kernels.push_back(k);
  return v;
}

InContextVerdicts check_recipe_groups(const Recipe& r, const StepTimeFn& step_ms, double min_gain,
                                      const std::function<bool()>& out_of_time) {
  // The prefill buckets first, largest first (their steps are the longest, and a bad prefill kernel costs the
  // most), then the decode buckets from batch 1 up; each bucket's groups in the order the recipe lists them.
  std::vector<const RecipeKernel*> prefill;
  for (const auto& k : r.kernels)
    if (k.m_hi > 64) prefill.push_back(&k);
  std::stable_sort(prefill.begin(), prefill.end(),
                   [](const RecipeKernel* a, const RecipeKernel* b) { return a->m_hi > b->m_hi; });
  std::vector<std::string> order;
  for (const auto* k : prefill)
    if (std::find(order.begin(), order.end(), recipe_kernel_bucket(*k)) == order.end()) order.push_back(recipe_kernel_bucket(*k));
  for (const auto& b : graph::decode_buckets()) order.push_back(b.name);
  std::vector<std::pair<std::string, std::vector<std::string>>> groups;
  for (const auto& bucket : order) {
    std::vector<std::string> keys;
    for (const auto& k : r.kernels) {
      const std::string key = recipe_kernel_group(k);
      if (recipe_kernel_bucket(k) == bucket && std::find(keys.begin(), keys.end(), key) == keys.end()) keys.push_back(key);
    }
    if (!keys.empty()) groups.emplace_back(bucket, std::move(keys));
  }
  InContextVerdicts v;
  for (const auto& [bucket, keys] : groups) {
    const auto time_without = [&](const std::set<std::string>& removed) {
      return step_ms(recipe_without_groups(r, removed), bucket);
    };
    double with_ms = -1;
    for (const auto& key : keys) {
      if (v.out_of_time || out_of_time()) {
        v.out_of_time = true;
        v.lines.push_back({{"group", key}, {"verdict", "unchecked (out of time)"}});
        continue;
      }
      if (with_ms < 0) with_ms = time_without(v.dropped);
      std::set<std::string> trial = v.dropped;
      trial.insert(key);
      double without_ms = time_without(trial);
      bool drop = without_ms < with_ms * (1 - min_gain);
      if (drop) {
        // Once more, both sides, so one noisy run cannot drop a kernel.
        with_ms = time_without(v.dropped);
        without_ms = time_without(trial);
        drop = without_ms < with_ms * (1 - min_gain);
      }
      char buf[160];
      std::snprintf(buf, sizeof buf, "%s step %.3f ms with, %.3f ms without", bucket.c_str(), with_ms, without_ms);
      v.lines.push_back({{"group", key}, {"with_ms", with_ms}, {"without_ms", without_ms},
                         {"verdict", drop ? "dropped" : "kept"}});
      if (drop) {
        v.dropped.insert(key);
        v.why[key] = std::string("slower in context than the default: ") + buf;
        with_ms = without_ms;
      }
    }
  }
  return v;
}

void drop_recipe_groups(Recipe& r, const InContextVerdicts& v) {
  std::vector<RecipeKernel> kept;
  for (auto& k : r.kernels) {
    const std::string key = recipe_kernel_group(k);
    if (!v.dropped.count(key)) {
      kept.push_back(std::move(k));
      continue;
    }
    r.untuned.push_back({{"signature", k.signature}, {"baseline_us", k.baseline_us},
                         {"dropped", k.generator + " " + k.params.dump() + ": " + v.why.at(key)}});
  }
  r.kernels = std::move(kept);
}

}  // namespace synaptix::registry
