#pragma once
// Points a loaded model's embedding, head and per-layer fields at its checked tensors, by their Hugging Face
// names (model.layers.N.self_attn.q_proj.weight, ...), as m.spec says which exist. The safetensors loader
// and the GGUF loader (which maps its own names onto these first) both end with it.
#include <map>
#include <string>

#include "synaptix/model/model.h"

namespace synaptix::model {

void bind_weights(Model& m, const std::map<std::string, const TensorRef*>& found);

}  // namespace synaptix::model
