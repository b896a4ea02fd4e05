#pragma once
// A model's weights in device memory, laid out for the CUDA executor: matrices bf16 (or, for a quantized
// model's projections, packed rows of a weight format: quant/weight_format.h) in the nn.Linear [out, in] layout with q|k|v concatenated and gate/up rows interleaved (one GEMV reads each layer's input once for all
// three or two projections, and SwiGLU can run in the gate/up GEMV's epilogue), norm weights and biases f32. Uploaded once from a loaded Model, or filled with
// random values from a Spec alone (benchmarks of full-size models without their files).
#include <cstdint>
#include <vector>

#include "synaptix/backend/cuda/device_buffer.h"
#include "synaptix/core/dtype.h"
#include "synaptix/graph/forward_plan.h"
#include "synaptix/model/spec.h"

namespace synaptix::model { struct Model; }

namespace synaptix::engine::cuda {

struct DeviceLayer {
  backend::cuda::DeviceBuffer attn_norm, mlp_norm;  // f32 [hidden]
  backend::cuda::DeviceBuffer qkv;                  // bf16 [q_dim + 2 kv_dim, hidden]
  backend::cuda::DeviceBuffer qkv_bias;             // f32 [q_dim + 2 kv_dim] or empty
  backend::cuda::DeviceBuffer q_norm, k_norm;       // f32 [head_dim] or empty
  backend::cuda::DeviceBuffer post_attn_norm, post_mlp_norm;  // f32 [hidden] or empty (gemma3)
  backend::cuda::DeviceBuffer o;                    // bf16 [hidden, q_dim]
  backend::cuda::DeviceBuffer gate_up;              // bf16 [2 inter, hidden], rows interleaved g0 u0 g1 u1 ...
  backend::cuda::DeviceBuffer down;                 // bf16 [hidden, inter]
  backend::cuda::DeviceBuffer router;               // bf16 [experts, hidden]; MoE layers
  std::vector<backend::cuda::DeviceBuffer> expert_gate_up, expert_down;
  int64_t inter = 0;                                // rows of gate (dense) or of each expert's gate
  // The dtype of each projection matrix: BF16, or the weight format its rows are packed in (q, k and v share
  // one, as do gate and up: their rows are concatenated or interleaved as packed rows).
  DType qkv_dtype = DType::BF16, o_dtype = DType::BF16, gate_up_dtype = DType::BF16, down_dtype = DType::BF16;
};

struct DeviceWeights {
  std::vector<DeviceLayer> layers;
  backend::cuda::DeviceBuffer embed;       // bf16 [vocab, hidden]
  backend::cuda::DeviceBuffer final_norm;  // f32 [hidden]
  backend::cuda::DeviceBuffer lm_head;     // bf16 [vocab, hidden]; empty when tied to embed
  int64_t bytes = 0;                       // device bytes held
  bool quantized = false;                  // some projection is in a weight format
  int64_t max_quantized_elems = 0;         // the largest quantized matrix's n * k (its bf16 expansion's size)
  // Every quantized matrix is held in its tensor-core layout (kernels/linear/quant_mma_layout.h: the same codes
  // and scales, regrouped), at quant_mma_copy: what the tensor-core product and the bf16 expansion read. With
  // packed_rows (upload option) the packed rows are held too, before it, for the format's GEMV.
  bool mma_layout = false;
  bool packed_rows = false;

  CUdeviceptr head() const { return lm_head.bytes() ? lm_head.ptr() : embed.ptr(); }
};

// Where the tensor-core layout of the n x k matrix of format w in the buffer at `buf` starts: the buffer's
// start, or after the packed rows (256-byte aligned) when the weights hold those too.
CUdeviceptr quant_mma_copy(const DeviceWeights& w, CUdeviceptr buf, DType wdt, int64_t n, int64_t k);

// Needs a current context. Converts f16/f32 tensors to bf16 (matrices) or f32 (vectors) on the host; GGUF
// blocks are expanded to bf16; projections in a weight format are uploaded as packed (every weight format has
// CUDA kernels; quantized MoE experts are refused by name). Every
// RMSNorm weight is uploaded as the scale the kernels multiply by: the plan's norm_weight_offset + w (gemma3's
// (1 + w) folded in, so every norm kernel applies unchanged).
DeviceWeights upload_weights(const model::Model& m, const graph::ForwardPlan& plan, bool keep_packed_rows = false);
// Uniform random bf16 matrices (scale 1/sqrt(in)), norm scales 1, biases small; deterministic in seed.
// With `weights` a weight format: the projections are random f32 values (the same scale) quantized by the CPU's
// round-to-nearest quantizer into that format, one layer's matrices quantized once and uploaded to every layer
// (what is timed is bytes, not values); the embedding and LM head stay bf16. Dense models only.
DeviceWeights random_weights(const model::Spec& s, const graph::ForwardPlan& plan, uint64_t seed,
                             DType weights = DType::BF16, bool keep_packed_rows = false);

}  // namespace synaptix::engine::cuda
