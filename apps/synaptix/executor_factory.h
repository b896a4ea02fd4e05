#pragma once
// Builds the executor for a --target string ("cpu", "cuda", "cuda:N"), with what a recipe chose when one is
// given: its tuned kernels on the CPU, its whole-step plan, speed switches and precision on a CUDA device.
// Shared by generate, verify, bench, serve and eval.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "synaptix/engine/executor.h"
#include "synaptix/kernels/kernel_set.h"

namespace synaptix::model { struct Model; }

namespace synaptix::app {

struct Target {
  std::string kind = "cpu";  // cpu | cuda
  int device = 0;
};
Target parse_target(const std::string& s);  // throws naming the string and the accepted forms

struct ExecutorBundle {
  std::unique_ptr<kernels::KernelSet> kernels;  // owned here, outlives the executor
  std::unique_ptr<engine::Executor> executor;
  // Pipelined greedy decode steps per launch: on a CUDA device the recipe's plan's (what it was timed with),
  // else the default plan's; 0 on the CPU, whose enqueue runs the steps at once (nothing to overlap).
  int64_t greedy_steps_per_launch = 0;
};

// Numeric precision (what `eval compare` gates): the KV cache's format (kernels/attention/kv_format.h; the CPU
// executor has all four, a CUDA device f32, bf16 and fp8-e4m3), and on CUDA (CudaExecutorOptions) tensor-core
// GEMMs fed the activations as one bf16 product or a hi + lo pair (two). The CPU computes in f32 and refuses
// one product.
struct Precision {
  bool kv_f32 = true;
  bool split_bf16 = true;
  kernels::KvFormat narrow_kv = kernels::KvFormat::Bf16;  // the KV format when kv_f32 is false
  bool fp8_activations = false;  // W8A8 (CUDA, fp8-e4m3-pc weights)
  bool is_default() const { return kv_f32 && split_bf16 && !fp8_activations; }
  kernels::KvFormat kv_format() const { return kv_f32 ? kernels::KvFormat::F32 : narrow_kv; }
};

// The KV cache format a recipe's "precision" section chose (f32 without one, or without a recipe): what sizes
// a KV memory budget before the executor exists.
kernels::KvFormat recipe_kv_format(const std::string& recipe_path);

// `precision` is an explicit choice (eval's kv=/products=); without one a CUDA executor takes the recipe's
// "precision" section (the quality gate's choice), else the accurate default, and says on stderr which.
ExecutorBundle make_executor(const model::Model& m, const Target& t, engine::KvConfig kv,
                             const std::string& recipe_path = "", const std::optional<Precision>& precision = std::nullopt);

}  // namespace synaptix::app
