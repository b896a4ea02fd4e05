#pragma once
// gpu-bench --gemv-families: the decode GEMV's two schedule families side by side on a model's decode
// products (random bf16 weights): the register path (GemvParams::stages 0, weights in flight in registers)
// and the bulk-copy path (stages > 0, a shared-memory ring filled by cp.async.bulk). Every point of each
// family is timed two ways, and the best of each is printed with its weight bandwidth (GB/s) and its ratio
// to the measured HBM read bandwidth:
//   stream - launches back to back under programmatic dependent launch, rotating over enough copies of W
//            that none is still in L2 (what the decode step sees: one GEMV after another);
//   cold   - one launch from a flushed L2 (the tuner's isolated timing).
// Each point's output is compared with the default schedule's; a point that disagrees is reported and left
// out of the ranking.
#include <cstdint>
#include <string>
#include <vector>

namespace synaptix::app {

struct GemvFamilyBench {
  std::string like = "llama-3.1-8b";
  int device = 0;
  std::vector<int> rows = {1};  // m: rows of x per product (1..8)
  int repeats = 15;
  std::string json_out;
};

// Prints the table on stdout (progress on stderr); writes every point's figures as JSON when json_out is set.
int run_gemv_family_bench(const GemvFamilyBench& o);

}  // namespace synaptix::app
