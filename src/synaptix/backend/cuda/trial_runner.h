#pragma once
// Crash-isolated candidate runs. Trials run in a forked child process that creates its own CUDA context, so
// a candidate that faults (illegal address, trap), hangs or corrupts its context becomes a failed trial
// instead of killing the tuner. Results stream back over a pipe; after a failure the child exits and a fresh
// child carries on with the next trial.
//
// CUDA cannot be used in a child forked from a process that has initialised the driver, so the parent must
// not have called cuInit (it may compile with NVRTC freely); run() checks this and throws.
#include <functional>
#include <string>
#include <vector>

namespace synaptix::backend::cuda {

struct TrialResult {
  bool ok = false;
  std::string error;           // why it failed: the thrown message, the signal, or the timeout
  std::vector<double> values;  // what the trial measured (e.g. median ms), as the job returned it
};

// Called once in each child, before its first trial: creates the context and whatever the trials share,
// and returns the function that runs trial `index` (throwing synaptix::Error to fail it).
using TrialSession = std::function<std::function<std::vector<double>(int index)>()>;

struct TrialRunnerOptions {
  double trial_timeout_s = 30;  // per trial, counted from the previous result (the first includes setup)
};

std::vector<TrialResult> run_isolated_trials(int count, const TrialSession& session,
                                             const TrialRunnerOptions& opt = {});

}  // namespace synaptix::backend::cuda
