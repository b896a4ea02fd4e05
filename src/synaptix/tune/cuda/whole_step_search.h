#pragma once
// The whole-step search strategy for a CUDA device. Isolated trials (tune_linear_shapes: every
// GEMV schedule and cuBLASLt algorithm per shape, crash-isolated, cold L2) rank each linear shape's choices;
// then, because isolated timings do not rank close GEMV schedules reliably inside a decode graph (PDL
// overlap, L2 state), the decode step of each batch size on the GEMV path decides in context: candidate plans
// are timed as whole steps on the device, A B A B where two are close. What times a step (the runner: an
// executor with the model's weights) is the caller's; this file only chooses.
#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "synaptix/tune/cuda/linear_trials.h"
#include "synaptix/model/spec.h"
#include "synaptix/tune/whole_step_plan.h"

namespace synaptix::tune::cuda {

// The distinct linear shapes the executor runs for decode steps of `batches` sequences and a prefill of
// `prompt` tokens (GEMV steps split into rows of at most 8, the head for the prefill's last token).
std::vector<LinearShape> step_linear_shapes(const model::Spec& s, const std::vector<int>& batches,
                                                           int prompt);

// Writes the isolated trials into the tuning database at `db_path`, keyed by the device fingerprint.
void record_linear_trials(const std::string& db_path, const LinearTuneResult& r);

// The plan of the isolated winners: each shape's fastest GEMV schedule or cuBLASLt algorithm. `report` gets
// one entry per shape (best, default, weight GB/s).
WholeStepPlan plan_from_isolated(const std::vector<LinearShape>& shapes,
                                 const LinearTuneResult& r, nlohmann::json& report);

// The isolated stage end to end: the shapes of the step, searched by the tuning loop (tune/tuner.h) on the
// device's CudaLinearTarget within the budget (crash-isolated; must run before this process initialises
// CUDA), every trial in the database at `db_path`, and the plan of the promoted points.
struct IsolatedTuning {
  std::vector<LinearShape> shapes;
  LinearTuneResult result;
  WholeStepPlan plan;
  nlohmann::json report;  // per shape (plan_from_isolated), trials, failures, seconds, database, isolation
};
struct IsolatedTuneOptions {
  double budget_seconds = 0;  // for all shapes; 0 and budget_trials 0: every point of every space
  int64_t budget_trials = 0;  // per shape
  bool search_more = false;   // search again where the database remembers a promotion
  std::function<void(const std::string&)> progress;
  const std::atomic<bool>* stop = nullptr;
};
IsolatedTuning tune_isolated(const model::Spec& s, const std::vector<int>& batches, int prompt, int device,
                             const std::string& db_path, const IsolatedTuneOptions& o = {});

// Times whole decode steps of `batch` sequences under `plan`: tokens per second. Throws synaptix::Error when
// the device cannot run the plan (the search records it as failed and moves on).
using StepTimer = std::function<double(const WholeStepPlan& plan, int batch)>;

struct WholeStepSearchOptions {
  std::vector<int> batches = {1, 8, 32, 64};  // decode batch sizes; those above gemv_max_rows are left as they are
  int gemv_max_rows = 8;
  bool moe = false;  // try the MoE down projection's two layouts
  std::function<void(const std::string&)> progress;
  // The budget: when it returns true, no batch size is started and no further GEMV schedule is tried (what
  // is decided stays). Null: no limit.
  std::function<bool()> out_of_time;
};

// Starting from `plan` (the isolated winners), chooses per decode batch on the GEMV path: tuned or default
// GEMV schedules with RMSNorm fused or separate; the decode attention's kernel and split; its heads in
// registers or shared memory; (MoE) the down projection's layout; o_proj's L2 prefetch; and each GEMV shape's
// schedule among its isolated finalists and variants. `trace` gets every timed candidate.
WholeStepPlan search_whole_step(WholeStepPlan plan, const LinearTuneResult& isolated,
                                const StepTimer& time_step, const WholeStepSearchOptions& o, nlohmann::json& trace);

}  // namespace synaptix::tune::cuda
