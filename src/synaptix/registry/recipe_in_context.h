#pragma once
// The in-context check's decisions on a tuned recipe (the timing itself is the caller's: the app builds an
// executor for each variant and times the bucket's step on the model). A kernel is timed alone by the tuner,
// but what counts is the step users run: a kernel can win alone and lose in the step (an OpenBLAS GEMM on an
// f32 copy of W evicts what the next op needs; a one-thread norm idles the other core). Per bucket, each
// group (the bucket's kernels of one generator) is timed out of the step: a group whose absence makes the
// step faster by more than min_gain, in two measurements in a row, is dropped, and its buckets keep the
// default kernels.
#include <functional>
#include <map>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "synaptix/registry/recipe.h"

namespace synaptix::registry {

// The bucket a recipe kernel serves: the decode bucket its rows end in, or above 64 rows its prefill range
// ("129-256"; graph::rows_bucket_name).
std::string recipe_kernel_bucket(const RecipeKernel& k);
// Its group: bucket and generator ("129-256 openblas_gemm").
std::string recipe_kernel_group(const RecipeKernel& k);
// r without the kernels of the groups in `removed`.
Recipe recipe_without_groups(const Recipe& r, const std::set<std::string>& removed);

// Milliseconds of `bucket`'s step under recipe variant `r` (throws synaptix::Error when it cannot run).
using StepTimeFn = std::function<double(const Recipe& r, const std::string& bucket)>;

struct InContextVerdicts {
  std::set<std::string> dropped;           // group keys
  std::map<std::string, std::string> why;  // per dropped group: the step times that condemned it
  nlohmann::json lines = nlohmann::json::array();  // per group: with_ms, without_ms, verdict
  bool out_of_time = false;                // groups left unchecked (kept)
};

// Times r's groups bucket by bucket against the step with every group not yet dropped. `out_of_time` is
// asked before each group; once it says yes, the rest are kept unchecked.
InContextVerdicts check_recipe_groups(const Recipe& r, const StepTimeFn& step_ms, double min_gain,
                                      const std::function<bool()>& out_of_time);

// Moves the dropped groups' kernels to r.untuned, each with why it went.
void drop_recipe_groups(Recipe& r, const InContextVerdicts& v);

}  // namespace synaptix::registry
