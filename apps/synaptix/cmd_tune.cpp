// `synaptix tune --model DIR --target cpu [--budget 10m|90s|N] [--db PATH] --out RECIPE.json`: tunes the
// hot ops (linear layers, fused gate+up+SiLU, residual add + RMSNorm, decode attention, greedy LM head with
// fused argmax) of every decode bucket and the prefill chunk of a model (config.json only), remembering
// every trial, and writes the recipe. Ctrl-C stops after the current trial; a rerun continues from the database.
// `--target cuda:N` (--model DIR|FILE.gguf or --like PRESET) tunes the step's linear shapes on that device
// through the same loop within --budget, then runs the whole-step search (cuda_tune.h), and writes a recipe
// with its plan.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstdio>
#include <ctime>
#include <optional>
#include <set>
#include <sstream>
#include <string>

#include <unistd.h>

#include "synaptix/backend/cache_dir.h"
#include "synaptix/backend/module_builder.h"
#include "synaptix/command.h"
#include "synaptix/flag_checks.h"
#include "synaptix/core/error.h"
#include "synaptix/core/hash.h"
#include "synaptix/core/mapped_file.h"
#include "synaptix/cuda_tune.h"
#include "synaptix/executor_factory.h"
#include "synaptix/graph/op_graph.h"
#include "synaptix/kernels/cpu_generator.h"
#include "synaptix/kernels/linear/cpu/linear_isa.h"
#include "synaptix/model/gguf_model.h"
#include "synaptix/model/spec.h"
#include "synaptix/model/quantized_model.h"
#include "synaptix/model/synth.h"
#include "synaptix/registry/recipe.h"
#include "synaptix/tune/budget.h"
#include "synaptix/tune/tuner.h"
#include "synaptix/tune_kv_gate.h"
#include "synaptix/tune_precision_gate.h"
#include "synaptix/tune_in_context.h"

namespace synaptix::app {
namespace {

std::atomic<bool> g_stop{false};
void on_sigint(int) { g_stop.store(true); }

struct Options {
  std::string model, like, target = "cpu", budget = "10m", db, out, cache_dir, buckets = "1,2-4,5-16,17-64,prefill";
  std::string quant;  // --target cpu: a recipe whose weight formats are tuned and carried into --out
  // --target cuda: decode batches and prefill length the plan is searched for, how decode is timed, and an
  // optional precision to record.
  std::vector<int> batches = {1, 8, 32, 64};
  int prompt = 2048, context = 128, decode_steps = 32, steps_per_launch = 8;
  std::string precision;
  int64_t prefill_chunk = 256;
  int64_t attention_ctx = 2048;
  int jobs = 2, threads = 0;
  double sample_seconds = 0.3;
  bool search_more = false;
  // CPU precision: activation roundings candidates may use, and the quality gate that must pass to keep them.
  std::vector<std::string> activations;
  std::string gate_text, gate = "8bit";
  int64_t gate_windows = 4;
  std::string kv_formats;  // KV cache formats the gate may choose (tune_kv_gate.h); empty: the cache stays f32
  // The in-context check's time (0: no check); taken out of a time budget, at most a fifth of it.
  double in_context_seconds = 120;
};

std::string iso_now() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

// Whether --buckets selects op: by its bucket's name ("1", ..., "17-64", "65-128", "129-256", ...), or any
// prefill bucket by "prefill".
bool bucket_selected(const graph::Op& op, const std::set<std::string>& want) {
  if (op.m > 64) return want.count("prefill") || want.count(graph::rows_bucket_name(op.m_lo, op.m));
  for (const auto& b : graph::decode_buckets())
    if (op.m == b.hi) return want.count(b.name) > 0;
  return false;
}

// A recipe entry for `op`'s kernel: the generator's point, its source and what the tuning measured.
registry::RecipeKernel recipe_kernel(const graph::Op& op, const std::string& generator, const nlohmann::json& params,
                                     const std::string& source, const std::vector<std::string>& libs,
                                     double baseline_us, double tuned_us, int64_t trials) {
  registry::RecipeKernel k;
  k.op = op.kind == graph::OpKind::MoeExpert ? "linear" : graph::op_kind_name(op.kind);
  k.kv_heads = op.kv_heads;
  k.ctx = op.ctx;
  k.signature = op.signature();
  k.m_lo = op.m_lo;
  k.m_hi = op.m;
  k.n = op.n;
  k.k = op.k;
  k.w_dtype = op.w_dtype;
  k.generator = generator;
  k.params = params;
  k.source = source;
  k.source_sha256 = sha256_hex(source);
  k.libs = libs;
  if (params.contains("isa") && params["isa"].is_string())
    k.isa_features = kernels::isa_features(params["isa"].get<std::string>(), op.w_dtype);
  k.baseline_us = baseline_us;
  k.tuned_us = tuned_us;
  k.trials = trials;
  return k;
}

// "kv=bf16,products=1,activations=fp8": the precision --precision records in a CUDA recipe.
tune::StepPrecision parse_precision(const std::string& s) {
  tune::StepPrecision p;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item == "kv=f32" || item == "kv=bf16") p.kv_f32 = item == "kv=f32";
    else if (item == "products=1" || item == "products=2") p.split_bf16 = item == "products=2";
    else if (item == "activations=bf16" || item == "activations=fp8") p.fp8_activations = item == "activations=fp8";
    else fail("--precision \"", s, "\": \"", item, "\" is not kv=f32|bf16, products=1|2 or activations=bf16|fp8");
  }
  return p;
}

int run_cuda(const Options& o, int device) {
  CudaTuneOptions c;
  if (o.model.empty() == o.like.empty()) fail("--target cuda: give one of --model DIR|FILE.gguf or --like PRESET");
  const tune::Budget budget = tune::parse_budget(o.budget);
  c.budget_seconds = budget.seconds;
  c.budget_trials = budget.trials;
  c.budget_text = o.budget;
  c.search_more = o.search_more;
  if (!o.like.empty()) {
    c.spec = model::parse_spec(model::preset_config(o.like), o.like);
    c.model = {{"name", o.like}, {"like", o.like}, {"model_type", c.spec.model_type}};
  } else if (model::is_gguf_path(o.model)) {
    // A GGUF file: its metadata is the config. The device runs bf16 products of the model's shapes; the
    // file's block types are recorded, not tuned on this target yet.
    c.spec = model::gguf_spec(model::GgufFile(o.model));
    c.model = {{"name", o.model}, {"path", o.model}, {"format", "gguf"}, {"model_type", c.spec.model_type},
               {"config_sha256", sha256_hex(model::spec_to_json(c.spec).dump())}};
  } else {
    const std::string config_path = o.model + "/config.json";
    c.spec = model::load_spec(config_path);
    c.model = {{"name", o.model}, {"path", o.model}, {"model_type", c.spec.model_type},
               {"config_sha256", sha256_hex(read_text_file(config_path))}};
  }
  c.device = device;
  c.db = o.db;
  c.out = o.out;
  c.batches = o.batches;
  c.prompt = o.prompt;
  c.context = o.context;
  c.decode_steps = o.decode_steps;
  c.steps_per_launch = o.steps_per_launch;
  if (!o.precision.empty()) c.precision = parse_precision(o.precision);
#if defined(SYNAPTIX_CUDA_BINARY)
  return run_cuda_tune(c);
#else
  fail("--target cuda: this build has no CUDA target (synaptix-cuda is built when the CUDA toolkit is found)");
#endif
}

int run(const Options& o) {
  if (o.out.empty()) fail("--out RECIPE.json is required");
  const Target target = parse_target(o.target);
  if (target.kind == "cuda") return run_cuda(o, target.device);
  if (o.model.empty()) fail("--target cpu: --model DIR is required");
  if (!o.like.empty()) fail("--like: --target cpu tunes a model directory (--model DIR)");
  const tune::Budget budget = tune::parse_budget(o.budget);
  // Rounded activations are searched only where the gate can judge them.
  std::vector<std::string> activations = o.activations;
  if (activations.empty() && o.gate_text.empty()) activations = {"f32"};
  const std::vector<kernels::KvFormat> kv_candidates =
      o.kv_formats.empty() ? std::vector<kernels::KvFormat>{} : parse_kv_candidates(o.kv_formats, "--kv-formats");
  if (!kv_candidates.empty() && o.gate_text.empty())
    fail("--kv-formats ", o.kv_formats, ": a KV format is chosen only when the quality gate passes; give --gate-text FILE");
  for (const auto& a : activations) {
    if (a != "f32" && a != "bf16" && a != "q8") fail("--activations: '", a, "' is not one of f32, bf16, q8");
    if (a != "f32" && o.gate_text.empty())
      fail("--activations ", a, ": rounded activations are kept only when the quality gate passes; give --gate-text FILE");
  }
  // A GGUF file: its metadata is the config, and its matrices' block types are the ops' weight dtypes.
  const bool gguf = model::is_gguf_path(o.model);
  const std::string config_path = o.model + "/config.json";
  model::Spec spec = gguf ? model::gguf_spec(model::GgufFile(o.model)) : model::load_spec(config_path);
  const std::string config_text = gguf ? model::spec_to_json(spec).dump() : read_text_file(config_path);
  // --quant R: the projections as R's formats hold them (a GGUF file is expanded to bf16 before quantizing).
  std::optional<quant::QuantRecipe> formats;
  if (!o.quant.empty()) {
    formats = quant::load_quant_recipe(o.quant);
    if (gguf) spec.weight_dtypes.clear();
    for (const auto& [op, d] : model::op_weight_dtypes(*formats, spec.num_layers, gguf ? DType::BF16 : spec.dtype))
      spec.weight_dtypes[op] = d;
  }

  std::set<std::string> want;
  {
    std::stringstream ss(o.buckets);
    std::string b;
    while (std::getline(ss, b, ',')) want.insert(b);
  }
  const auto graphs = graph::all_graphs(spec, o.prefill_chunk);
  std::vector<graph::Op> ops;
  for (auto& op : graph::distinct_ops(graphs, {graph::OpKind::Linear, graph::OpKind::MoeExpert, graph::OpKind::GateUpSilu,
                                               graph::OpKind::AddRmsNorm, graph::OpKind::LmHeadArgmax}))
    if (bucket_selected(op, want)) ops.push_back(op);
  // Attention kernels are exact at any length, so each bucket is tuned at one context: the sequence bucket
  // closest to --attention-ctx.
  for (auto& op : graph::distinct_ops(graphs, {graph::OpKind::Attention})) {
    if (!bucket_selected(op, want)) continue;
    auto same = std::find_if(ops.begin(), ops.end(), [&](const graph::Op& x) {
      return x.kind == graph::OpKind::Attention && x.m == op.m && x.m_lo == op.m_lo;
    });
    if (same == ops.end()) ops.push_back(op);
    else if (std::llabs(op.ctx - o.attention_ctx) < std::llabs(same->ctx - o.attention_ctx)) *same = op;
  }
  if (ops.empty()) fail("--buckets '", o.buckets, "' selects no op (buckets: 1, 2-4, 5-16, 17-64, and the prefill ranges 65-128, 129-256, ... up to --prefill-chunk, or all of them as prefill)");

  std::fprintf(stderr, "probing the CPU...\n");
  const hw::CpuProfile cpu = hw::probe_cpu(true);
  const std::string cache = o.cache_dir.empty() ? backend::default_cache_dir() : o.cache_dir;
  const std::string db_path = o.db.empty() ? tune::default_db_path() : o.db;
  tune::TuningDb db(db_path);
  backend::ModuleBuilder builder(cache);

  // The in-context check runs after the search, inside the budget.
  double in_context_seconds = o.in_context_seconds;
  if (budget.seconds > 0) in_context_seconds = std::min(in_context_seconds, budget.seconds / 5);
  tune::TuneOptions topt;
  topt.budget_seconds = budget.seconds > 0 ? budget.seconds - in_context_seconds : budget.seconds;
  topt.budget_trials = budget.trials > 0 ? (budget.trials + static_cast<int64_t>(ops.size()) - 1) / static_cast<int64_t>(ops.size()) : 0;
  topt.search_more = o.search_more;
  topt.jobs = o.jobs;
  topt.measure.llc_bytes = cpu.last_level_cache_bytes() > 0 ? cpu.last_level_cache_bytes() : (32 << 20);
  topt.measure.max_seconds = o.sample_seconds;
  topt.limits.threads = o.threads;
  topt.activations = activations;
  const bool tty = ::isatty(2);
  topt.progress = [tty](const std::string& line) {
    if (tty) std::fprintf(stderr, "\r\033[K%s", line.c_str());
    else std::fprintf(stderr, "%s\n", line.c_str());
    std::fflush(stderr);
  };
  topt.stop = &g_stop;
  auto old = std::signal(SIGINT, on_sigint);

  std::fprintf(stderr, "tuning %zu ops of %s on %s [%s], database %s\n", ops.size(), o.model.c_str(),
               cpu.model_name.c_str(), cpu.fingerprint_hash().c_str(), db_path.c_str());
  tune::Tuner tuner(db, builder, cpu, topt);
  auto rep = tuner.tune(ops);
  std::signal(SIGINT, old);
  std::fprintf(stderr, tty ? "\n" : "");

  // The recipe.
  registry::Recipe r;
  r.created = iso_now();
  r.model = {{"path", o.model}, {"model_type", spec.model_type}, {"config_sha256", sha256_hex(config_text)}};
  r.target_fingerprint = cpu.fingerprint();
  r.target_hash = cpu.fingerprint_hash();
  r.target = hw::to_json(cpu);
  int64_t total_trials = 0;
  for (const auto& res : rep.ops) {
    total_trials += res.trials;
    if (!res.finished) continue;
    if (!res.promoted) {
      r.untuned.push_back({{"signature", res.op.signature()}, {"baseline_us", res.baseline_us}});
      continue;
    }
    r.kernels.push_back(recipe_kernel(res.op, res.generator, res.params, res.source, res.libs, res.baseline_us,
                                      res.tuned_us, res.trials));
  }
  r.tuning = {{"budget", o.budget}, {"seconds", rep.seconds}, {"new_trials", rep.new_trials},
              {"trials", total_trials}, {"database", db_path}, {"interrupted", g_stop.load()}};
  r.trace = rep.trace;
  r.quant = formats;
  // Where rounded activations fail the gate, each bucket takes the fastest exact kernel this run measured, if
  // one beat the default.
  const auto exact = [&](const registry::RecipeKernel& rounded) -> std::optional<registry::RecipeKernel> {
    for (const auto& res : rep.ops) {
      if (res.op.signature() != rounded.signature) continue;
      std::optional<tune::TrialRecord> best;
      for (const auto& t : db.trials(rounded.signature, cpu.fingerprint_hash()))
        if (t.status == tune::TrialStatus::Ok && t.median_us < res.baseline_us &&
            kernels::cpu_generator(t.generator).activations(t.params) == "f32" && (!best || t.median_us < best->median_us))
          best = t;
      if (!best) return std::nullopt;
      const auto ks = kernels::cpu_generator(best->generator).emit(res.op, best->params);
      return recipe_kernel(res.op, best->generator, best->params, ks.code, ks.libs, res.baseline_us, best->median_us,
                           res.trials);
    }
    return std::nullopt;
  };
  const nlohmann::json gated =
      gate_rounded_activations(r, o.model, o.out, {o.gate_text, o.gate, 512, o.gate_windows}, exact);
  const nlohmann::json kv_gated =
      kv_candidates.empty() ? nlohmann::json() : gate_kv_formats(r, o.model, o.out, {o.gate_text, o.gate, 512, o.gate_windows}, kv_candidates);
  nlohmann::json in_context;
  if (in_context_seconds > 0 && !g_stop.load()) {
    InContextOptions ic;
    ic.prefill_chunk = o.prefill_chunk;
    ic.seconds = in_context_seconds;
    in_context = check_in_context(r, o.model, o.out, ic);
  }
  registry::save_recipe(r, o.out);

  // The table: per op, the default and the tuned time against the memory-bandwidth roofline.
  std::printf("%-48s %6s %11s %11s %8s %7s %-18s %9s\n", "op", "count", "default_us", "tuned_us", "speedup",
              "trials", "generator", "roofline");
  double step_default = 0, step_tuned = 0, step_roof = 0;
  for (const auto& res : rep.ops) {
    const double roof_us = cpu.mem_read_gbps > 0 ? res.op.min_bytes() / (cpu.mem_read_gbps * 1e3) : 0;
    if (!res.finished) {
      std::printf("%-48s %6lld %11s %11s %8s %7lld %-18s\n", res.op.signature().c_str(),
                  static_cast<long long>(res.op.count), "-", "-", "-", static_cast<long long>(res.trials), "(stopped)");
      continue;
    }
    const double best = res.promoted ? res.tuned_us : res.baseline_us;
    std::printf("%-48s %6lld %11.1f %11.1f %7.2fx %7lld %-18s %8.0f%%\n", res.op.signature().c_str(),
                static_cast<long long>(res.op.count), res.baseline_us, best, res.baseline_us / best,
                static_cast<long long>(res.trials), res.promoted ? res.generator.c_str() : "default",
                roof_us > 0 ? 100.0 * roof_us / best : 0.0);
    if (res.op.m == 1 && (res.op.kind == graph::OpKind::Linear || res.op.kind == graph::OpKind::MoeExpert)) {
      step_default += res.baseline_us * static_cast<double>(res.op.count);
      step_tuned += best * static_cast<double>(res.op.count);
      step_roof += roof_us * static_cast<double>(res.op.count);
    }
  }
  if (step_tuned > 0)
    std::printf("linear ops of one batch-1 decode step: default %.2f ms, tuned %.2f ms, roofline %.2f ms "
                "(%.0f%% of roofline at %.1f GB/s)\n",
                step_default / 1e3, step_tuned / 1e3, step_roof / 1e3, 100.0 * step_roof / step_tuned,
                cpu.mem_read_gbps);
  if (!gated.empty())
    std::printf("precision gate (%s on %s): %s; %lld kernel(s) rounding activations %s\n", o.gate.c_str(),
                o.gate_text.empty() ? "no text" : o.gate_text.c_str(), gated.value("pass", false) ? "PASS" : "FAIL",
                static_cast<long long>(gated.value("kernels", int64_t{0})),
                gated.value("pass", false) ? "kept" : "dropped (their buckets keep the default)");
  if (!kv_gated.is_null())
    std::printf("KV cache gate (%s on %s): %s\n", o.gate.c_str(), o.gate_text.c_str(),
                kv_gated.value("chosen", std::string("f32")) == "f32"
                    ? "no candidate passed (or none could be judged): the KV cache stays f32"
                    : ("chose " + kv_gated.value("chosen", std::string()) + ", the narrowest candidate that passed").c_str());
  if (in_context.contains("skipped"))
    std::printf("in-context check: skipped (%s)\n", in_context["skipped"].get<std::string>().c_str());
  else if (in_context.contains("groups"))
    std::printf("in-context check: %zu kernel group(s) timed in their step, %lld dropped, %.1f s%s\n",
                in_context["groups"].size(), static_cast<long long>(in_context.value("dropped_groups", int64_t{0})),
                in_context.value("seconds", 0.0), in_context.value("out_of_time", false) ? " (out of time: the rest kept unchecked)" : "");
  std::printf("tuned %zu ops in %.1f s: %lld new trials, %lld in the database for these ops; recipe %s\n",
              rep.ops.size(), rep.seconds, static_cast<long long>(rep.new_trials),
              static_cast<long long>(total_trials), o.out.c_str());
  if (g_stop.load()) {
    std::printf("interrupted: finished trials are kept in %s; run the same command again to continue\n",
                db_path.c_str());
    return 130;
  }
  return 0;
}

const RegisterCommand reg{Command{
    "tune", "Tune kernels for a model on a target and write a recipe",
    [](CLI::App& sub) {
      auto o = std::make_shared<Options>();
      sub.add_option("--model", o->model,
                     "Model directory (only config.json is read) or GGUF file (its metadata), for either target");
      sub.add_option("--like", o->like, "--target cuda: a model preset's shape instead of --model");
      sub.add_option("--target", o->target, "Target: cpu | cuda | cuda:N")->capture_default_str();
      sub.add_option("--batches", o->batches, "--target cuda: decode batch sizes")->delimiter(',')->check(in_range(1, 256));
      sub.add_option("--prompt", o->prompt, "--target cuda: prefill length")->capture_default_str()->check(in_range(1, double(1 << 20)));
      sub.add_option("--context", o->context, "--target cuda: tokens in each sequence before timed decode")
          ->capture_default_str()
          ->check(in_range(1, double(1 << 24)));
      sub.add_option("--decode-steps", o->decode_steps, "--target cuda: timed decode steps per candidate")
          ->capture_default_str()
          ->check(in_range(1, double(1 << 20)));
      sub.add_option("--steps-per-launch", o->steps_per_launch, "--target cuda: greedy decode steps per launch")
          ->capture_default_str()
          ->check(in_range(1, 64));
      sub.add_option("--precision", o->precision,
                     "--target cuda: record this precision in the recipe (kv=f32|bf16,products=1|2,activations=bf16|fp8; not "
                     "gate-checked)");
      sub.add_option("--budget", o->budget, "90s | 10m | 1h | N (trials); --target cuda: the linear trials get the "
                     "time less what the whole-step search needs, N trials are shared among the shapes")
          ->capture_default_str()
          ->check(CLI::Validator(
              [](std::string& s) {
                try {
                  tune::parse_budget(s);
                  return std::string();
                } catch (const Error& e) {
                  return std::string(e.what());
                }
              },
              "BUDGET"));
      sub.add_option("--db", o->db, "Tuning database (default ~/.cache/synaptix/tuning.db)");
      sub.add_option("--out", o->out, "Recipe to write")->required();
      sub.add_option("--quant", o->quant, "--target cpu: a recipe with weight formats (synaptix quantize --out): "
                     "the kernels are tuned for them and --out carries them");
      sub.add_option("--cache-dir", o->cache_dir, "Compiled-module cache (default ~/.cache/synaptix)");
      sub.add_option("--buckets", o->buckets, "Buckets to tune: 1,2-4,5-16,17-64 and prefill (every prefill range: 65-128,129-256,...)")->capture_default_str();
      sub.add_option("--prefill-chunk", o->prefill_chunk, "Prefill chunk tokens")->capture_default_str()->check(in_range(1, 65536));
      sub.add_option("--attention-ctx", o->attention_ctx, "Context length attention kernels are tuned at")
          ->capture_default_str()
          ->check(in_range(1, double(1 << 24)));
      sub.add_option("--jobs", o->jobs, "Parallel compiles")->capture_default_str()->check(in_range(1, 256));
      sub.add_option("--threads", o->threads, "Threads per kernel (0: all cores)")
          ->capture_default_str()
          ->check(in_range(0, kMaxThreads));
      sub.add_option("--sample-seconds", o->sample_seconds, "Timing time per candidate")
          ->capture_default_str()
          ->check(positive(3600));
      sub.add_flag("--search-more", o->search_more, "Spend the budget even on ops with a remembered promotion");
      sub.add_option("--activations", o->activations,
                     "--target cpu: activation roundings kernels may use: f32 (exact), bf16, q8 (default: f32, or all "
                     "three with --gate-text)")
          ->delimiter(',');
      sub.add_option("--gate-text", o->gate_text,
                     "--target cpu: text on which kernels that round activations must pass the quality gate against "
                     "the exact defaults, or be dropped")
          ->check(CLI::ExistingFile);
      sub.add_option("--gate", o->gate, "--target cpu: the gate for rounded activations (file, or 8bit | 4bit)")
          ->capture_default_str();
      sub.add_option("--gate-windows", o->gate_windows, "--target cpu: windows of 512 tokens scored by the gate")
          ->capture_default_str()
          ->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
      sub.add_option("--kv-formats", o->kv_formats,
                     "--target cpu: KV cache formats to try (bf16, int8, fp8-e4m3): the narrowest that passes the "
                     "quality gate on --gate-text against an f32 cache goes into the recipe's precision section");
      sub.add_option("--in-context-seconds", o->in_context_seconds,
                     "--target cpu: time for timing each bucket's step with and without each group of tuned kernels "
                     "on the model's weights (dropping the ones that lose there); taken from --budget, at most a "
                     "fifth of it; 0: no check")
          ->capture_default_str()
          ->check(CLI::Range(0.0, 86400.0));
      return [o] { return run(*o); };
    }}};

}  // namespace
}  // namespace synaptix::app
