#pragma once
// A whole-step plan: what a device's step runs, chosen by timing whole decode steps (not single kernels),
// in a form that needs no device headers, so the tuner writes it, the recipe stores it and every build can
// read it. Today its fields are the CUDA executor's (engine::CudaKernelPlan and the speed options of
// CudaExecutorOptions; registry/cuda/cuda_recipe_setup.h converts); absent entries mean "the executor's
// default" there too.
#include <cstdint>
#include <map>
#include <tuple>
#include <vector>

#include "synaptix/kernels/attention/kv_format.h"

namespace synaptix::tune {

// A linear product's shape: m rows of activations, n outputs, k inputs.
using LinearShapeKey = std::tuple<int64_t, int64_t, int64_t>;

// kernels::cuda::GemvParams, field for field.
struct GemvSchedule {
  int warps = 4;
  int kslices = 1;
  int rows_per_warp = 1;
  int unroll = 2;
  int full_occupancy = 0;
  int persistent = 0;
  int prefetch_kb = 0;
  int stages = 0;       // bulk-copy ring stages (0: the register path)
  int chunk_bytes = 0;  // bytes of one ring stage
  bool operator==(const GemvSchedule&) const = default;
};

// engine::CudaKernelPlan::DecodeAttention, field for field.
struct DecodeAttentionChoice {
  int warps = 16;
  int keys_per_warp = 4;
  bool cluster = false;
  bool reg_heads = true;
  bool operator==(const DecodeAttentionChoice&) const = default;
};

// The executor's speed switches (engine::CudaExecutorOptions).
struct StepSpeed {
  bool fuse = true;
  bool pdl = true;
  bool flash_attention = true;
  bool weight_prefetch = true;
  int64_t flash_min_tokens = 65;
  int gemv_max_rows = 8;
  bool operator==(const StepSpeed&) const = default;
};

// Numeric precision of a step: the KV cache in f32 or a narrow format (bf16, fp8-e4m3, int8:
// kernels/attention/kv_format.h), tensor-core GEMMs fed one bf16 product or a hi + lo pair (two), and
// (fp8_activations, CUDA, fp8-e4m3-pc weights) W8A8: prefill-sized products with x rounded to E4M3 per token.
struct StepPrecision {
  bool kv_f32 = true;
  bool split_bf16 = true;
  kernels::KvFormat narrow_kv = kernels::KvFormat::Bf16;  // the KV cache's format when kv_f32 is false
  bool fp8_activations = false;
  kernels::KvFormat kv_format() const { return kv_f32 ? kernels::KvFormat::F32 : narrow_kv; }
  bool operator==(const StepPrecision&) const = default;
};

// A GEMV schedule for every product of m rows whose n and k lie in the given bounds (inclusive; 0: no
// bound): a device kind's default, stated over shapes, for models no recipe lists exactly (recipes/*-defaults).
// An exact `gemv` entry wins over a rule; among rules, the first that matches.
struct GemvRule {
  int64_t m = 1;
  int64_t k_min = 0, k_max = 0, n_min = 0, n_max = 0;
  GemvSchedule schedule;
  bool matches(int64_t m_, int64_t n, int64_t k) const {
    return m_ == m && (k_min == 0 || k >= k_min) && (k_max == 0 || k <= k_max) && (n_min == 0 || n >= n_min) &&
           (n_max == 0 || n <= n_max);
  }
  bool operator==(const GemvRule&) const = default;
};

struct WholeStepPlan {
  std::map<LinearShapeKey, GemvSchedule> gemv;       // GEMV schedule per shape
  std::vector<GemvRule> gemv_rules;                  // shape buckets (apply_gemv_rules turns them into entries)
  std::map<LinearShapeKey, int> blaslt_algorithm;    // cuBLASLt heuristic index per shape
  // Per decode step size (tokens):
  std::map<int64_t, bool> fuse_decode;               // RMSNorm in the GEMV prologues
  std::map<int64_t, int64_t> attention_split;        // positions per split of the decode attention
  std::map<int64_t, bool> o_prefetch;                // o_proj's weights into L2 beside attention
  std::map<int64_t, DecodeAttentionChoice> decode_attention;
  std::map<int64_t, bool> moe_down_spread;           // MoE grouped down projection spread over experts
  StepSpeed speed;
  int64_t steps_per_launch = 8;  // pipelined greedy decode steps per launch (multi-step graphs)
  // The precision the plan was timed under. Which precision a server runs is the quality gate's choice
  // (the recipe's "precision" section), not the tuner's.
  StepPrecision timed_precision{false, false};
  bool operator==(const WholeStepPlan&) const = default;
};

// Fills `gemv` for every shape of `shapes` with at most `max_rows` rows that has no entry and matches a rule
// (the first); returns how many it added. The rules stay in the plan (the recipe written back keeps them).
inline int apply_gemv_rules(WholeStepPlan& p, const std::vector<LinearShapeKey>& shapes, int64_t max_rows) {
  int added = 0;
  for (const auto& shape : shapes) {
    const auto [m, n, k] = shape;
    if (m > max_rows || p.gemv.count(shape)) continue;
    for (const GemvRule& r : p.gemv_rules)
      if (r.matches(m, n, k)) {
        p.gemv[shape] = r.schedule;
        ++added;
        break;
      }
  }
  return added;
}

}  // namespace synaptix::tune
