#pragma once
// `synaptix tune --target cuda:N`: the whole-step search on a CUDA device (tune/cuda/whole_step_search.h)
// with random device weights of the model's shape, written as a recipe. Implemented in synaptix-cuda only
// (apps/synaptix/cuda/tune_cuda.cpp); `synaptix` hands a --target cuda command line to it.
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "synaptix/model/spec.h"
#include "synaptix/tune/whole_step_plan.h"

namespace synaptix::app {

struct CudaTuneOptions {
  model::Spec spec;
  nlohmann::json model;  // what the recipe records about the model (path or preset, model_type, config hash)
  int device = 0;
  std::string db, out;
  // --budget: seconds for the whole run (0: none) or trials shared among the linear shapes (0: none); with
  // neither, every point of every shape's space.
  double budget_seconds = 0;
  int64_t budget_trials = 0;
  std::string budget_text;
  bool search_more = false;  // search again where the database remembers a promotion
  std::vector<int> batches = {1, 8, 32, 64};
  int prompt = 2048, context = 128, decode_steps = 32, steps_per_launch = 8;
  // Written as the recipe's "precision" section when given; its source is recorded (not the quality gate).
  std::optional<tune::StepPrecision> precision;
};

int run_cuda_tune(const CudaTuneOptions& o);

}  // namespace synaptix::app
