#pragma once
// Builds the executor for a --target string ("cpu", "cuda", "cuda:N"), with the tuned kernels of a recipe
// when one is given. Shared by generate, verify, bench and serve.
#include <memory>
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
};

// Numeric precision (what `eval compare` gates). CUDA (CudaExecutorOptions): the KV cache in f32 or bf16, and
// tensor-core GEMMs fed the activations as one bf16 product or a hi + lo pair (two). The CPU executor
// computes in f32 with an f32 KV cache only and refuses anything else.
struct Precision {
  bool kv_f32 = true;
  bool split_bf16 = true;
  bool is_default() const { return kv_f32 && split_bf16; }
};

ExecutorBundle make_executor(const model::Model& m, const Target& t, engine::KvConfig kv,
                             const std::string& recipe_path = "", const Precision& precision = {});

}  // namespace synaptix::app
