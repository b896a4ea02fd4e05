#pragma once
// A loaded model: its Spec, its weights (memory-mapped safetensors, one file or sharded by
// model.safetensors.index.json) and the per-layer tensor table. Tensor names of every family are mapped in
// one place (weights.cpp), not scattered through the executor.
#include <memory>
#include <string>
#include <vector>

#include "synaptix/model/safetensors.h"
#include "synaptix/model/spec.h"

namespace synaptix::model {

struct ExpertWeights {
  const TensorRef *gate = nullptr, *up = nullptr, *down = nullptr;
};

struct LayerWeights {
  const TensorRef* attn_norm = nullptr;
  const TensorRef *q = nullptr, *k = nullptr, *v = nullptr, *o = nullptr;
  const TensorRef *q_bias = nullptr, *k_bias = nullptr, *v_bias = nullptr;
  const TensorRef *q_norm = nullptr, *k_norm = nullptr;  // qwen3: [head_dim]
  const TensorRef* mlp_norm = nullptr;
  const TensorRef *post_attn_norm = nullptr, *post_mlp_norm = nullptr;  // gemma3: on the sublayer outputs
  const TensorRef *gate = nullptr, *up = nullptr, *down = nullptr;  // dense MLP
  const TensorRef* router = nullptr;                                // MoE: [experts, hidden]
  std::vector<ExpertWeights> experts;
};

// A tensor made at load time (a GGUF weight dequantized to bf16 or f32): its bytes and the view layers use.
struct OwnedTensor {
  TensorRef ref;
  std::vector<uint8_t> bytes;
};

struct Model {
  std::string dir;  // the model directory, or the GGUF file
  Spec spec;
  std::vector<std::unique_ptr<SafetensorsFile>> files;
  std::vector<std::unique_ptr<OwnedTensor>> owned;  // GGUF weights, dequantized at load (gguf_model.h)
  std::shared_ptr<const void> mapped;  // the GGUF file whose mapped bytes natively loaded tensors point into
  const TensorRef* embed = nullptr;       // [vocab, hidden]
  const TensorRef* final_norm = nullptr;  // [hidden]
  const TensorRef* lm_head = nullptr;     // [vocab, hidden]; the embedding when tied
  std::vector<LayerWeights> layers;

  int64_t weight_bytes() const;  // bytes of all tensors the forward pass reads (tied counted once)
};

// How the matrices of a GGUF file are held: Native keeps the file's blocks (the types with fast CPU kernels:
// gguf_model.h), BF16 and F32 as stored, memory-mapped, and the kernels execute the blocks (as llama.cpp does;
// other block types are expanded to bf16); Bf16 dequantizes every matrix to bf16 at load.
// A Hugging Face directory is always loaded as stored.
enum class GgufWeights { Native, Bf16 };

// Loads config.json and the weights of a Hugging Face model directory, checking every tensor the spec needs
// exists with the expected shape and a supported dtype (f32, bf16, f16). A path naming a GGUF file (ending in
// .gguf or starting with its magic) is loaded by load_gguf_model (gguf_model.h).
std::unique_ptr<Model> load_model(const std::string& dir, GgufWeights gguf = GgufWeights::Native);

}  // namespace synaptix::model
