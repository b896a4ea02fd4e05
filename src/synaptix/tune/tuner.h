#pragma once
// The tuning loop for a set of ops on one target (target.h: the CPU's CpuTarget, the CUDA linear op's
// CudaLinearTarget): generate, compile, verify, time, check the time against the target's ceilings, promote,
// remember.
// Per op: warm-start points (the best known for this op and target, then for similar ops), then exhaustive
// search when the space fits the budget, else evolution (mutation + crossover of the best points so far,
// ranked by a ridge-regression cost model before anything is compiled). Each batch compiles in parallel;
// each trial runs isolated and is committed to the database at once. Finalists and the untuned default are
// then re-timed interleaved; the fastest is promoted only when it beats the default. A time beyond the
// target's measured ceilings is recorded as a measurement fault and never promoted (measurement_check.h).
#include <memory>
#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "synaptix/backend/module_builder.h"
#include "synaptix/graph/op_graph.h"
#include "synaptix/hw/cpu_profile.h"
#include "synaptix/tune/measurer.h"
#include "synaptix/tune/target.h"
#include "synaptix/tune/trial_runner.h"
#include "synaptix/tune/tuning_db.h"

namespace synaptix::tune {

struct TuneOptions {
  int64_t budget_trials = 0;   // new + remembered trials per op; 0: no trial limit
  // For the whole run; 0: no time limit. Split among the ops by their cost in a step (op_cost_us): every op
  // gets at least a third of an even share, the rest goes by cost, and no op's share eats the minimum the
  // ops after it need (as measured on the ops so far); an op's finalists are re-timed inside its share.
  // Every op gets trials: one seed per generator even when its share is spent.
  double budget_seconds = 0;
  bool search_more = false;    // spend the budget even where a promotion is remembered
  int jobs = 2;                // parallel compiles
  int batch = 4;               // candidates per compile batch
  int finalists = 3;
  std::vector<std::string> generators;  // only these generators; empty: all
  // CPU: the activation roundings candidates may use (CpuGenerator::activations: f32, bf16, q8); empty: all.
  // Exact by default: a rounding is a precision choice for the quality gate (tune --gate-text).
  std::vector<std::string> activations = {"f32"};
  MeasureOptions measure;
  RunLimits limits;
  uint64_t seed = 1;
  std::function<void(const std::string&)> progress;  // one status line; null: silent
  const std::atomic<bool>* stop = nullptr;            // set (e.g. by SIGINT): finish the trial, then stop
};

struct OpResult {
  graph::Op op;
  bool promoted = false;        // a tuned kernel beat the default
  bool remembered = false;      // reused a promotion from the database without measuring
  bool finished = false;        // false when stopped before the finalists were decided
  double baseline_us = 0, tuned_us = 0;
  std::string generator;
  nlohmann::json params;
  std::string source, source_hash;
  std::vector<std::string> libs;
  int64_t trials = 0, new_trials = 0;
};

struct TuneReport {
  std::vector<OpResult> ops;
  double seconds = 0;
  int64_t new_trials = 0;
  nlohmann::json trace = nlohmann::json::array();  // what was decided, in order
};

class Tuner {
 public:
  // `target` must outlive the tuner.
  Tuner(TuningDb& db, const Target& target, TuneOptions opt);
  // The CPU target (CpuTarget over `builder` and `cpu`, which must outlive the tuner).
  Tuner(TuningDb& db, const backend::ModuleBuilder& builder, const hw::CpuProfile& cpu, TuneOptions opt);
  TuneReport tune(const std::vector<graph::Op>& ops);

 private:
  OpResult tune_op(const graph::Op& op, double seconds_for_op, TuneReport& report);
  void emit_progress(const std::string& op_sig) const;

  // The trial's time checked against the target's ceilings: an ok outcome beyond them becomes a
  // measurement fault.
  TrialOutcome checked(const graph::Op& op, TrialOutcome o) const;

  TuningDb& db_;
  std::unique_ptr<Target> owned_;
  const Target& target_plugin_;
  TuneOptions opt_;
  std::string target_;
  // Progress state.
  size_t ops_done_ = 0, ops_total_ = 0;
  int64_t trials_run_ = 0;
  double best_speedup_ = 0;
  double deadline_ = 0;
  // Seconds the least an op needs (its first batch and its finalists), averaged over the ops so far.
  double op_floor_s_ = 0;
  int floor_samples_ = 0;
};

// What an op costs per step at the roofline of `cpu` (memory or FMA bound, whichever is slower), times its
// count: the weight of its share of a time budget. Microseconds.
double op_cost_us(const graph::Op& op, const hw::CpuProfile& cpu);

// The source of a point as generated for `op` (what a recipe stores).
std::string point_source(const graph::Op& op, const std::string& generator, const nlohmann::json& params,
                         std::vector<std::string>* libs);

}  // namespace synaptix::tune
