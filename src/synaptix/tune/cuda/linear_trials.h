#pragma once
// Trials of the CUDA linear op per exact shape, as the whole-step search reads them. The trials themselves
// are CudaLinearTarget's (cuda_linear_target.h: a forked child per trial, verified against
// kernels/linear/reference on random inputs with a poisoned output, timed with L2 flushed, checked again
// after the timed runs); `synaptix tune --target cuda` runs them through the tuning loop (tune_isolated in
// whole_step_search.h), and tune_linear_shapes here runs every point of every shape (gpu-bench's survey).
//
// Must be called before this process initialises CUDA (candidates are compiled here, run in children).
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "synaptix/kernels/linear/cuda/gemv_bf16.h"
#include "synaptix/tune/tuning_db.h"

namespace synaptix::tune::cuda {

struct LinearShape {
  int64_t m = 0, n = 0, k = 0;
  bool gemv() const { return m <= 8; }
};

struct LinearTrial {
  LinearShape shape;
  std::string generator;  // "cuda_gemv_bf16" or "cublaslt_bf16"
  kernels::cuda::GemvParams gemv;        // for the GEMV generator
  int algorithm = 0;      // for cuBLASLt
  bool ok = false;
  TrialStatus status = TrialStatus::Crash;
  std::string message;    // why it failed
  double median_us = 0, p10_us = 0, p90_us = 0;
  bool is_default = false;  // the untuned choice for its shape
};

struct LinearTuneOptions {
  int device = 0;
  int repeats = 20;
  double trial_timeout_s = 20;
};

struct LinearTuneResult {
  std::vector<LinearTrial> trials;
  std::string device_fingerprint;
  std::string isolation = "";  // empty: every trial ran in a forked child; else why it did not
  // Best ok trial per shape (index into trials), and the default's, in shape order; -1 when none.
  std::vector<int> best, baseline;
};

// Every point of every shape's space, exhaustively; a time beyond the device's measured ceilings is a
// measurement fault (not ok).
LinearTuneResult tune_linear_shapes(const std::vector<LinearShape>& shapes, const LinearTuneOptions& opt);

// A trial of `shape` at the point (generator, params) as the tuning database records it (no result yet).
LinearTrial linear_trial_of(const LinearShape& shape, const std::string& generator, const nlohmann::json& params);
// The point of a trial as the database records it.
nlohmann::json linear_trial_params(const LinearTrial& t);

}  // namespace synaptix::tune::cuda
