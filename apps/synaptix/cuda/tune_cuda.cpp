// `synaptix tune --target cuda:N`: isolated GEMV / cuBLASLt trials (crash-isolated, before this process
// initialises CUDA), then the in-context whole-step search on an executor with random device weights of the
// model's shape, then the recipe: the device's fingerprint, the plan, what it was timed under, the timings
// that chose it (untuned and tuned decode per batch) and every candidate timed.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>

#include "synaptix/core/error.h"
#include "synaptix/cuda/decode_timing.h"
#include "synaptix/cuda_tune.h"
#include "synaptix/engine/cuda/cuda_executor.h"
#include "synaptix/hw/cuda/device_profile.h"
#include "synaptix/registry/cuda/cuda_recipe_setup.h"
#include "synaptix/registry/recipe.h"
#include "synaptix/registry/whole_step.h"
#include "synaptix/tune/cuda/whole_step_search.h"
#include "synaptix/tune/tuning_db.h"

namespace synaptix::app {
namespace {

using Clock = std::chrono::steady_clock;

void progress(const std::string& what) {
  std::fprintf(stderr, "[tune cuda] %s\n", what.c_str());
  std::fflush(stderr);
}

std::string iso_now() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

}  // namespace

int run_cuda_tune(const CudaTuneOptions& o) {
  if (o.out.empty()) fail("--out RECIPE.json is required");
  if (o.batches.empty()) fail("--batches: at least one batch size");
  const auto t0 = Clock::now();
  const std::string db = o.db.empty() ? tune::default_db_path() : o.db;

  // 1. The step's linear shapes through the tuning loop (CudaLinearTarget: trials in children, before this
  // process touches the GPU). A time budget: the loop gets 60% of it, the whole-step search what is left.
  // A trial budget is shared among the shapes.
  const double deadline_s = o.budget_seconds > 0 ? o.budget_seconds : 0;
  auto elapsed = [&] { return std::chrono::duration<double>(Clock::now() - t0).count(); };
  tune::cuda::IsolatedTuneOptions io;
  io.budget_seconds = 0.6 * o.budget_seconds;
  if (o.budget_trials > 0) {
    const auto n = static_cast<int64_t>(tune::cuda::step_linear_shapes(o.spec, o.batches, o.prompt).size());
    io.budget_trials = (o.budget_trials + n - 1) / n;
  }
  io.search_more = o.search_more;
  io.progress = progress;
  progress("the step's linear shapes through the tuning loop (budget " +
           (o.budget_text.empty() ? std::string("none: every point") : o.budget_text) + ")");
  tune::cuda::IsolatedTuning iso = tune::cuda::tune_isolated(o.spec, o.batches, o.prompt, o.device, db, io);
  progress(std::to_string(iso.result.trials.size()) + " trials of these shapes in " + db);

  // 2. The device and an executor with random weights of the model's shape, at the precision the plan is
  // timed under (bf16 KV cache, one bf16 product: what a gate-approved fast recipe runs).
  const hw::cuda::DeviceProfile prof = hw::cuda::probe_device(o.device);
  DecodeTiming timing;
  timing.context = o.context;
  timing.decode_steps = std::max(8, o.decode_steps);
  timing.prompt = o.prompt;
  timing.steps_per_launch = o.steps_per_launch;
  const int max_batch = *std::max_element(o.batches.begin(), o.batches.end());
  engine::CudaExecutorOptions eo;
  eo.max_tokens_per_step = std::max(2048, o.prompt);
  eo.kv_f32 = false;
  eo.split_bf16 = false;
  progress("random weights on " + prof.fingerprint());
  auto ex = engine::make_cuda_executor_random(o.spec, 1, decode_kv(timing, max_batch), o.device, eo);
  const int64_t bps = decode_blocks_per_seq(timing);

  // 3. The in-context search, from the isolated winners.
  nlohmann::json trace = nlohmann::json::array();
  tune::cuda::WholeStepSearchOptions so;
  so.batches = o.batches;
  so.gemv_max_rows = eo.gemv_max_rows;
  so.moe = o.spec.is_moe();
  so.progress = progress;
  if (deadline_s > 0) so.out_of_time = [&] { return elapsed() >= deadline_s; };
  tune::WholeStepPlan plan = tune::cuda::search_whole_step(iso.plan, iso.result, whole_step_timer(*ex, timing, bps), so, trace);
  plan.speed = registry::speed_of(eo);
  plan.steps_per_launch = o.steps_per_launch;
  plan.timed_precision = {eo.kv_f32, eo.split_bf16};

  // 4. What it bought: decode per batch, untuned (the executor's defaults) and under the plan.
  nlohmann::json timings = nlohmann::json::array();
  std::printf("%-8s %14s %14s %8s\n", "batch", "untuned tok/s", "tuned tok/s", "gain");
  for (int b : o.batches) {
    ex->set_plan({});
    const double untuned = time_decode(*ex, b, timing, bps).tok_s;
    ex->set_plan(registry::to_cuda_plan(plan, "the tuned plan"));
    const double tuned = time_decode(*ex, b, timing, bps).tok_s;
    timings.push_back({{"batch", b}, {"untuned_tok_s", untuned}, {"tuned_tok_s", tuned}});
    std::printf("%-8d %14.1f %14.1f %7.2fx\n", b, untuned, tuned, untuned > 0 ? tuned / untuned : 0.0);
  }

  // 5. The recipe.
  registry::Recipe r;
  r.created = iso_now();
  r.model = o.model;
  r.target_kind = "cuda";
  r.target_fingerprint = prof.fingerprint();
  r.target_hash = registry::cuda_fingerprint_hash(r.target_fingerprint);
  r.target = prof.to_json();
  r.whole_step = plan;
  r.precision = o.precision;
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  r.tuning = {{"seconds", seconds}, {"budget", o.budget_text}, {"database", db}, {"isolated", iso.report},
              {"decode", timings},
              {"timing", {{"context", timing.context}, {"decode_steps", timing.decode_steps},
                          {"steps_per_launch", timing.steps_per_launch}, {"pipelined", timing.pipelined}}},
              {"timed_precision", registry::to_json(plan.timed_precision)},
              {"precision_source", o.precision ? "tune --precision (not checked by the quality gate)"
                                               : "none: run `eval compare` and record the gate's choice"}};
  r.trace = trace;
  registry::save_recipe(r, o.out);
  std::printf("tuned %s on %s in %.1f s (%zu isolated trials, %zu whole-step timings); recipe %s\n",
              o.model.value("name", std::string("the model")).c_str(), prof.fingerprint().c_str(), seconds,
              iso.result.trials.size(), trace.size(), o.out.c_str());
  std::fflush(stdout);
  return 0;
}

}  // namespace synaptix::app
