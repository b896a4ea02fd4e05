// synaptix gpu-bench: decode and prefill throughput of a model shape on a CUDA device, with random device
// weights (no files), each figure beside its measured ceiling: batch-1 decode against the HBM roofline
// (weight bytes per token / measured read bandwidth), prefill against the measured bf16 tensor-core GEMM rate.
// With --recipe R it measures what `serve --target cuda --recipe R` runs (plan, speed switches, precision,
// steps per launch: registry::cuda_setup) beside the untuned executor. Without one (or with --search) it
// also runs the whole-step search of `tune --target cuda` (tune/cuda/whole_step_search.h) for comparison.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <functional>
#include <map>
#include <optional>

#include <nlohmann/json.hpp>

#include "synaptix/backend/cuda/ceilings.h"
#include "synaptix/backend/cuda/device_buffer.h"
#include "synaptix/backend/cuda/device_random.h"
#include "synaptix/backend/cuda/event_timer.h"
#include "synaptix/backend/cuda/kernel_trace.h"
#include "synaptix/backend/cuda/launch/flash_attention.h"
#include "synaptix/command.h"
#include "synaptix/flag_checks.h"
#include "synaptix/core/error.h"
#include "synaptix/core/hash.h"
#include "synaptix/engine/cuda/cuda_executor.h"
#include "synaptix/hw/cuda/device_profile.h"
#include "synaptix/hw/cuda/driver.h"
#include "synaptix/cuda/decode_timing.h"
#include "synaptix/cuda/gpu_bench_fp8.h"
#include "synaptix/cuda/gpu_bench_gemv.h"
#include "synaptix/cuda/gpu_bench_kv.h"
#include "synaptix/cuda/gpu_bench_weights.h"
#include "synaptix/tune/cuda/linear_trials.h"
#include "synaptix/model/synth.h"
#include "synaptix/registry/builtin_recipes.h"
#include "synaptix/registry/cuda/cuda_recipe_setup.h"
#include "synaptix/registry/recipe.h"
#include "synaptix/tune/cuda/whole_step_search.h"
#include "synaptix/tune/tuning_db.h"

namespace synaptix::app {
namespace {

namespace kc = kernels::cuda;
using Clock = std::chrono::steady_clock;

struct Options {
  std::string like = "llama-3.1-8b";
  int device = 0;
  std::vector<int> batches = {1, 8, 32, 64};
  int context = 128;      // tokens already in each sequence's cache when decode is timed
  int decode_steps = 32;
  int prompt = 2048;
  bool tune = true;
  std::string db;         // tuning database; empty: tune::default_db_path()
  std::string json_out;   // full results
  bool accurate = true;   // also time the tuned plan under the default (f32-faithful) precision
  bool trace = false;     // a kernel timeline of the tuned batch-1 step (graph replays)
  bool pipelined = true;  // decode steps enqueued one ahead of reading their ids (host work overlapped)
  int steps_per_launch = 8;  // pipelined greedy steps per enqueue (multi-step graphs), capped by the executor
  std::string recipe;        // measure what serve runs with this recipe
  bool search = false;       // with a recipe: also run the whole-step search, for comparison
  std::vector<std::string> weights;  // weight formats to compare with bf16 (gpu_bench_weights.h) instead
  int quant_gemv_rows = 8;           // with --weights: CudaExecutorOptions::quant_gemv_max_rows
  int quant_mma_rows = 64;           // with --weights: CudaExecutorOptions::quant_mma_max_rows
  bool prefill = true;               // with --weights: also time a prefill per format
  bool gemv_sweep = true;            // with --weights: each format's GEMV alone over a grid of schedules
  std::vector<std::string> kv;       // KV cache formats to compare (gpu_bench_kv.h) instead
  int kv_fit_context = 4096;         // with --kv: the sequence length of the "sequences that fit" column
  bool gemv_families = false;        // the decode GEMV's register and bulk-copy families instead (gpu_bench_gemv.h)
  bool fp8_prefill = false;          // the W8A8 FP8 prefill products against the FP8 peak instead (gpu_bench_fp8.h)
};

// Progress on stderr, unbuffered, so a long run shows where it is.
void progress(const std::string& what) {
  std::fprintf(stderr, "[gpu-bench] %s\n", what.c_str());
  std::fflush(stderr);
}

DecodeTiming timing_of(const Options& o) {
  DecodeTiming t;
  t.context = o.context;
  t.decode_steps = o.decode_steps;
  t.prompt = o.prompt;
  t.pipelined = o.pipelined;
  t.steps_per_launch = o.steps_per_launch;
  return t;
}

DecodeResult bench_decode(engine::CudaExecutor& ex, int batch, const Options& o, int64_t blocks_per_seq,
                          const std::function<void()>& before_timed = {}) {
  return time_decode(ex, batch, timing_of(o), blocks_per_seq, before_timed);
}

// The prefill attention kernel alone at the prompt length (causal, one sequence, random bf16 cache):
// milliseconds per layer and its rate in TFLOP/s (QK^T and PV over the causal half).
std::pair<double, double> bench_flash_attention(const model::Spec& s, int prompt) {
  namespace bc = backend::cuda;
  const int64_t T = prompt, H = s.num_heads, KVH = s.num_kv_heads, D = s.head_dim, bs = 16;
  if (!kc::flash_attention_supports(D)) return {0, 0};
  bc::DeviceBuffer q(static_cast<size_t>(T * H * D) * 4), k(static_cast<size_t>(T * KVH * D) * 2),
      v(static_cast<size_t>(T * KVH * D) * 2), out(static_cast<size_t>(T * H * D) * 4);
  bc::fill_uniform_f32(q.ptr(), static_cast<size_t>(T * H * D), 1, 1.0f, nullptr);
  bc::fill_uniform_bf16(k.ptr(), static_cast<size_t>(T * KVH * D), 2, 1.0f, nullptr);
  bc::fill_uniform_bf16(v.ptr(), static_cast<size_t>(T * KVH * D), 3, 1.0f, nullptr);
  std::vector<int32_t> pos(static_cast<size_t>(T)), table(static_cast<size_t>((T + bs - 1) / bs)), tiles;
  for (int64_t i = 0; i < T; ++i) pos[static_cast<size_t>(i)] = static_cast<int32_t>(i);
  for (size_t i = 0; i < table.size(); ++i) table[i] = static_cast<int32_t>(i);
  for (int64_t i = 0; i < T; i += kc::kFlashTileTokens)
    tiles.insert(tiles.end(), {static_cast<int32_t>(i), static_cast<int32_t>(std::min(kc::kFlashTileTokens, T - i)), 0});
  bc::DeviceBuffer dpos(pos.size() * 4), dtab(table.size() * 4), dtiles(tiles.size() * 4);
  dpos.upload(pos.data(), pos.size() * 4);
  dtab.upload(table.data(), table.size() * 4);
  dtiles.upload(tiles.data(), tiles.size() * 4);
  kc::FlashAttentionArgs a;
  a.q = q.ptr(); a.q_stride = H * D; a.k_cache = k.ptr(); a.v_cache = v.ptr(); a.tiles = dtiles.ptr();
  a.num_tiles = static_cast<int64_t>(tiles.size() / 3); a.positions = dpos.ptr(); a.block_tables = dtab.ptr();
  a.table_stride = static_cast<int64_t>(table.size()); a.block_size = bs; a.heads = H; a.kv_heads = KVH; a.head_dim = D;
  a.scale = 1.0f / std::sqrt(static_cast<float>(D)); a.out = out.ptr();
  const auto st = bc::time_on_stream(nullptr, [&] { kc::flash_attention(a, nullptr); }, {3, 10, false});
  const double flops = 4.0 * H * D * (static_cast<double>(T) * (T + 1) / 2);
  return {st.median_ms, flops / (st.median_ms * 1e-3) / 1e12};
}

// The timeline of the batch-1 decode graph under `plan` (kernel_trace.h). Per launch of the captured step,
// averaged over the timed replays: the time from its predecessor's end to its own end (its share of the
// step), and how long its first block had been waiting for the predecessor (> 0: resident early, under
// PDL). The step's last launch also carries the host's turnaround to the next replay.
nlohmann::json trace_decode(engine::CudaExecutor& ex, const engine::CudaKernelPlan& plan, const Options& o,
                            int64_t blocks_per_seq) {
  namespace bc = backend::cuda;
  Options t = o;
  t.decode_steps = std::max<int>(16, static_cast<int>(4 * launch_steps(ex, 1, timing_of(o))));  // four replays at least
  bc::KernelTrace trace(static_cast<size_t>(64) << 10);
  ex.set_plan(plan);  // new graphs, captured with the traced kernels
  const DecodeResult d = bench_decode(ex, 1, t, blocks_per_seq, [&] { trace.clear(); });
  const std::vector<bc::TraceRecord> recs = trace.read();
  const std::vector<std::string> names = trace.captured_launches();
  const size_t N = names.size();
  nlohmann::json js = {{"step_ms", d.step_ms}, {"launches", N}, {"records", recs.size()}};
  if (N == 0 || recs.size() < 2 * N || recs.size() % N != 0) {
    progress("trace: " + std::to_string(recs.size()) + " records do not line up with " + std::to_string(N) +
             " launches per step; no timeline");
    return js;
  }
  const size_t R = recs.size() / N;
  // A replay runs `per` decode steps (multi-step graphs): the table is per step.
  const int64_t per = o.pipelined ? launch_steps(ex, 1, timing_of(o)) : 1;
  const double perd = static_cast<double>(per);
  std::vector<double> share(N, 0), waited(N, 0);
  for (size_t r = 0; r + 1 < R; ++r)
    for (size_t i = 0; i < N; ++i) {
      const bc::TraceRecord& a = recs[r * N + i];
      share[i] += static_cast<double>(recs[r * N + i + 1].wait_exit_ns - a.wait_exit_ns) / 1e3 / static_cast<double>(R - 1);
      waited[i] += static_cast<double>(a.wait_exit_ns - a.wait_enter_ns) / 1e3 / static_cast<double>(R - 1);
    }
  // By launch name (GEMVs are named with their shape): count per step, summed share, weight bandwidth.
  std::map<std::string, std::pair<int, double>> by_name;
  for (size_t i = 0; i + 1 < N; ++i) {
    auto& [count, us] = by_name[names[i]];
    ++count;
    us += share[i];
  }
  std::printf("\nbatch-1 decode timeline (%zu launches per replay of %lld steps, %zu replays, step %.3f ms by wall clock):\n", N,
              static_cast<long long>(per), R, d.step_ms);
  std::printf("%-28s %6s %10s %10s %12s\n", "launch", "count", "us/step", "us each", "weight GB/s");
  double total = 0;
  for (const auto& [name, cu] : by_name) {
    long long n = 0, k = 0;
    double gbps = 0;
    if (std::sscanf(name.c_str(), "gemv_bf16 %lldx%lld", &n, &k) == 2)
      gbps = static_cast<double>(n) * static_cast<double>(k) * 2 * cu.first / (cu.second * 1e-6) / 1e9;
    std::printf("%-28s %6.2f %10.1f %10.2f %12.0f\n", name.c_str(), cu.first / perd, cu.second / perd, cu.second / cu.first, gbps);
    js["by_name"].push_back({{"name", name}, {"count", cu.first / perd}, {"us_per_step", cu.second / perd}, {"weight_gbps", gbps}});
    total += cu.second / perd;
  }
  std::printf("%-28s %6s %10.1f   (+ the replay's last launch and the turnaround to the next: %.1f us, %.1f a step)\n", "sum", "",
              total, share[N - 1], share[N - 1] / perd);
  // One layer in order: from the middle launch to the next launch of the same name.
  size_t a = N / 2, b = a + 1;
  while (b < N && names[b] != names[a]) ++b;
  std::printf("one layer in order (launch: share us, first block waited us):\n");
  for (size_t i = a; i < std::min(b, N); ++i) std::printf("  %-28s %8.2f %8.2f\n", names[i].c_str(), share[i], waited[i]);
  for (size_t i = 0; i < N; ++i)
    js["launch"].push_back({{"name", names[i]}, {"share_us", share[i]}, {"waited_us", waited[i]}});
  return js;
}

int run(const Options& o) {
  progress("spec " + o.like);
  model::Spec spec = model::parse_spec(model::preset_config(o.like), o.like);
  nlohmann::json out;
  out["model"] = o.like;

  // 1. Isolated trials, crash-isolated in children, before this process initialises CUDA.
  tune::cuda::LinearTuneResult tuned;
  tune::WholeStepPlan searched;
  if (o.tune) {
    progress("isolated trials of the step's linear shapes");
    const std::string db = o.db.empty() ? tune::default_db_path() : o.db;
    tune::cuda::IsolatedTuning iso = tune::cuda::tune_isolated(spec, o.batches, o.prompt, o.device, db);
    progress("tuning done: " + std::to_string(iso.result.trials.size()) + " trials recorded in " + db);
    out["tuning"] = iso.report;
    tuned = std::move(iso.result);
    searched = std::move(iso.plan);
  }

  // 2. The device and its ceilings.
  progress("measuring ceilings");
  if (hw::cuda::driver_initialized()) progress("note: CUDA driver was initialised during tuning (in-process trials)");
  hw::cuda::DeviceProfile prof = hw::cuda::probe_device(o.device);
  hw::cuda::Context ctx(o.device);
  // The recipe's executor, exactly as serve and generate build it.
  std::optional<registry::Recipe> recipe;
  registry::CudaSetup setup;
  if (!o.recipe.empty()) {
    recipe = registry::load_recipe(o.recipe);
    registry::expand_gemv_rules(*recipe, spec);  // a device kind's defaults (recipes/*-defaults.json) state rules
    setup = registry::cuda_setup(&*recipe, "recipe " + o.recipe, prof.fingerprint(), std::nullopt);
    progress(setup.precision_note);
    out["recipe"] = {{"path", o.recipe}, {"precision", setup.precision_note}, {"steps_per_launch", setup.steps_per_launch}};
  }
  const auto bw = backend::cuda::measure_hbm_read_bandwidth(std::min<size_t>(4ull << 30, static_cast<size_t>(prof.total_memory / 4)));
  const auto peak = backend::cuda::measure_bf16_gemm_peak(8192);
  prof.hbm_read_gbps = bw.gbps;
  prof.bf16_tensor_tflops = peak.tflops;
  out["device"] = prof.to_json();
  const auto [fa_ms, fa_tflops] = bench_flash_attention(spec, o.prompt);
  out["flash_attention"] = {{"ms_per_layer", fa_ms}, {"tflops", fa_tflops}};
  progress("flash attention alone: " + std::to_string(fa_ms) + " ms per layer, " + std::to_string(fa_tflops) + " TFLOP/s");

  // 3. The model with random device weights; KV for the largest batch plus one prompt.
  const int max_batch = *std::max_element(o.batches.begin(), o.batches.end());
  engine::KvConfig kv;
  kv.block_size = 16;
  // Room for the timed steps (rounded up to whole launches) and the pipelined warm-up's three launches.
  Options sized = o;
  sized.steps_per_launch = std::max(o.steps_per_launch, static_cast<int>(setup.steps_per_launch));
  const int64_t blocks_per_seq = decode_blocks_per_seq(timing_of(sized));
  kv = decode_kv(timing_of(sized), max_batch);
  engine::CudaExecutorOptions eo = setup.options;  // a recipe's switches and precision
  eo.max_tokens_per_step = std::max(2048, o.prompt);
  if (!recipe) {
    // Headline rows: bf16 inference as frameworks run it (bf16 KV cache, one bf16 product per GEMM).
    eo.kv_f32 = false;
    eo.split_bf16 = false;
  }
  progress("random weights");
  auto ex = engine::make_cuda_executor_random(spec, 1, kv, o.device, eo);

  const int64_t h = spec.hidden_size;
  const double weight_gb = static_cast<double>(ex->weight_bytes()) / 1e9;
  // Bytes a batch-1 decode step must read: every weight once, except the embedding table (one row).
  // A token's MLP weights: a dense layer all of them, a MoE layer its router and its top-k experts (the other
  // experts' bytes are not read at batch 1, nor multiplied in prefill).
  double mlp_params = 0, unread_expert_bytes = 0;
  for (int64_t l = 0; l < spec.num_layers; ++l) {
    if (spec.is_moe() && spec.layer_is_moe(l)) {
      const double expert = 3.0 * static_cast<double>(h * spec.moe_intermediate_size);
      mlp_params += static_cast<double>(spec.num_experts_per_tok) * expert + static_cast<double>(spec.num_experts * h);
      unread_expert_bytes += 2.0 * expert * static_cast<double>(spec.num_experts - spec.num_experts_per_tok);
    } else {
      mlp_params += 3.0 * static_cast<double>(spec.intermediate_size * h);
    }
  }
  const double embed_bytes = static_cast<double>(spec.vocab_size * h * 2);
  const double token_bytes = static_cast<double>(ex->weight_bytes()) - (spec.tie_word_embeddings ? 0.0 : embed_bytes) -
                             unread_expert_bytes + h * 2;
  const double roofline_tok_s = bw.gbps * 1e9 / token_bytes;
  // Prefill FLOPs: 2 per weight per token for every matmul, plus causal attention (QK^T and PV).
  double matmul_params = mlp_params;
  matmul_params += static_cast<double>(spec.num_layers) *
                   static_cast<double>((spec.q_dim() + 2 * spec.kv_dim()) * h + h * spec.q_dim());
  matmul_params += static_cast<double>(spec.vocab_size * h) / o.prompt;  // the head runs for the last token only
  const double attn_flops = 2.0 * 2.0 * spec.num_layers * spec.num_heads * spec.head_dim * (static_cast<double>(o.prompt) * (o.prompt + 1) / 2);
  const double prefill_flops = 2.0 * matmul_params * o.prompt + attn_flops;

  nlohmann::json runs = nlohmann::json::array();
  struct Row { std::string name; std::vector<DecodeResult> dec; double prefill_s; };
  std::vector<Row> rows;
  // The whole-step search of `tune --target cuda`, for comparison with a recipe or on its own.
  engine::CudaKernelPlan plan = recipe ? setup.plan : engine::CudaKernelPlan{};
  if (o.tune) {
    Options quick = o;
    // As many timed steps as the final rows: with 16 the A B A B decisions between the first two decode
    // attentions came out against what the timeline and the final rows showed.
    quick.decode_steps = std::max(8, o.decode_steps);
    nlohmann::json in_context = nlohmann::json::array();
    tune::cuda::WholeStepSearchOptions so;
    so.batches = o.batches;
    so.gemv_max_rows = eo.gemv_max_rows;
    so.moe = spec.is_moe();
    so.progress = progress;
    searched = tune::cuda::search_whole_step(searched, tuned, whole_step_timer(*ex, timing_of(quick), blocks_per_seq), so,
                                             in_context);
    plan = registry::to_cuda_plan(searched, "the searched plan");
    out["in_context_choice"] = in_context;
  }
  const bool have_plan = o.tune || recipe.has_value();
  // Rows: the previous pipeline (separate norm/SwiGLU kernels, no PDL, CUDA-core prefill attention) as the
  // baseline of this run (also without the o_proj prefetch), then the fused pipeline untuned and tuned, and
  // tuned without PDL (its share).
  // Pipelined greedy decode runs o.steps_per_launch steps per launch (multi-step graphs); the baseline and
  // one tuned row run one step per launch, which was the pipeline before multi-step graphs.
  struct PlanRow {
    std::string name;
    engine::CudaKernelPlan plan;
    bool fuse, pdl, flash;
    int steps_per_launch;
  };
  std::vector<PlanRow> plans = {{"unfused-untuned", {}, false, false, false, 1}, {"untuned", {}, true, true, true, o.steps_per_launch}};
  if (o.tune) {
    plans.push_back({"tuned", plan, true, true, true, o.steps_per_launch});
    plans.push_back({"tuned-1-step", plan, true, true, true, 1});
    plans.push_back({"tuned-no-pdl", plan, true, false, true, o.steps_per_launch});
  }
  // The recipe's row: its plan, switches and steps per launch, as `serve --recipe` runs them.
  if (recipe)
    plans.push_back({"recipe", setup.plan, setup.options.fuse, setup.options.pdl, setup.options.flash_attention,
                     static_cast<int>(setup.steps_per_launch)});
  for (auto& [name, p, fuse, pdl, flash, steps] : plans) {
    ex->set_plan(p);
    ex->set_speed(fuse, pdl, flash, name == "recipe" ? setup.options.weight_prefetch : fuse);
    Row row{name, {}, 0};
    Options ro = o;
    ro.steps_per_launch = steps;
    for (int b : o.batches) {
      progress(name + ": decode batch " + std::to_string(b));
      row.dec.push_back(bench_decode(*ex, b, ro, blocks_per_seq));
    }
    progress(name + ": prefill");
    row.prefill_s = time_prefill(*ex, timing_of(o));
    nlohmann::json jr = {{"plan", name}};
    for (const auto& d : row.dec) jr["decode"].push_back({{"batch", d.batch}, {"tok_s", d.tok_s}, {"step_ms", d.step_ms}});
    jr["decode_b1_vs_roofline"] = row.dec.front().tok_s / roofline_tok_s;
    jr["prefill_tok_s"] = o.prompt / row.prefill_s;
    jr["prefill_ms"] = row.prefill_s * 1e3;
    jr["prefill_tflops"] = prefill_flops / row.prefill_s / 1e12;
    jr["prefill_vs_peak"] = prefill_flops / row.prefill_s / 1e12 / peak.tflops;
    runs.push_back(jr);
    rows.push_back(row);
  }
  // Where a batch-1 step goes, by ablation: the tuned step without RoPE and attention (wrong outputs; their
  // share of the step).
  double ablated_step_ms = 0;
  DecodeResult host_sync_b1;
  if (have_plan) {
    ex->set_plan(plan);
    ex->set_speed(true, true, true, true);
    ex->set_ablate_attention(true);
    ablated_step_ms = bench_decode(*ex, 1, o, blocks_per_seq).step_ms;
    ex->set_ablate_attention(false);
    out["decode_b1_step_without_attention_ms"] = ablated_step_ms;
    // And the tuned step with the host waiting for each step's ids before preparing the next.
    Options sync = o;
    sync.pipelined = false;
    host_sync_b1 = bench_decode(*ex, 1, sync, blocks_per_seq);
    out["decode_b1_tuned_host_sync"] = {{"tok_s", host_sync_b1.tok_s}, {"step_ms", host_sync_b1.step_ms}};
  }
  if (o.trace) {
    ex->set_speed(true, true, true, true);
    out["trace_b1"] = trace_decode(*ex, plan, o, blocks_per_seq);
    ex->set_plan(plan);  // drops the graphs of traced kernels (their buffer is gone)
  }
  if (o.accurate && have_plan && (!recipe || !eo.kv_f32 || !eo.split_bf16)) {
    // The executor's defaults (what verify and generate use): f32 KV cache, split-bf16 tensor-core inputs.
    ex.reset();
    engine::CudaExecutorOptions ea;
    ea.max_tokens_per_step = eo.max_tokens_per_step;
    progress("accurate-precision executor");
    auto exa = engine::make_cuda_executor_random(spec, 1, kv, o.device, ea);
    exa->set_plan(plan);
    // Its timeline too: it has decoded 0.3-0.6% faster than the bf16 cache in every session.
    if (o.trace) {
      out["trace_b1_f32kv_split"] = trace_decode(*exa, plan, o, blocks_per_seq);
      exa->set_plan(plan);  // drops the graphs of traced kernels
    }
    Row row{"tuned-f32kv-split", {}, 0};
    for (int b : o.batches) row.dec.push_back(bench_decode(*exa, b, o, blocks_per_seq));
    row.prefill_s = time_prefill(*exa, timing_of(o));
    nlohmann::json jr = {{"plan", row.name}};
    for (const auto& d : row.dec) jr["decode"].push_back({{"batch", d.batch}, {"tok_s", d.tok_s}, {"step_ms", d.step_ms}});
    jr["prefill_tok_s"] = o.prompt / row.prefill_s;
    runs.push_back(jr);
    rows.push_back(row);
  }
  // And the tuned GEMVs alone (each timed from cold L2) against the whole step.
  double gemv_us = 0;
  if (o.tune) {
    for (size_t i = 0; i < tuned.best.size(); ++i) {
      const tune::cuda::LinearTrial* t = tuned.best[i] >= 0 ? &tuned.trials[static_cast<size_t>(tuned.best[i])] : nullptr;
      if (!t || t->shape.m != 1) continue;
      gemv_us += t->shape.n == spec.vocab_size ? t->median_us : t->median_us * static_cast<double>(spec.num_layers);
    }
    out["decode_b1_gemv_sum_ms"] = gemv_us / 1e3;
  }
  out["ceilings"] = {{"hbm_read_gbps", bw.gbps}, {"bf16_tflops", peak.tflops}, {"decode_bytes_per_token", token_bytes},
                     {"roofline_b1_tok_s", roofline_tok_s}, {"prefill_flops", prefill_flops}};
  out["runs"] = runs;
  progress("writing results");
  if (!o.json_out.empty()) std::ofstream(o.json_out) << out.dump(2) << "\n";

  std::printf("\n%s on %s (%s), weights %.2f GB bf16\n", o.like.c_str(), prof.name.c_str(), prof.arch.c_str(),
              weight_gb);
  std::printf("measured: HBM read %.0f GB/s, bf16 GEMM 8192^3 %.0f TFLOP/s; batch-1 roofline %.1f tok/s (%.2f GB/token)\n",
              bw.gbps, peak.tflops, roofline_tok_s, token_bytes / 1e9);
  if (gemv_us > 0)
    std::printf("batch-1 step: tuned GEMVs alone %.2f ms (%.0f GB/s of weights), whole tuned step %.2f ms\n", gemv_us / 1e3,
                token_bytes / (gemv_us * 1e-6) / 1e9, rows.size() > 2 ? rows[2].dec.front().step_ms : 0.0);
  if (ablated_step_ms > 0)
    std::printf("batch-1 step without RoPE + attention (ablation): %.2f ms = %.1f%% of the roofline's bandwidth\n",
                ablated_step_ms, 100.0 * token_bytes / (ablated_step_ms * 1e-3) / 1e9 / bw.gbps);
  if (host_sync_b1.tok_s > 0)
    std::printf("batch-1 tuned, host waiting for each step before preparing the next (not pipelined): %.1f tok/s, %.3f ms/step\n",
                host_sync_b1.tok_s, host_sync_b1.step_ms);
  std::printf("prefill attention alone (tensor-core flash kernel, %d tokens): %.3f ms/layer = %.0f TFLOP/s (%.1f%% of peak)\n",
              o.prompt, fa_ms, fa_tflops, 100.0 * fa_tflops / peak.tflops);
  std::printf("%-17s", "plan");
  for (int b : o.batches) std::printf(" | decode b=%-3d tok/s", b);
  std::printf(" | b1/roofline | prefill %d tok/s | prefill/peak\n", o.prompt);
  for (const Row& r : rows) {
    std::printf("%-17s", r.name.c_str());
    for (const auto& d : r.dec) std::printf(" | %19.1f", d.tok_s);
    std::printf(" | %10.1f%% | %17.0f | %11.1f%%\n", 100.0 * r.dec.front().tok_s / roofline_tok_s, o.prompt / r.prefill_s,
                100.0 * prefill_flops / r.prefill_s / 1e12 / peak.tflops);
  }
  std::fflush(stdout);
  return 0;
}

const RegisterCommand reg{{"gpu-bench", "Decode/prefill throughput on a CUDA device vs measured ceilings (random weights)",
                           [](CLI::App& sub) {
  auto o = std::make_shared<Options>();
  sub.add_option("--like", o->like, "model preset")->capture_default_str();
  sub.add_option("--device", o->device, "CUDA device index")->capture_default_str()->check(in_range(0, 1023));
  CLI::Option* batches = sub.add_option("--batches", o->batches, "decode batch sizes")->delimiter(',')->check(in_range(1, 256));
  sub.add_option("--context", o->context, "tokens in each sequence before timed decode")
      ->capture_default_str()
      ->check(in_range(1, double(1 << 24)));
  sub.add_option("--decode-steps", o->decode_steps, "timed decode steps")->capture_default_str()->check(in_range(1, double(1 << 20)));
  sub.add_option("--prompt", o->prompt, "prefill prompt length")->capture_default_str()->check(in_range(1, double(1 << 20)));
  sub.add_option("--db", o->db, "tuning database (default: the cache directory's)");
  sub.add_option("--json", o->json_out, "write full results as JSON here");
  sub.add_flag("!--no-tune", o->tune, "skip the search (untuned only, or the recipe's rows)");
  sub.add_option("--recipe", o->recipe, "measure this recipe (from `tune --target cuda`) as serve runs it");
  sub.add_flag("--search", o->search, "with --recipe: also run the whole-step search, for comparison");
  sub.add_flag("!--no-accurate", o->accurate, "skip the run under the default (f32 KV, split-bf16) precision");
  sub.add_flag("--trace", o->trace, "print a kernel timeline of the tuned batch-1 decode step");
  sub.add_flag("!--host-sync", o->pipelined, "decode with the host waiting for each step (no pipelining)");
  sub.add_option("--steps-per-launch", o->steps_per_launch, "pipelined greedy decode steps per launch (multi-step graphs)")
      ->capture_default_str()
      ->check(in_range(1, 64));
  sub.add_option("--weights", o->weights,
                 "compare bf16 with these weight formats (int4-g128,fp8-e4m3-pc,int8-pc,mxfp4,...): projections "
                 "quantized on the host (round to nearest), decode b=1/8/32 and prefill against each format's own "
                 "bandwidth roofline; no tuning")
      ->delimiter(',');
  sub.add_option("--quant-gemv-rows", o->quant_gemv_rows,
                 "with --weights: products of up to this many rows run the format's GEMV (8 rows a call), larger "
                 "ones expand the weights to bf16 for cuBLASLt")
      ->capture_default_str()
      ->check(in_range(0, 4096));
  sub.add_flag("!--no-prefill", o->prefill, "with --weights: skip the prefill timing");
  sub.add_option("--quant-mma-rows", o->quant_mma_rows,
                 "with --weights: products of up to this many rows (0..64) run the tensor-core quantized product, larger ones "
                 "cuBLASLt on the weights expanded to bf16 (decode-sized steps run the product whatever this says)");
  sub.add_flag("!--no-gemv-sweep", o->gemv_sweep, "with --weights: skip timing each format's GEMV alone (batch 1 then runs the default schedule)");
  sub.add_option("--kv", o->kv, "compare these KV cache formats instead (f32, bf16, int8, fp8-e4m3): sequences that fit, decode tok/s")
      ->delimiter(',');
  sub.add_option("--kv-fit-context", o->kv_fit_context, "with --kv: sequence length for the sequences-that-fit column")
      ->capture_default_str()
      ->check(in_range(1, double(1 << 22)));
  sub.add_flag("--gemv-families", o->gemv_families,
               "compare the decode GEMV's register and bulk-copy schedule families on the model's products instead "
               "(GB/s and share of the measured HBM bandwidth; --batches gives the rows, 1..8, default 1)");
  sub.add_flag("--fp8-prefill", o->fp8_prefill,
               "time the W8A8 FP8 prefill products (--prompt tokens) against the measured FP8 tensor-core peak instead");
  return [o, batches] {
    if (o->fp8_prefill) {
      Fp8PrefillBench f;
      f.like = o->like;
      f.device = o->device;
      f.tokens = o->prompt;
      f.json_out = o->json_out;
      return run_fp8_prefill_bench(f);
    }
    if (o->gemv_families) {
      GemvFamilyBench g;
      g.like = o->like;
      g.device = o->device;
      if (batches->count() > 0) g.rows = o->batches;
      g.json_out = o->json_out;
      return run_gemv_family_bench(g);
    }
    if (!o->kv.empty()) {
      KvFormatBench k;
      k.like = o->like;
      k.device = o->device;
      k.formats = o->kv;
      if (batches->count() > 0) k.batches = o->batches;  // else 32, 64
      k.timing = timing_of(*o);
      k.fit_context = o->kv_fit_context;
      k.json_out = o->json_out;
      return run_kv_format_bench(k);
    }
    if (!o->weights.empty()) {
      WeightFormatBench w;
      w.like = o->like;
      w.device = o->device;
      w.formats = o->weights;
      if (batches->count() > 0) w.batches = o->batches;  // else 1, 8, 32: the GPU-run issue's table
      w.timing = timing_of(*o);
      w.prefill = o->prefill;
      w.quant_gemv_max_rows = o->quant_gemv_rows;
      w.quant_mma_max_rows = o->quant_mma_rows;
      w.gemv_sweep = o->gemv_sweep;
      w.json_out = o->json_out;
      return run_weight_format_bench(w);
    }
    if (o->batches.empty()) fail("--batches: at least one batch size");
    if (!o->recipe.empty() && !o->search) o->tune = false;  // a recipe is measured, not re-searched
    for (int b : o->batches)
      if (b < 1 || b > 256) fail("--batches: ", b, " outside 1..256");
    if (o->prompt < 1 || o->context < 1 || o->decode_steps < 1) fail("--prompt, --context and --decode-steps must be >= 1");
    if (o->steps_per_launch < 1 || o->steps_per_launch > 64) fail("--steps-per-launch: ", o->steps_per_launch, " outside 1..64");
    return run(*o);
  };
}}};

}  // namespace
}  // namespace synaptix::app
