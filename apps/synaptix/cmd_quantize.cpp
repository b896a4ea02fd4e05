// synaptix quantize: the quantization search on the CPU. For each layer (its seven projections) and each
// format of --formats, the KL divergence of the next-token distributions on calibration text when that
// layer alone is quantized (the rest as loaded), its bytes, and the decode speed of its linears in that
// format; then a format per layer under --budget (or, without one, each layer's smallest format whose KL
// alone stays within the gate's mean-KL bar shared over the layers), quantized by --method (rtn, or gptq
// calibrated on the same text), scored against the model as loaded on held-out windows by the quality gate.
// Only a candidate that passes is written: --out gets a runtime recipe whose "quant" section holds every
// tensor's format, the table and the gate's figures (with --recipe BASE, BASE's kernels too), and the
// quantized bytes go to the cache the loader reads (model/quantized_model.h).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <optional>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "synaptix/agents/quant/activation_capture.h"
#include "synaptix/agents/quant/gptq.h"
#include "synaptix/agents/quant/quant_search.h"
#include "synaptix/backend/cache_dir.h"
#include "synaptix/command.h"
#include "synaptix/core/error.h"
#include "synaptix/core/mapped_file.h"
#include "synaptix/engine/cpu_executor.h"
#include "synaptix/eval/perplexity.h"
#include "synaptix/eval/quality_gate.h"
#include "synaptix/hw/cpu_profile.h"
#include "synaptix/kernels/linear/reference.h"
#include "synaptix/model/gguf_model.h"
#include "synaptix/model/quantized_model.h"
#include "synaptix/model/tokenizer.h"
#include "synaptix/quant/block_dtype.h"
#include "synaptix/quant/quant_recipe.h"
#include "synaptix/quant/weight_format.h"
#include "synaptix/quant/weight_quantize.h"
#include "synaptix/registry/recipe.h"

namespace synaptix::app {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct Options {
  std::string model, target = "cpu", formats = "int8-pc,int4-g64", budget, gate = "4bit", method = "rtn", text, out,
              cache, base;
  int64_t ctx = 128, calib_windows = 2, eval_windows = 2;
};

// "96MiB", "1.5GiB", "500000" (bytes); 0 for "".
int64_t parse_bytes(const std::string& s) {
  if (s.empty()) return 0;
  size_t used = 0;
  double v = 0;
  try {
    v = std::stod(s, &used);
  } catch (const std::exception&) {
    fail("--budget ", s, ": not a size (expected bytes or a number with KiB, MiB or GiB)");
  }
  const std::string unit = s.substr(used);
  const double mul = unit.empty() || unit == "B" ? 1 : unit == "KiB" ? 1024.0 : unit == "MiB" ? 1048576.0
                     : unit == "GiB" ? 1073741824.0 : -1;
  if (mul < 0 || v <= 0) fail("--budget ", s, ": not a size (expected bytes or a number with KiB, MiB or GiB)");
  return static_cast<int64_t>(v * mul);
}

std::vector<DType> parse_formats(const std::string& list) {
  std::vector<DType> out;
  std::stringstream ss(list);
  for (std::string name; std::getline(ss, name, ',');) {
    const quant::WeightFormat* f = quant::weight_format_named(name);
    if (!f) fail("--formats: \"", name, "\" is not a weight format (expected some of ", quant::weight_format_names(), ")");
    out.push_back(f->dtype);
  }
  if (out.empty()) fail("--formats: no format given");
  return out;
}

std::string gate_path(const std::string& g) {
  if (fs::exists(g)) return g;
  const std::string shipped = std::string(SYNAPTIX_SOURCE_DIR) + "/eval/gates/" + g + ".json";
  if (fs::exists(shipped)) return shipped;
  fail("--gate ", g, ": no such file, and no shipped gate eval/gates/", g, ".json");
}

void progress(int64_t done, int64_t total) { std::fprintf(stderr, "\rsensitivity %lld/%lld", (long long)done, (long long)total); }

// Median microseconds of one decode-shaped (m = 1) call of the runtime default per matrix of `names` as they
// are now, summed: what one token costs in this layer's linears.
double layer_decode_us(const model::Model& m, const agents::QuantizedTensors& q, const std::vector<std::string>& names) {
  double total = 0;
  for (const auto& n : names) {
    const model::TensorRef& t = **q.slots().at(n);
    std::vector<float> x(static_cast<size_t>(t.shape[1]), 0.5f), y(static_cast<size_t>(t.shape[0]));
    const kernels::LinearArgs a{x.data(), t.data, t.dtype, nullptr, y.data(), 1, t.shape[0], t.shape[1]};
    std::vector<double> us;
    for (int rep = 0; rep < 5; ++rep) {
      const auto t0 = std::chrono::steady_clock::now();
      kernels::linear_default(a);
      us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(us.begin(), us.end());
    total += us[2];
  }
  (void)m;
  return total;
}

json figures_json(const eval::ComparisonFigures& f) {
  return {{"mean_kl", *f.mean_kl}, {"p99_kl", *f.p99_kl}, {"same_top1", *f.same_top1}, {"perplexity_ratio", *f.perplexity_ratio}};
}

std::string iso_now() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

int run(const Options& o) {
  if (!o.base.empty()) {  // refuse a base recipe that cannot take formats before the search's minutes
    const registry::Recipe b = registry::load_recipe(o.base);
    if (b.target_kind != "cpu")
      fail("--recipe ", o.base, ": a ", b.target_kind, " recipe (the weight formats run on --target cpu only)");
  }
  if (o.target != "cpu") fail("--target ", o.target, ": quantize searches CPU formats only (expected cpu)");
  if (o.method != "rtn" && o.method != "gptq") fail("--method ", o.method, ": expected rtn or gptq");
  const std::vector<DType> formats = parse_formats(o.formats);
  const int64_t budget = parse_bytes(o.budget);
  const eval::QualityGate gate = eval::load_gate(gate_path(o.gate));
  const std::string text_path =
      o.text.empty() ? std::string(SYNAPTIX_SOURCE_DIR) + "/../shared/data/tinystories_val.txt" : o.text;
  const std::string cache_dir = o.cache.empty() ? backend::default_cache_dir() + "/quant" : o.cache;

  // A GGUF file is expanded to bf16 first: the formats are chosen from the model's values, not its blocks.
  auto m = model::load_model(o.model, model::GgufWeights::Bf16);
  const auto tok = model::Tokenizer::load(o.model);
  eval::PerplexityOptions po;
  po.ctx = o.ctx;
  const int64_t windows = o.calib_windows + o.eval_windows;
  std::string text = read_text_file(text_path);
  // Enough text for the windows (a token is rarely more than 16 bytes), not the whole file.
  text.resize(std::min<size_t>(text.size(), static_cast<size_t>(windows * o.ctx * 16)));
  const std::vector<int32_t> ids = tok.encode(text, false);
  std::fprintf(stderr, "calibration: %s, %lld windows of %lld tokens; held out: %lld windows\n", text_path.c_str(),
               (long long)o.calib_windows, (long long)o.ctx, (long long)o.eval_windows);

  agents::QuantizedTensors rtn(*m);
  const auto groups = agents::layer_groups(*m);
  agents::KlScorer calib(*m, ids, po, 0, o.calib_windows);
  calib.save_reference();
  const agents::SensitivityTable table = agents::layer_sensitivity(rtn, calib, groups, formats, progress);
  std::fprintf(stderr, "\n");

  // Decode speed of layer 0's linears per format (every layer has the same shapes).
  std::vector<double> speed(formats.size(), 0);
  const double loaded_us = layer_decode_us(*m, rtn, groups[0]);
  for (size_t f = 0; f < formats.size(); ++f) {
    if (!rtn.applicable(groups[0], formats[f])) continue;
    rtn.set(groups[0], formats[f]);
    speed[f] = layer_decode_us(*m, rtn, groups[0]);
    rtn.set(groups[0], DType::F32);
  }

  // The table: layer x format, bytes, KL, decode time of the layer's linears.
  std::printf("%-6s", "layer");
  for (DType f : formats) std::printf("  %-28s", std::string(dtype_name(f)).c_str());
  std::printf("\n%-6s", "");
  for (size_t f = 0; f < formats.size(); ++f) std::printf("  %-28s", "bytes / mean KL / us per token");
  std::printf("\n");
  json jt = json::array();
  for (size_t g = 0; g < groups.size(); ++g) {
    std::printf("%-6zu", g);
    for (size_t f = 0; f < formats.size(); ++f) {
      const auto& c = table[g][f];
      if (!c.applicable) {
        std::printf("  %-28s", "n/a (rows not whole groups)");
        continue;
      }
      char cell[64];
      std::snprintf(cell, sizeof cell, "%lld / %.2e / %.0f", (long long)c.bytes, c.mean_kl, speed[f]);
      std::printf("  %-28s", cell);
      jt.push_back({{"layer", g}, {"format", dtype_name(formats[f])}, {"bytes", c.bytes}, {"mean_kl", c.mean_kl},
                    {"decode_us", speed[f]}});
    }
    std::printf("\n");
  }
  std::printf("as loaded: %.0f us per token in a layer's linears (measured once, on a shared machine: indicative)\n",
              loaded_us);

  const double kl_per_group = gate.max_mean_kl.value_or(0.01) / static_cast<double>(groups.size());
  const std::vector<int> pick = agents::assign_formats(table, budget, kl_per_group);
  quant::QuantRecipe recipe;
  recipe.model = o.model;
  recipe.method = o.method;
  int64_t loaded_bytes = 0, assigned_bytes = 0;
  for (size_t g = 0; g < groups.size(); ++g) {
    for (const auto& n : groups[g]) loaded_bytes += static_cast<int64_t>((*rtn.slots().at(n))->nbytes);
    if (pick[g] < 0) {
      for (const auto& n : groups[g]) assigned_bytes += static_cast<int64_t>((*rtn.slots().at(n))->nbytes);
      continue;
    }
    assigned_bytes += table[g][static_cast<size_t>(pick[g])].bytes;
    for (const auto& n : groups[g]) recipe.tensors[n] = formats[static_cast<size_t>(pick[g])];
  }
  std::printf("assignment: %zu of %zu layers quantized, %lld bytes of projections (as loaded %lld)%s\n",
              recipe.tensors.size() / std::max<size_t>(1, groups[0].size()), groups.size(), (long long)assigned_bytes,
              (long long)loaded_bytes, budget && assigned_bytes > budget ? " - over the budget: no smaller formats left" : "");
  if (recipe.tensors.empty()) {
    std::printf("nothing to quantize within the rule; no recipe written\n");
    return 2;
  }

  // GPTQ: the inputs of every projection on the calibration windows, from the model as loaded.
  std::unique_ptr<agents::ActivationCapture> capture;
  model::TensorQuantizer quantizer;
  if (o.method == "gptq") {
    std::map<const void*, std::string> w;
    for (const auto& [name, slot] : rtn.slots()) w[(*slot)->data] = name;
    capture = std::make_unique<agents::ActivationCapture>(w, o.calib_windows * o.ctx);
    auto ex = engine::make_cpu_executor(*m, eval::window_kv(po), capture.get());
    eval::ScoredWindow sw;
    for (int64_t win = 0; win < o.calib_windows; ++win) eval::score_window(*ex, ids, win, po, sw);
    quantizer = [&, factors = std::make_shared<std::map<uint64_t, std::optional<agents::GptqFactor>>>()](
                    const std::string& name, const quant::WeightFormat& f, const float* wv, int64_t n, int64_t k, uint8_t* out) {
      const auto& r = capture->rows(name);
      if (r.rows == 0 || r.k != k) return quant::quantize_rows(f, wv, n, k, out);
      // q, k and v (gate and up) read the same x: one factor for them.
      auto [it, fresh] = factors->try_emplace(capture->rows_hash(name));
      if (fresh) it->second = agents::gptq_factor(r.x.data(), r.rows, k);
      if (it->second) agents::gptq_quantize(f, wv, n, k, *it->second, out);
      else quant::quantize_rows(f, wv, n, k, out);
    };
  }
  agents::QuantizedTensors chosen(*m, quantizer);
  agents::KlScorer held_out(*m, ids, po, o.calib_windows, o.eval_windows);
  held_out.save_reference();
  for (const auto& [name, d] : recipe.tensors) chosen.set({name}, d);
  const eval::ComparisonFigures fig = held_out.compare();
  json report = {{"candidate", figures_json(fig)}};
  if (o.method == "gptq") {  // the same assignment rounded to nearest, for comparison
    for (const auto& [name, d] : recipe.tensors) rtn.set({name}, d);
    const eval::ComparisonFigures rf = held_out.compare();
    report["rtn_same_assignment"] = figures_json(rf);
    std::printf("same assignment rounded to nearest: mean KL %.4e, same top-1 %.4f; %s: mean KL %.4e, same top-1 %.4f\n",
                *rf.mean_kl, *rf.same_top1, o.method.c_str(), *fig.mean_kl, *fig.same_top1);
  }
  for (const auto& [name, slot] : chosen.slots()) chosen.set({name}, DType::F32);
  const eval::GateVerdict v = eval::apply_gate(gate, fig);
  for (const auto& c : v.criteria) std::printf("%s\n", c.line.c_str());
  std::printf("gate %s: %s\n", gate.name.c_str(), v.pass ? "PASS" : "FAIL");
  if (!v.pass) {
    std::printf("the candidate did not pass the gate; no recipe written\n");
    return 2;
  }
  // The loader's cache gets the chosen bytes (GPTQ's cannot be rebuilt from the recipe alone).
  const model::QuantApplied applied = model::apply_quant_recipe(
      *m, recipe, cache_dir, [&](const std::string& name, const quant::WeightFormat& f, const float*, int64_t, int64_t, uint8_t* out) {
        const model::OwnedTensor* t = chosen.made(name, f.dtype);
        std::copy(t->bytes.begin(), t->bytes.end(), out);
      });
  json& notes = recipe.notes;
  notes["table"] = jt;
  notes["gate"] = {{"name", gate.name}, {"pass", v.pass}};
  for (const auto& c : v.criteria) notes["gate"]["criteria"].push_back(c.line);
  notes["figures"] = report;
  notes["calibration"] = {{"text", text_path}, {"ctx", o.ctx}, {"windows", o.calib_windows}, {"held_out_windows", o.eval_windows}};
  notes["bytes"] = {{"loaded", loaded_bytes}, {"quantized", assigned_bytes}};
  // The formats become the "quant" section of a runtime recipe: --recipe BASE's (its kernels kept), else a
  // recipe of this CPU with no kernels yet.
  registry::Recipe out = o.base.empty() ? registry::Recipe{} : registry::load_recipe(o.base);
  if (o.base.empty()) {
    const hw::CpuProfile cpu = hw::probe_cpu(/*measure=*/false);
    out.model = {{"path", o.model}, {"model_type", m->spec.model_type}};
    out.target_fingerprint = cpu.fingerprint();
    out.target_hash = cpu.fingerprint_hash();
    out.target = hw::to_json(cpu);
    out.created = iso_now();
  }
  out.quant = recipe;
  registry::save_recipe(out, o.out);
  std::printf("wrote %s (%lld tensors in the recipe's quant section%s); quantized weights cached in %s\n",
              o.out.c_str(), (long long)recipe.tensors.size(),
              o.base.empty() ? "" : (", kernels of " + o.base).c_str(), applied.cache_file.c_str());
  return 0;
}

const RegisterCommand quantize_cmd{Command{
    "quantize", "Search weight formats per layer under a memory budget and the quality gate; write a quantization recipe",
    [](CLI::App& sub) -> std::function<int()> {
      auto o = std::make_shared<Options>();
      sub.add_option("--model", o->model, "Hugging Face model directory or GGUF file (expanded to bf16 first)")->required();
      sub.add_option("--target", o->target, "cpu")->capture_default_str();
      sub.add_option("--formats", o->formats, "weight formats to try, comma-separated (" + quant::weight_format_names() + ")")
          ->capture_default_str();
      sub.add_option("--budget", o->budget, "bytes the projections may take (e.g. 60MiB); none: a KL rule per layer");
      sub.add_option("--gate", o->gate, "quality gate: eval/gates/NAME.json or a path")->capture_default_str();
      sub.add_option("--method", o->method, "rtn | gptq (calibrated on the same text)")->capture_default_str();
      sub.add_option("--text", o->text, "calibration text (default ../shared/data/tinystories_val.txt)");
      sub.add_option("--ctx", o->ctx, "tokens per window")->check(CLI::Range(int64_t{8}, int64_t{1} << 16))->capture_default_str();
      sub.add_option("--calib-windows", o->calib_windows, "windows for sensitivity and calibration")
          ->check(CLI::Range(int64_t{1}, int64_t{1024}))->capture_default_str();
      sub.add_option("--eval-windows", o->eval_windows, "held-out windows the gate scores")
          ->check(CLI::Range(int64_t{1}, int64_t{1024}))->capture_default_str();
      sub.add_option("--cache", o->cache, "quantized weight cache directory (default $SYNAPTIX_CACHE_DIR/quant, the one the runtime reads)");
      sub.add_option("--recipe", o->base, "a tuned CPU recipe whose kernels the written recipe keeps");
      sub.add_option("--out", o->out,
                     "the recipe to write: its \"quant\" section names every tensor's format (generate|serve|bench|"
                     "eval --recipe run it)")->required();
      return [o] { return run(*o); };
    }}};

}  // namespace
}  // namespace synaptix::app
