#pragma once
// The isolated stage of the CUDA tuner: trials of the linear op per exact shape, for GEMV shapes (m <= 8) every point of the generated kernel's
// search space, for tensor-core shapes every algorithm cuBLASLt's heuristic offers. Each trial runs crash-
// isolated (backend/cuda/trial_runner.h): the candidate is verified on random inputs against a host
// double-precision dot product over sampled outputs, with the output poisoned first, and only then timed
// (median of repeats, L2 flushed before each). The caller records the trials.
//
// Must be called before this process initialises CUDA (candidates are compiled here, run in children).
#include <cstdint>
#include <string>
#include <vector>

#include "synaptix/kernels/linear/cuda/gemv_bf16.h"

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

LinearTuneResult tune_linear_shapes(const std::vector<LinearShape>& shapes, const LinearTuneOptions& opt);

}  // namespace synaptix::tune::cuda
