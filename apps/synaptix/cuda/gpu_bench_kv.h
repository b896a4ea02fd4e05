#pragma once
// gpu-bench --kv: the KV cache formats of a CUDA device side by side on one model shape (random weights):
// how many sequences of --kv-fit-context tokens the memory left after the weights and step buffers holds in
// each format, and greedy decode tok/s per batch size with the cache in each format (same plan, same
// settings: one bf16 product per GEMM). The table of issue 21's "FP8 KV cache: the sequences that fit double
// at equal decode speed".
#include <string>
#include <vector>

#include "synaptix/cuda/decode_timing.h"

namespace synaptix::app {

struct KvFormatBench {
  std::string like = "llama-3.1-8b";
  int device = 0;
  std::vector<std::string> formats = {"bf16", "fp8-e4m3"};  // f32, bf16, int8, fp8-e4m3 (kernels/attention/kv_format.h)
  std::vector<int> batches = {32, 64};
  DecodeTiming timing;
  int fit_context = 4096;  // the sequence length the "sequences that fit" column counts
  std::string json_out;
};

// Prints the table on stdout (progress on stderr); writes the figures as JSON when json_out is set. Throws
// synaptix::Error naming a format the device does not store (int8) or an unknown one.
int run_kv_format_bench(const KvFormatBench& o);

}  // namespace synaptix::app
