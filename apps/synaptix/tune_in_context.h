#pragma once
// The in-context check on a tuned CPU recipe (registry/recipe_in_context.h decides; this times): before the
// recipe is written, each bucket's step (a prefill of the bucket's largest chunk for a prefill bucket, one
// decode step of a batch of the bucket's largest size for the others) runs on the model's weights with the recipe's kernels and
// without each group of them, through the executor generate and serve build.
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "synaptix/registry/recipe.h"

namespace synaptix::app {

struct InContextOptions {
  int64_t prefill_chunk = 256;    // the largest prefill chunk the tuner tuned (its buckets end there)
  int64_t decode_context = 128;   // tokens each sequence holds before the timed decode steps
  int repeats = 2;                // timed runs per measurement at least (prefill: the fastest counts)
  double min_gain = 0.03;         // a group goes when the step without it is this much faster
  double seconds = 120;           // time for the whole check; groups left unchecked stay
};

// Checks r's kernels in context for `model` (weights needed; a model without them is reported as skipped,
// nothing dropped). Dropped kernels move to r.untuned with the step times that condemned them. Returns what
// it did, also stored in r.tuning["in_context"]. `recipe_path` names the scratch files it writes beside it.
nlohmann::json check_in_context(registry::Recipe& r, const std::string& model, const std::string& recipe_path,
                                const InContextOptions& o);

}  // namespace synaptix::app
