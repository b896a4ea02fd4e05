#pragma once
// gpu-bench --weights: decode (and prefill) throughput of a model shape with its projections in each weight
// format (quant/weight_format.h; random values quantized by the CPU's round-to-nearest quantizer, uploaded
// packed), beside bf16 in the same run, each against its own bandwidth roofline (the weight and scale bytes a
// batch-1 step reads / the HBM read bandwidth measured in the same run). The table of the GPU-run issue:
// format | b=1 tok/s | x own roofline | x bf16 | b=8 | b=32 | prefill.
#include <string>
#include <vector>

#include "synaptix/cuda/decode_timing.h"

namespace synaptix::app {

struct WeightFormatBench {
  std::string like = "llama-3.1-8b";
  int device = 0;
  std::vector<std::string> formats;  // weight format names (or aliases: int4, int8, fp8); bf16 always runs first
  std::vector<int> batches = {1, 8, 32};
  DecodeTiming timing;
  bool prefill = true;
  int quant_gemv_max_rows = 8;  // CudaExecutorOptions::quant_gemv_max_rows
  int quant_mma_max_rows = 64;  // CudaExecutorOptions::quant_mma_max_rows (0: the tensor-core product is off)
  bool gemv_sweep = true;       // time each format's GEMV alone (m = 1) per shape over a grid of schedules; the
                                // best over a layer's shapes then runs batch 1 (else the default schedule);
                                // likewise the tensor-core product at m = 1, 8 and 32 (its schedule per token tiles)
  std::string json_out;
};

// Prints the table on stdout (progress on stderr); writes the figures as JSON when json_out is set. Throws
// synaptix::Error naming an unknown format (listing the accepted ones) or a MoE shape (no quantized experts).
int run_weight_format_bench(const WeightFormatBench& o);

}  // namespace synaptix::app
