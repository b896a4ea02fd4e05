#include "synaptix/executor_factory.h"

#include "synaptix/core/error.h"
#include "synaptix/engine/cpu_executor.h"
#include "synaptix/core/thread_pool.h"
#include "synaptix/model/model.h"
#include "synaptix/registry/recipe_kernels.h"
#if defined(SYNAPTIX_CUDA_BINARY)
#include "synaptix/engine/cuda/cuda_executor.h"
#define SYNAPTIX_CUDA_EXECUTOR 1
#endif

namespace synaptix::app {

Target parse_target(const std::string& s) {
  Target t;
  if (s == "cpu") return t;
  if (s == "cuda" || s.rfind("cuda:", 0) == 0) {
    t.kind = "cuda";
    if (s.size() > 5) {
      try {
        size_t used = 0;
        t.device = std::stoi(s.substr(5), &used);
        if (used != s.size() - 5 || t.device < 0) throw std::invalid_argument(s);
      } catch (const std::exception&) {
        fail("--target \"", s, "\": expected cpu, cuda or cuda:N with N a device index");
      }
    }
    return t;
  }
  fail("--target \"", s, "\": expected cpu, cuda or cuda:N");
}

ExecutorBundle make_executor(const model::Model& m, const Target& t, engine::KvConfig kv,
                             const std::string& recipe_path, const Precision& precision) {
  ExecutorBundle b;
  if (t.kind == "cpu") {
    if (!precision.is_default())
      fail("precision kv=", precision.kv_f32 ? "f32" : "bf16", ", products=", precision.split_bf16 ? 2 : 1,
           " on --target cpu: the CPU executor has one precision (f32 activations and KV cache); the bf16 "
           "choices are the CUDA executor's");
    // The recipe's kernels are checked against this CPU's fingerprint, compiled (or found in the compile
    // cache) and loaded before the executor is built on them.
    if (!recipe_path.empty()) b.kernels = registry::load_recipe_kernels(recipe_path, ThreadPool::global());
    b.executor = engine::make_cpu_executor(m, kv, b.kernels.get());
    return b;
  }
#ifdef SYNAPTIX_CUDA_EXECUTOR
  if (!recipe_path.empty()) fail("--recipe with --target cuda: recipes are tuned for CPU targets only so far");
  if (precision.is_default()) {
    b.executor = engine::make_cuda_executor(m, kv, t.device);
  } else {
    engine::CudaExecutorOptions opt;
    opt.kv_f32 = precision.kv_f32;
    opt.split_bf16 = precision.split_bf16;
    b.executor = engine::make_cuda_executor(m, kv, t.device, opt);
  }
  return b;
#else
  fail("--target cuda: this build has no CUDA target (synaptix-cuda is built when the CUDA toolkit is found)");
#endif
}

}  // namespace synaptix::app
