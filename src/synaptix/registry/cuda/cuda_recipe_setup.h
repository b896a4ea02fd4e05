#pragma once
// From a recipe to what the CUDA executor is built with: its options (speed switches, precision) and its
// kernel plan, and back (the tuner writes what it timed). Header-only on purpose: the CPU test binaries have
// the CUDA headers but no driver, and they test the very translation the executor factory runs.
#include <optional>
#include <string>

#include "synaptix/core/error.h"
#include "synaptix/engine/cuda/cuda_executor.h"
#include "synaptix/kernels/attention/cuda/paged_attention_cuda.h"
#include "synaptix/kernels/linear/cuda/gemv_bf16.h"
#include "synaptix/registry/recipe.h"
#include "synaptix/tune/cuda/gemv_schedule.h"
#include "synaptix/tune/whole_step_plan.h"

namespace synaptix::registry {

using tune::cuda::to_gemv_params;
using tune::cuda::to_gemv_schedule;

inline engine::CudaKernelPlan::DecodeAttention to_decode_attention(const tune::DecodeAttentionChoice& d) {
  return {d.warps, d.keys_per_warp, d.cluster, d.reg_heads};
}

inline tune::DecodeAttentionChoice to_decode_attention_choice(const engine::CudaKernelPlan::DecodeAttention& d) {
  return {d.warps, d.keys_per_warp, d.cluster, d.reg_heads};
}

// The kernel plan of a whole-step plan. A GEMV schedule the kernel generator would refuse is refused here,
// naming the shape and `where`, before any weight is uploaded.
inline engine::CudaKernelPlan to_cuda_plan(const tune::WholeStepPlan& w, const std::string& where) {
  engine::CudaKernelPlan p;
  for (const auto& [shape, s] : w.gemv) {
    const auto [m, n, k] = shape;
    const kernels::cuda::GemvParams g = to_gemv_params(s);
    if (!kernels::cuda::gemv_params_valid(g, static_cast<int>(m)))
      fail(where, ": GEMV schedule ", g.str(), " for m=", m, " n=", n, " k=", k,
           " is outside the generator's space (warps 2|4|8|16, kslices dividing warps, rows_per_warp 1|2|4, unroll "
           "1|2|4|8, prefetch_kb 0|8|16|32|64, rows_per_warp * unroll * m <= 32)");
    p.gemv[shape] = g;
  }
  p.blaslt_algorithm = w.blaslt_algorithm;
  p.fuse_decode = w.fuse_decode;
  p.attention_split = w.attention_split;
  p.o_prefetch = w.o_prefetch;
  for (const auto& [tokens, d] : w.decode_attention) {
    // warps 0: RoPE, attention and combine as three kernels (keys_per_warp unused).
    if (d.warps != 0 && !kernels::cuda::decode_attention_supported(d.warps, d.keys_per_warp))
      fail(where, ": decode_attention for ", tokens, "-token steps asks for ", d.warps, " warps x ", d.keys_per_warp,
           " keys per warp, which the fused decode attention kernel has no form for (warps 4|8|16, keys_per_warp "
           "4|8; warps 0: three kernels)");
    p.decode_attention[tokens] = to_decode_attention(d);
  }
  p.moe_down_spread = w.moe_down_spread;
  return p;
}

inline tune::WholeStepPlan to_whole_step_plan(const engine::CudaKernelPlan& p, const tune::StepSpeed& speed,
                                              int64_t steps_per_launch, const tune::StepPrecision& timed) {
  tune::WholeStepPlan w;
  for (const auto& [shape, g] : p.gemv) w.gemv[shape] = to_gemv_schedule(g);
  w.blaslt_algorithm = p.blaslt_algorithm;
  w.fuse_decode = p.fuse_decode;
  w.attention_split = p.attention_split;
  w.o_prefetch = p.o_prefetch;
  for (const auto& [tokens, d] : p.decode_attention) w.decode_attention[tokens] = to_decode_attention_choice(d);
  w.moe_down_spread = p.moe_down_spread;
  w.speed = speed;
  w.steps_per_launch = steps_per_launch;
  w.timed_precision = timed;
  return w;
}

inline void apply_speed(const tune::StepSpeed& s, engine::CudaExecutorOptions& o) {
  o.fuse = s.fuse;
  o.pdl = s.pdl;
  o.flash_attention = s.flash_attention;
  o.weight_prefetch = s.weight_prefetch;
  o.flash_min_tokens = s.flash_min_tokens;
  o.gemv_max_rows = s.gemv_max_rows;
}

inline tune::StepSpeed speed_of(const engine::CudaExecutorOptions& o) {
  return {o.fuse, o.pdl, o.flash_attention, o.weight_prefetch, o.flash_min_tokens, o.gemv_max_rows};
}

inline std::string precision_str(const tune::StepPrecision& p) {
  return std::string("kv=") + kernels::kv_format_name(p.kv_format()) + ", products=" + (p.split_bf16 ? "2" : "1") +
         (p.fp8_activations ? ", activations=fp8" : "");
}

// What the CUDA executor of `generate|serve|bench|eval|gpu-bench --target cuda:N [--recipe R]` is built with.
struct CudaSetup {
  engine::CudaExecutorOptions options;
  engine::CudaKernelPlan plan;
  int64_t steps_per_launch = 8;  // pipelined greedy decode steps per launch
  std::string precision_note;    // where the precision came from, for the user
};

// `recipe` (null: none) must have been tuned on the device of `device_fingerprint`, else this throws naming
// both. The precision is, in order: `asked` (eval's explicit choice), the recipe's "precision" section (the
// quality gate's choice), else the executor's accurate default, and the note says which.
inline CudaSetup cuda_setup(const Recipe* recipe, const std::string& where, const std::string& device_fingerprint,
                            const std::optional<tune::StepPrecision>& asked) {
  CudaSetup s;
  tune::StepPrecision precision;  // the accurate default: f32 KV cache, two bf16 products
  if (recipe) {
    check_cuda_target(*recipe, device_fingerprint, where);
    if (recipe->whole_step) {
      s.plan = to_cuda_plan(*recipe->whole_step, where + ": whole_step");
      apply_speed(recipe->whole_step->speed, s.options);
      s.steps_per_launch = recipe->whole_step->steps_per_launch;
    }
  }
  if (asked) {
    precision = *asked;
    s.precision_note = "precision " + precision_str(precision) + " as asked";
  } else if (recipe && recipe->precision) {
    precision = *recipe->precision;
    s.precision_note = "precision " + precision_str(precision) + " from " + where + " (its \"precision\" section)";
  } else if (recipe) {
    s.precision_note = "precision " + precision_str(precision) + " (the accurate default): " + where +
                       " has no \"precision\" section, i.e. no choice checked by the quality gate (`eval compare`)";
    if (recipe->whole_step && !(recipe->whole_step->timed_precision == precision))
      s.precision_note += "; its plan was timed with " + precision_str(recipe->whole_step->timed_precision);
  } else {
    s.precision_note = "precision " + precision_str(precision) + " (the accurate default; no recipe)";
  }
  s.options.kv_f32 = precision.kv_f32;
  s.options.narrow_kv = precision.narrow_kv;
  s.options.split_bf16 = precision.split_bf16;
  s.options.fp8_activations = precision.fp8_activations;  // the executor refuses it for other weights or devices
  return s;
}

}  // namespace synaptix::registry
