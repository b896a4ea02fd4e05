#pragma once
// A quantization recipe (quant/quant_recipe.h) applied to a loaded model: each matrix the recipe names is
// replaced by a tensor of its weight format (quant/weight_format.h) that the Model owns, quantized from the
// loaded values (bf16/f32/f16 directories, GGUF files loaded natively or expanded). The quantized bytes are
// cached on disk, keyed by the model's files (path, size, modification time) and the recipe, so a second
// start reads them instead of quantizing again.
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "synaptix/model/model.h"
#include "synaptix/quant/quant_recipe.h"
#include "synaptix/quant/weight_format.h"

namespace synaptix::model {

// The matrices a recipe may name: every layer's attention and MLP projections (and MoE experts), by Hugging
// Face name, each with the model field that points at it. The embedding and LM head are not among them.
std::map<std::string, const TensorRef**> quantizable_matrices(Model& m);

// The weight dtype of each projection op of the tuner's graph (graph/op_graph.h: "layers.*.self_attn.q_proj",
// ..., "layers.*.mlp.gate_up_silu" as its gate) under recipe r, for Spec::weight_dtypes: the format most of
// the model's `layers` take (a layer the recipe leaves out counts as `loaded`); ops whose majority is `loaded`
// are left out. apply_quant_recipe records it in the model's spec.
std::map<std::string, DType> op_weight_dtypes(const quant::QuantRecipe& r, int64_t layers, DType loaded);

// A matrix's values as f32 (f32, bf16, f16, a GGUF block type or a weight format).
std::vector<float> matrix_f32(const TensorRef& t);

// Packs n x k f32 weights of one tensor into `out` (n rows of the format); the default is round to nearest.
using TensorQuantizer = std::function<void(const std::string& name, const quant::WeightFormat& f, const float* w,
                                           int64_t n, int64_t k, uint8_t* out)>;

struct QuantApplied {
  int64_t tensors = 0;
  bool from_cache = false;
  std::string cache_file;  // "" when no cache directory was given
  std::string note;        // why a cache file present was not used, if it was not
  int64_t bytes_before = 0, bytes_after = 0;  // of the matrices replaced
};

// The cache file of this model (its files' paths, sizes, modification times and the loaded dtypes of the
// recipe's tensors) and recipe under cache_dir.
std::string quant_cache_file(const Model& m, const quant::QuantRecipe& r, const std::string& cache_dir);

// Replaces the recipe's matrices (and sets m.spec.weight_dtypes to op_weight_dtypes). Throws synaptix::Error naming the tensor when the recipe names one the
// model does not have as a quantizable matrix, or when its rows are not whole groups of the format. With a
// cache_dir, reads the cache file when it is present and matches (else quantizes and writes it). A "gptq"
// recipe's codes come from `quantizer` (its caller calibrated them) or from the cache: without either it
// is an error telling to run `synaptix quantize` again.
QuantApplied apply_quant_recipe(Model& m, const quant::QuantRecipe& r, const std::string& cache_dir,
                                const TensorQuantizer& quantizer = {});

}  // namespace synaptix::model
