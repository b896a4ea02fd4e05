// synaptix bench: prefill and decode throughput of a model on a target, each beside its roofline measured in
// the same run (memory bandwidth for decode, FMA peak for prefill).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <map>
#include <numeric>
#include <random>

#include "synaptix/command.h"
#include "synaptix/flag_checks.h"
#include "synaptix/core/error.h"
#include "synaptix/core/thread_pool.h"
#include "synaptix/executor_factory.h"
#include "synaptix/hw/cpu_profile.h"
#include "synaptix/model/model.h"
#include "synaptix/recipe_model.h"

namespace synaptix::app {
namespace {

struct Options {
  std::string model, target = "cpu", recipe, weights = "native";
  int64_t prompt_tokens = 128, context = 128, decode_steps = 16, repeats = 3;
  std::vector<int64_t> batches = {1, 8};
  bool json_out = false;
};

using clock = std::chrono::steady_clock;

// FLOPs of one token through the linear layers (2 per weight actually used: MoE counts top-k experts).
double flops_per_token(const model::Spec& s) {
  const double h = static_cast<double>(s.hidden_size);
  double per_layer_attn = 2.0 * h * static_cast<double>(s.q_dim() * 2 + s.kv_dim() * 2);
  double total = 0;
  for (int64_t l = 0; l < s.num_layers; ++l) {
    const double mlp = s.layer_is_moe(l) ? 2.0 * 3.0 * h * static_cast<double>(s.moe_intermediate_size * s.num_experts_per_tok)
                                         : 2.0 * 3.0 * h * static_cast<double>(s.intermediate_size);
    total += per_layer_attn + mlp;
  }
  return total + 2.0 * h * static_cast<double>(s.vocab_size);
}

// Bytes of weights one decode step reads. MoE: with batch B, up to min(E, B*k) experts per layer.
double weight_bytes_per_step(const model::Model& m, int64_t batch) {
  const model::Spec& s = m.spec;
  double total = static_cast<double>(m.weight_bytes());
  if (!s.is_moe()) return total;
  const double frac = std::min(1.0, static_cast<double>(batch * s.num_experts_per_tok) / static_cast<double>(s.num_experts));
  double expert_bytes = 0;
  for (const auto& L : m.layers)
    for (const auto& e : L.experts) expert_bytes += static_cast<double>(e.gate->nbytes + e.up->nbytes + e.down->nbytes);
  return total - expert_bytes * (1.0 - frac);
}

// The dtypes the model's matrices are held in, with counts ("q4_1 x210, q8_0 x1"): says which GGUF blocks
// run natively and which were expanded to bf16 at load.
std::string held_dtypes(const model::Model& m) {
  std::map<std::string, int> n;
  auto add = [&](const model::TensorRef* t) {
    if (t) ++n[std::string(dtype_name(t->dtype))];
  };
  add(m.embed);
  if (m.lm_head != m.embed) add(m.lm_head);
  for (const auto& L : m.layers) {
    for (const model::TensorRef* t : {L.q, L.k, L.v, L.o, L.gate, L.up, L.down, L.router}) add(t);
    for (const auto& e : L.experts) add(e.gate), add(e.up), add(e.down);
  }
  std::string s;
  for (const auto& [d, c] : n) s += (s.empty() ? "" : ", ") + d + " x" + std::to_string(c);
  return s;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

int run(const Options& o) {
  // GGUF: the file's blocks as they are (native), or every matrix dequantized to bf16 at load.
  // A recipe's weight formats, if it has any, are applied at load (recipe_model.h; GGUF expanded to bf16 first).
  RecipeModel rm = load_model_for_recipe(o.model, o.recipe,
                                         o.weights == "bf16" ? model::GgufWeights::Bf16 : model::GgufWeights::Native);
  const auto& m = rm.model;
  const model::Spec& s = m->spec;
  const Target target = parse_target(o.target);
  if (target.kind != "cpu") fail("bench --target ", o.target, ": the GPU benchmark is bench/gpu/run.sh");
  const int64_t max_batch = *std::max_element(o.batches.begin(), o.batches.end());
  const int64_t ctx = std::max(o.prompt_tokens, o.context + o.decode_steps);
  engine::KvConfig kv;
  const int64_t blocks_per_seq = (ctx + kv.block_size - 1) / kv.block_size;
  kv.num_blocks = blocks_per_seq * std::max<int64_t>(max_batch, 1);
  auto bundle = make_executor(*m, target, kv, rm.executor_recipe);
  engine::Executor& ex = *bundle.executor;

  hw::CpuProfile cpu = hw::probe_cpu(/*measure=*/true);
  std::mt19937 rng(1);
  std::uniform_int_distribution<int32_t> tok(0, static_cast<int32_t>(s.vocab_size - 1));
  auto tables = std::vector<std::vector<int32_t>>(static_cast<size_t>(std::max<int64_t>(max_batch, 1)));
  for (size_t b = 0; b < tables.size(); ++b) {
    tables[b].resize(static_cast<size_t>(blocks_per_seq));
    std::iota(tables[b].begin(), tables[b].end(), static_cast<int32_t>(b * static_cast<size_t>(blocks_per_seq)));
  }
  std::vector<float> logits;
  nlohmann::json report = {{"model", o.model}, {"target", "cpu"}, {"cpu", cpu.model_name},
                           {"threads", ThreadPool::global().size()}, {"recipe", o.recipe},
                           {"mem_read_gbps", cpu.mem_read_gbps}, {"fma_gflops", cpu.fma_gflops},
                           {"weight_bytes", m->weight_bytes()}, {"weights", o.weights},
                           {"weight_dtypes", held_dtypes(*m)}};

  // Prefill: one chunk of prompt_tokens.
  {
    std::vector<int32_t> prompt(static_cast<size_t>(o.prompt_tokens));
    for (auto& t : prompt) t = tok(rng);
    std::vector<double> secs;
    for (int64_t r = 0; r < o.repeats; ++r) {
      engine::SeqChunk c{prompt, 0, tables[0], false};
      auto t0 = clock::now();
      ex.step({&c, 1}, logits);
      secs.push_back(std::chrono::duration<double>(clock::now() - t0).count());
    }
    const double tps = static_cast<double>(o.prompt_tokens) / median(secs);
    const double gflops = tps * flops_per_token(s) / 1e9;
    report["prefill"] = {{"tokens", o.prompt_tokens}, {"tokens_per_s", tps}, {"gflops", gflops},
                         {"ratio_to_fma_peak", cpu.fma_gflops > 0 ? gflops / cpu.fma_gflops : 0.0}};
  }

  // Decode at each batch size: every sequence holds `context` tokens, then decode_steps steps of B tokens.
  report["decode"] = nlohmann::json::array();
  for (int64_t B : o.batches) {
    std::vector<std::vector<int32_t>> seqs(static_cast<size_t>(B), std::vector<int32_t>(static_cast<size_t>(o.context)));
    for (auto& sq : seqs)
      for (auto& t : sq) t = tok(rng);
    std::vector<engine::SeqChunk> pre;
    for (int64_t b = 0; b < B; ++b) pre.push_back({seqs[b], 0, tables[b], false});
    ex.step(pre, logits);
    std::vector<int32_t> next(static_cast<size_t>(B));
    for (auto& t : next) t = tok(rng);
    std::vector<double> secs;
    for (int64_t step = 0; step < o.decode_steps; ++step) {
      std::vector<engine::SeqChunk> chunks;
      for (int64_t b = 0; b < B; ++b) chunks.push_back({std::span<const int32_t>(&next[b], 1), o.context + step, tables[b], false});
      auto t0 = clock::now();
      ex.step(chunks, logits);
      secs.push_back(std::chrono::duration<double>(clock::now() - t0).count());
    }
    const double step_s = median(secs);
    const double tps = static_cast<double>(B) / step_s;
    // f32 KV read per step: every sequence reads its whole context once per layer.
    const double kv_bytes = static_cast<double>(B) * static_cast<double>(o.context + o.decode_steps / 2) *
                            static_cast<double>(s.kv_dim() * 2 * 4 * s.num_layers);
    const double bytes = weight_bytes_per_step(*m, B) + kv_bytes;
    // The step is bound by memory (read weights + KV once) or by compute (2 FLOPs per weight per token),
    // whichever is slower: at batch 1 it is memory; at larger batches on few cores, compute.
    const double mem_tps = cpu.mem_read_gbps > 0 ? static_cast<double>(B) * cpu.mem_read_gbps * 1e9 / bytes : 0.0;
    const double flop_tps = cpu.fma_gflops > 0 ? cpu.fma_gflops * 1e9 / flops_per_token(s) : mem_tps;
    const double roof_tps = std::min(mem_tps, flop_tps);
    report["decode"].push_back({{"batch", B}, {"context", o.context}, {"tokens_per_s", tps},
                                {"step_ms", step_s * 1e3}, {"bytes_per_step", bytes},
                                {"roofline_tokens_per_s", roof_tps},
                                {"bound", mem_tps <= flop_tps ? "memory" : "compute"},
                                {"ratio_to_roofline", roof_tps > 0 ? tps / roof_tps : 0.0}});
  }

  if (o.json_out) {
    std::printf("%s\n", report.dump().c_str());
    return 0;
  }
  std::printf("model %s | %s | %d threads | weights %.3f GB (%s)%s\n", o.model.c_str(), cpu.model_name.c_str(),
              ThreadPool::global().size(), static_cast<double>(m->weight_bytes()) / 1e9, held_dtypes(*m).c_str(),
              o.recipe.empty() ? " | untuned" : (" | recipe " + o.recipe).c_str());
  std::printf("measured: memory read %.1f GB/s, f32 FMA peak %.1f GFLOP/s\n", cpu.mem_read_gbps, cpu.fma_gflops);
  const auto& p = report["prefill"];
  std::printf("%-22s %10.1f tok/s   %7.1f GFLOP/s = %5.1f%% of FMA peak\n",
              ("prefill " + std::to_string(o.prompt_tokens) + " tok").c_str(), p["tokens_per_s"].get<double>(),
              p["gflops"].get<double>(), 100.0 * p["ratio_to_fma_peak"].get<double>());
  for (const auto& d : report["decode"])
    std::printf("%-22s %10.2f tok/s   roofline %8.2f tok/s = %5.1f%% of the %s roofline\n",
                ("decode batch " + std::to_string(d["batch"].get<int64_t>())).c_str(), d["tokens_per_s"].get<double>(),
                d["roofline_tokens_per_s"].get<double>(), 100.0 * d["ratio_to_roofline"].get<double>(),
                d["bound"].get<std::string>().c_str());
  return 0;
}

const RegisterCommand reg{{"bench", "Measure prefill and decode throughput against the roofline", [](CLI::App& sub) {
  auto o = std::make_shared<Options>();
  sub.add_option("--model", o->model, "model directory")->required();
  sub.add_option("--target", o->target, "cpu");
  sub.add_option("--recipe", o->recipe, "tuned recipe");
  sub.add_option("--weights", o->weights, "GGUF matrices: native (the file's block types) or bf16 (expanded at load)")
      ->check(CLI::IsMember({"native", "bf16"}));
  sub.add_option("--prompt-tokens", o->prompt_tokens, "prefill length")->check(in_range(1, double(1 << 20)));
  sub.add_option("--context", o->context, "tokens already in each sequence's cache when decode is timed")->check(in_range(1, double(1 << 24)));
  sub.add_option("--decode-steps", o->decode_steps, "timed decode steps")->check(in_range(1, double(1 << 20)));
  sub.add_option("--batch", o->batches, "decode batch sizes")->delimiter(',')->check(in_range(1, kMaxThreads));
  sub.add_option("--repeats", o->repeats, "prefill repeats (median)")->check(in_range(1, 1000));
  sub.add_flag("--json", o->json_out, "print one JSON object");
  return [o] { return run(*o); };
}}};

}  // namespace
}  // namespace synaptix::app
