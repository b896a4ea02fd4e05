#pragma once
// A model from one GGUF file: its metadata mapped onto the config.json keys parse_spec reads (so a GGUF model
// gets the same Spec, defaults and checks as the Hugging Face directory it was converted from), and its
// tensors mapped onto the Hugging Face names and shapes of tensor_names.h. Matrices and embeddings stay in the
// file's GGUF block type (Q4_0, Q4_1, Q8_0; Q5_0, Q5_1, Q4_K, Q6_K with AVX-512) or BF16/F32, memory-mapped
// (GgufWeights::Native), or are dequantized at load into bf16 the Model owns (GgufWeights::Bf16; and, in
// either mode, the types without a fast CPU path: F16, Q2_K, Q3_K, Q5_K, Q8_K, and the AVX-512 ones on other
// CPUs); norms and biases become f32. Two things llama.cpp's converter
// (convert_hf_to_gguf.py) does are undone or accounted for:
//  - for architecture "llama" it permutes the rows of the Q and K projections of each head from the rotate-half
//    layout to interleaved pairs (LlamaModel.permute); the rows are put back so HF-style RoPE applies;
//  - for gemma3 it stores RMSNorm weights with the 1 of Gemma's (1 + w) already added (norm_shift), so the
//    Spec's norm_weight_offset is 0 instead of 1.
// Supported architectures: llama (SmolLM2, Llama 2/3 without per-frequency RoPE factors), qwen2, qwen3, gemma3.
#include <memory>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "synaptix/model/gguf.h"
#include "synaptix/model/model.h"

namespace synaptix::model {

// True for a path that names a GGUF file: it ends in ".gguf" or starts with the GGUF magic.
bool is_gguf_path(const std::string& path);

// The config.json document equivalent to the file's metadata (model_type, sizes, RoPE, token ids), which
// parse_spec turns into the Spec. Throws naming the file and the GGUF key that is missing or wrong.
nlohmann::json gguf_config(const GgufFile& f);

// The Spec of the file's model: parse_spec of gguf_config, with Gemma's norm offset set to 0 (see above).
Spec gguf_spec(const GgufFile& f);

// The GGUF name of a Hugging Face tensor name of tensor_names.h ("model.layers.3.self_attn.q_proj.weight" ->
// "blk.3.attn_q.weight"); "" for names GGUF files do not have.
std::string gguf_tensor_name(const std::string& hf_name, Family family);

// Matrices as `weights` says (model.h: Native by default); norms and biases always f32.
std::unique_ptr<Model> load_gguf_model(const std::string& path, GgufWeights weights = GgufWeights::Native);

}  // namespace synaptix::model
