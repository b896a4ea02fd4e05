#pragma once
// A recipe: what `synaptix tune` chose for one model on one target, as plain JSON a person can read and diff.
// It carries the target fingerprint (a recipe is refused on another target), for each tuned op and bucket the
// winning generator, its parameters and its full source (so it can be rebuilt without the tuner), the
// baseline and tuned timings, and the trace of the run that produced it.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "synaptix/core/dtype.h"
#include "synaptix/hw/cpu_profile.h"
#include "synaptix/quant/quant_recipe.h"
#include "synaptix/tune/whole_step_plan.h"

namespace synaptix::registry {

inline constexpr const char* kRecipeFormat = "synaptix-recipe/1";

// The kernels::KernelSet hooks a recipe kernel can serve, by their graph::op_kind_name.
inline constexpr const char* kRecipeHooks[] = {"linear", "gate_up_silu", "add_rmsnorm", "attention", "lm_head_argmax"};

struct RecipeKernel {
  std::string op = "linear";  // the hook it serves: one of kRecipeHooks (moe_expert ops are served as linear)
  std::string signature;      // graph::Op::signature() it was tuned on
  // graph::Op's shapes: linear family n x k; add_rmsnorm n (k = 0); attention n heads of k = head_dim over
  // kv_heads, tuned at ctx positions.
  int64_t m_lo = 1, m_hi = 1, n = 0, k = 0;
  int64_t kv_heads = 0, ctx = 0;
  DType w_dtype = DType::BF16;
  std::string generator;
  nlohmann::json params = nlohmann::json::object();
  std::string source_sha256;
  std::string source;
  std::vector<std::string> libs;
  std::vector<std::string> isa_features;  // CPU features the kernel's code needs (CpuIsa::to_string() names)
  double baseline_us = 0, tuned_us = 0;
  int64_t trials = 0;
};

struct Recipe {
  nlohmann::json model = nlohmann::json::object();  // name, model_type, config path and sha256
  std::string target_kind = "cpu";  // cpu | cuda: which kind of target the fingerprint is
  std::string target_fingerprint, target_hash;
  nlohmann::json target = nlohmann::json::object();  // the probed profile
  std::vector<RecipeKernel> kernels;
  // Ops where the default won (kept so the recipe says they were tried): signature, baseline, best tuned.
  nlohmann::json untuned = nlohmann::json::array();
  nlohmann::json tuning = nlohmann::json::object();  // budget, seconds, trials, database
  nlohmann::json trace = nlohmann::json::array();
  std::string created;  // ISO 8601 UTC
  // The whole-step plan (registry/whole_step.h): what a device's step runs, chosen on whole steps.
  std::optional<tune::WholeStepPlan> whole_step;
  // The precision the quality gate (`eval compare`) accepted for this model on this target; absent: no gate
  // evidence, and executors keep their accurate default.
  std::optional<tune::StepPrecision> precision;
  // The weight format of every quantized tensor, the method and the gate's verdict (`synaptix quantize`),
  // applied at load (model/quantized_model.h); absent: the weights run as loaded.
  std::optional<quant::QuantRecipe> quant;
};

nlohmann::json to_json(const Recipe& r);
// `where` names the file in errors; throws naming the missing or mistyped key.
Recipe recipe_from_json(const nlohmann::json& j, const std::string& where);
void save_recipe(const Recipe& r, const std::string& path);
Recipe load_recipe(const std::string& path);

// Throws a synaptix::Error that names both fingerprints when the recipe was tuned for another target.
void check_target(const Recipe& r, const hw::CpuProfile& cpu, const std::string& where);
// Throws naming the kernel and the feature when a recipe kernel's code needs a CPU feature (isa_features)
// that `isa` lacks, or names one no CPU probe knows: its code would stop the process on an illegal
// instruction mid-step.
void check_kernel_isa(const Recipe& r, const hw::CpuIsa& isa, const std::string& where);
// The same for a CUDA device, by its fingerprint (hw::cuda::DeviceProfile::fingerprint()).
void check_cuda_target(const Recipe& r, const std::string& device_fingerprint, const std::string& where);
// The hash a CUDA recipe and the tuning database key a device by.
std::string cuda_fingerprint_hash(const std::string& device_fingerprint);

}  // namespace synaptix::registry
