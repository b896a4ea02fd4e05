#include "synaptix/tune_in_context.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <numeric>
#include <random>
#include <vector>

#include "synaptix/core/error.h"
#include "synaptix/executor_factory.h"
#include "synaptix/graph/op_graph.h"
#include "synaptix/recipe_model.h"
#include "synaptix/registry/recipe_in_context.h"

namespace synaptix::app {

namespace {

using clock = std::chrono::steady_clock;

double seconds_since(clock::time_point t0) { return std::chrono::duration<double>(clock::now() - t0).count(); }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// One bucket's step on an executor built from a recipe variant, in milliseconds (the fastest of the timed
// runs for prefill, the median of the decode steps).
class StepTimer {
 public:
  StepTimer(const model::Model& m, const InContextOptions& o) : m_(m), o_(o) {
    // Lengths the model can hold (a small model may have fewer positions than the defaults).
    const int64_t maxp = m.spec.max_position_embeddings > 0 ? m.spec.max_position_embeddings : (int64_t{1} << 20);
    o_.prefill_chunk = std::clamp<int64_t>(o_.prefill_chunk, 1, maxp);
    o_.decode_context = std::clamp<int64_t>(o_.decode_context, 0, std::max<int64_t>(0, maxp - 2 * kDecodeStepsMax));
    std::mt19937 rng(7);
    std::uniform_int_distribution<int32_t> tok(0, static_cast<int32_t>(m.spec.vocab_size - 1));
    tokens_.resize(static_cast<size_t>(std::max({o_.prefill_chunk, o_.decode_context, int64_t{1}})));
    for (auto& t : tokens_) t = tok(rng);
  }

  // Prefill: one chunk of `tokens` from position 0 (a bucket's largest chunk, at most the tuned chunk).
  double prefill_ms(const std::string& recipe, int64_t tokens) const {
    const std::vector<int64_t> lengths = {std::clamp<int64_t>(tokens, 1, o_.prefill_chunk)};
    const int64_t longest = lengths.front();
    engine::KvConfig kv;
    kv.num_blocks = (longest + kv.block_size - 1) / kv.block_size;
    auto bundle = make_executor(m_, Target{}, kv, recipe);
    std::vector<int32_t> table(static_cast<size_t>(kv.num_blocks));
    std::iota(table.begin(), table.end(), 0);
    std::vector<float> logits;
    const auto run = [&](int64_t n) {
      const engine::SeqChunk c{std::span<const int32_t>(tokens_.data(), static_cast<size_t>(n)), 0, table, false};
      const auto t0 = clock::now();
      bundle.executor->step({&c, 1}, logits);
      return seconds_since(t0);
    };
    run(lengths.front());  // untimed: first touches of the executor's buffers
    double total = 0;
    for (int64_t n : lengths) {
      // At least `repeats` timed runs and kMinSeconds of them (short steps on a busy machine are noisy); the
      // fastest is what the verdict compares: interference only ever adds time.
      std::vector<double> ms;
      double spent = 0;
      while (static_cast<int>(ms.size()) < std::max(o_.repeats, 1) || (spent < kMinSeconds && static_cast<int>(ms.size()) < kMaxRuns)) {
        const double t = run(n);
        ms.push_back(t * 1e3);
        spent += t;
      }
      total += *std::min_element(ms.begin(), ms.end());
    }
    return total;
  }

  // Decode: `batch` sequences of decode_context tokens each take one token per step. The context is
  // prefilled once and its full blocks are shared by every sequence (the timing reads them all the same); the
  // blocks the steps write are each sequence's own.
  double decode_ms(const std::string& recipe, int64_t batch) const {
    engine::KvConfig kv;
    const int64_t steps = kDecodeStepsMax;
    const int64_t shared = o_.decode_context / kv.block_size;
    const int64_t per_seq = (o_.decode_context + steps + 1 + kv.block_size - 1) / kv.block_size;
    const int64_t own = per_seq - shared;
    kv.num_blocks = shared + batch * own;
    auto bundle = make_executor(m_, Target{}, kv, recipe);
    std::vector<std::vector<int32_t>> tables(static_cast<size_t>(batch));
    for (int64_t b = 0; b < batch; ++b) {
      auto& t = tables[static_cast<size_t>(b)];
      for (int64_t i = 0; i < shared; ++i) t.push_back(static_cast<int32_t>(i));
      for (int64_t i = 0; i < own; ++i) t.push_back(static_cast<int32_t>(shared + b * own + i));
    }
    std::vector<float> logits;
    // The context (decode_context rounded down to whole blocks): one sequence's prefill fills the shared blocks.
    const int64_t ctx = shared * kv.block_size;
    if (ctx > 0) {
      const engine::SeqChunk c{std::span<const int32_t>(tokens_.data(), static_cast<size_t>(ctx)), 0, tables[0], false};
      bundle.executor->step({&c, 1}, logits);
    }
    std::vector<double> ms;
    double spent = 0;
    for (int64_t s = 0; s <= steps && (s <= o_.repeats || spent < kMinSeconds); ++s) {
      std::vector<engine::SeqChunk> chunks;
      for (int64_t b = 0; b < batch; ++b)
        chunks.push_back({std::span<const int32_t>(&tokens_[static_cast<size_t>((b + s) % static_cast<int64_t>(tokens_.size()))], 1),
                          ctx + s, tables[static_cast<size_t>(b)], false});
      const auto t0 = clock::now();
      bundle.executor->step(chunks, logits);
      const double t = seconds_since(t0);
      if (s > 0) ms.push_back(t * 1e3), spent += t;
    }
    return median(ms);
  }

  double bucket_ms(const std::string& recipe, const std::string& bucket) const {
    for (const auto& b : graph::decode_buckets())
      if (b.name == bucket) return decode_ms(recipe, b.hi);
    if (graph::is_prefill_bucket_name(bucket) && bucket != "prefill")
      return prefill_ms(recipe, std::stoll(bucket.substr(bucket.find('-') + 1)));
    fail("in-context check: no step for bucket \"", bucket, "\"");
  }

 private:
  static constexpr int kDecodeStepsMax = 64;  // decode steps at most per measurement (KV positions past the context)
  static constexpr int kMaxRuns = 32;         // prefill runs at most per length
  static constexpr double kMinSeconds = 0.25; // timed work per measurement, unless a cap comes first
  const model::Model& m_;
  InContextOptions o_;
  std::vector<int32_t> tokens_;
};

}  // namespace

nlohmann::json check_in_context(registry::Recipe& r, const std::string& model, const std::string& recipe_path,
                                const InContextOptions& o) {
  nlohmann::json v = {{"min_gain", o.min_gain}, {"prefill_chunk", o.prefill_chunk}, {"decode_context", o.decode_context}};
  if (r.kernels.empty()) {
    v["skipped"] = "no kernels";
    r.tuning["in_context"] = v;
    return v;
  }
  const auto t_start = clock::now();
  const std::string base_path = recipe_path + ".in-context-base.json";
  const std::string variant_path = recipe_path + ".in-context-variant.json";
  std::unique_ptr<model::Model> m;
  try {
    // The weights as the recipe's formats hold them (its quant section), as generate and bench load them.
    registry::save_recipe(r, base_path);
    m = load_model_for_recipe(model, base_path).model;
  } catch (const Error& e) {
    std::filesystem::remove(base_path);
    v["skipped"] = std::string("the model could not be loaded with its weights: ") + e.what();
    r.tuning["in_context"] = v;
    return v;
  }
  const StepTimer timer(*m, o);
  registry::InContextVerdicts c;
  try {
    c = registry::check_recipe_groups(
        r,
        [&](const registry::Recipe& variant, const std::string& bucket) {
          registry::save_recipe(variant, variant_path);
          return timer.bucket_ms(variant_path, bucket);
        },
        o.min_gain, [&] { return seconds_since(t_start) > o.seconds; });
  } catch (const Error& e) {
    // A step that cannot be timed leaves the recipe as the search made it, and says why.
    std::filesystem::remove(base_path);
    std::filesystem::remove(variant_path);
    v["skipped"] = std::string("a step could not be timed: ") + e.what();
    r.tuning["in_context"] = v;
    return v;
  }
  std::filesystem::remove(base_path);
  std::filesystem::remove(variant_path);
  for (const auto& line : c.lines) {
    std::string what = line["verdict"].get<std::string>();
    if (line.contains("with_ms"))
      what = std::to_string(line["with_ms"].get<double>()) + " ms with, " +
             std::to_string(line["without_ms"].get<double>()) + " ms without: " + what;
    std::fprintf(stderr, "in-context check: %-40s %s\n", line["group"].get<std::string>().c_str(), what.c_str());
  }
  registry::drop_recipe_groups(r, c);
  v["groups"] = c.lines;
  v["dropped_groups"] = static_cast<int64_t>(c.dropped.size());
  v["seconds"] = seconds_since(t_start);
  if (c.out_of_time) v["out_of_time"] = true;
  r.tuning["in_context"] = v;
  return v;
}

}  // namespace synaptix::app
