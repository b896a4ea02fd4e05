#include "synaptix/executor_factory.h"

#include <cstdio>

#include "synaptix/core/error.h"
#include "synaptix/engine/cpu_executor.h"
#include "synaptix/core/thread_pool.h"
#include "synaptix/model/model.h"
#include "synaptix/registry/recipe.h"
#include "synaptix/registry/recipe_kernels.h"
#if defined(SYNAPTIX_CUDA_BINARY)
#include "synaptix/engine/cuda/cuda_executor.h"
#include "synaptix/hw/cuda/device_profile.h"
#include "synaptix/registry/builtin_recipes.h"
#include "synaptix/registry/cuda/cuda_recipe_setup.h"
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

kernels::KvFormat recipe_kv_format(const std::string& recipe_path) {
  if (recipe_path.empty() || recipe_path == "none") return kernels::KvFormat::F32;
  const auto p = registry::load_recipe(recipe_path).precision;
  return p ? p->kv_format() : kernels::KvFormat::F32;
}

ExecutorBundle make_executor(const model::Model& m, const Target& t, engine::KvConfig kv,
                             const std::string& recipe_path, const std::optional<Precision>& precision) {
  ExecutorBundle b;
  if (t.kind == "cpu") {
    if (precision && precision->fp8_activations)
      fail("precision activations=fp8 on --target cpu: W8A8 FP8 is the CUDA executor's (fp8-e4m3-pc weights on a "
           "device with FP8 tensor cores); the CPU executor's rounded activations are its recipe kernels' choice");
    if (precision && !precision->split_bf16)
      fail("precision kv=", kernels::kv_format_name(precision->kv_format()),
           ", products=1 on --target cpu: the CPU executor computes in f32 (one bf16 product is the CUDA "
           "executor's choice); its KV cache may be f32, bf16, int8 or fp8-e4m3");
    // The recipe's kernels are checked against this CPU's fingerprint, compiled (or found in the compile
    // cache) and loaded before the executor is built on them. "none": the defaults, as on a device. The KV
    // format: the explicit choice, else the recipe's "precision" section (the quality gate's), else f32.
    const bool has_recipe = !recipe_path.empty() && recipe_path != "none";
    kv.format = precision ? precision->kv_format() : recipe_kv_format(recipe_path);
    if (kv.format != kernels::KvFormat::F32)
      std::fprintf(stderr, "cpu: KV cache %s\n", kernels::kv_format_name(kv.format));
    if (has_recipe) b.kernels = registry::load_recipe_kernels(recipe_path, ThreadPool::global());
    b.executor = engine::make_cpu_executor(m, kv, b.kernels.get());
    return b;
  }
#ifdef SYNAPTIX_CUDA_EXECUTOR
  // The recipe is checked against this device's fingerprint before any weight is uploaded.
  std::optional<registry::Recipe> recipe;
  std::string fingerprint, where = "recipe " + recipe_path;
  if (!recipe_path.empty() && recipe_path != "none") {
    recipe = registry::load_recipe(recipe_path);
    registry::expand_gemv_rules(*recipe, m.spec);  // a device kind's defaults state GEMV schedules as rules
    fingerprint = hw::cuda::probe_device(t.device).fingerprint();
  } else if (recipe_path.empty()) {
    // No --recipe: the checked-in recipe measured on this kind of device for this model shape, else the
    // device kind's checked-in defaults (recipes/; `--recipe none` keeps the executor's built-in fallbacks).
    fingerprint = hw::cuda::probe_device(t.device).fingerprint();
    if (auto b = registry::builtin_cuda_recipe(fingerprint, m.spec)) {
      recipe = std::move(b->recipe);
      where = b->note;
    } else {
      std::fprintf(stderr, "cuda:%d: no checked-in recipe or defaults for this device kind: the executor's "
                   "built-in fallbacks; `synaptix tune --target cuda:%d` writes a recipe\n",
                   t.device, t.device);
    }
  }
  std::optional<tune::StepPrecision> asked;
  if (precision)
    asked = tune::StepPrecision{precision->kv_f32, precision->split_bf16, precision->narrow_kv, precision->fp8_activations};
  const registry::CudaSetup setup = registry::cuda_setup(recipe ? &*recipe : nullptr, where, fingerprint, asked);
  if (recipe && recipe_path.empty()) std::fprintf(stderr, "cuda:%d: plan from the %s\n", t.device, where.c_str());
  if (recipe) std::fprintf(stderr, "cuda:%d: %s\n", t.device, setup.precision_note.c_str());
  auto ex = engine::make_cuda_executor(m, kv, t.device, setup.options);
  ex->set_plan(setup.plan);
  b.greedy_steps_per_launch = setup.steps_per_launch;  // the recipe's plan, else CudaSetup's default
  b.executor = std::move(ex);
  return b;
#else
  fail("--target cuda: this build has no CUDA target (synaptix-cuda is built when the CUDA toolkit is found)");
#endif
}

}  // namespace synaptix::app
