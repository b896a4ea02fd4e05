#pragma once
// What `synaptix eval` measures: a model run a particular way (recipe, target, numeric precision). A
// comparison has two, written as comma-separated key=value lists:
//   --incumbent model=M,recipe=R,target=cpu   --candidate model=M,kv=bf16,products=1,target=cuda
// Keys: model, recipe, quant (a quantization recipe of `synaptix quantize`, applied at load: a GGUF file is
// expanded to bf16 first, as quantize does, and the quantized bytes come from its cache), target (cpu | cuda | cuda:N), kv (f32 | bf16: the KV cache), products (2 | 1: bf16
// products per tensor-core GEMM, two keeping f32 accuracy). kv and products can also come from a recipe's
// "precision" section ({"kv_cache": "bf16", "bf16_products": 1}); the key=value list wins. A recipe with
// no "kernels" records only that choice (how a CUDA precision is kept until CUDA kernels are in recipes).
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "synaptix/executor_factory.h"
#include "synaptix/model/model.h"
#include "synaptix/model/tokenizer.h"

namespace synaptix::app {

struct SubjectSpec {
  std::string model, recipe, quant, target = "cpu";
  Precision precision;
  bool recipe_kernels = false;  // the recipe has tuned kernels (else it only records a precision choice)
  std::string describe() const;  // "model=...,target=...,kv=f32,products=2"
};

// `flag` names the option in errors; `default_model` fills a spec without model=.
SubjectSpec parse_subject(const std::string& spec, const std::string& flag, const std::string& default_model);
// The single subject of `eval perplexity` / `eval golden` (--model, --recipe, --target).
SubjectSpec subject_from_flags(const std::string& model, const std::string& recipe, const std::string& target);

// A loaded subject: the model and tokenizer now, the executor once the caller knows how many KV positions
// it needs.
struct Subject {
  SubjectSpec spec;
  std::unique_ptr<model::Model> model;
  model::Tokenizer tok;
  ExecutorBundle bundle;
  explicit Subject(SubjectSpec s);
  void build_executor(int64_t positions);
  engine::Executor& executor() { return *bundle.executor; }
  std::vector<int64_t> eos_ids() const;
  // An item's prompt: plain text with the tokenizer's special tokens, or chat turns through the template.
  std::vector<int32_t> encode(const std::string* prompt, const nlohmann::json& messages) const;
};

}  // namespace synaptix::app
