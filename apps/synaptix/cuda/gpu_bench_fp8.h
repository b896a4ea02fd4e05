#pragma once
// gpu-bench --fp8-prefill: the W8A8 FP8 prefill products of a model shape (random weights, fp8-e4m3 codes
// with per-channel scales) against the measured FP8 tensor-core peak (issue 21: >= 0.6x at 2048 tokens):
// per product (qkv, o, gate_up, down at m = --prompt tokens) the time of the activation quantization plus
// the E4M3 GEMM with its scales, TFLOP/s and the share of the FP8 peak, beside cuBLASLt's bf16 GEMM of the
// same shape, and the executor's own W8A8 product (engine/cuda/linear_w8a8.h: what a recipe with the
// precision activations=fp8 runs, on the weights' tensor-core layout, codes rewritten per product or resident);
// then the whole prefill's linear layers (every layer's products) the same way, each against the FP8 peak of
// the same run. With and without cuBLASLt's fast FP8 accumulation. Last, whole prefill steps through the
// executor on fp8-e4m3-pc weights: the bf16 expansion against W8A8.
#include <string>

namespace synaptix::app {

struct Fp8PrefillBench {
  std::string like = "llama-3.1-8b";
  int device = 0;
  int tokens = 2048;
  int repeats = 10;
  std::string json_out;
};

// Prints the table on stdout (progress on stderr); writes the figures as JSON when json_out is set.
int run_fp8_prefill_bench(const Fp8PrefillBench& o);

}  // namespace synaptix::app
