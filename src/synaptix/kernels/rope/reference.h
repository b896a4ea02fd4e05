#pragma once
// Rotary position embedding in the Hugging Face "rotate_half" layout: for i < d/2 the pair (i, i + d/2) is
// rotated by pos * inv_freq[i]. The inverse frequencies carry the config's scaling (linear, dynamic NTK,
// yarn, llama3), computed once from the Spec.
#include <cstdint>
#include <vector>

#include "synaptix/model/spec.h"

namespace synaptix::kernels {

struct RopeTable {
  int64_t rotary_dim = 0;          // dims rotated (head_dim * partial_rotary_factor)
  std::vector<float> inv_freq;     // [rotary_dim / 2]
  float attention_scaling = 1.0f;  // yarn scales cos and sin
};

// For `dynamic` scaling the frequencies depend on the sequence length seen so far (seq_len); others ignore it.
RopeTable make_rope_table(const model::Spec& s, int64_t seq_len = 0);
// The table of layer `layer`: the sliding-window layers' own base and scaling where the spec has them
// (gemma3), else make_rope_table's.
RopeTable make_layer_rope_table(const model::Spec& s, int64_t layer, int64_t seq_len = 0);

// Rotates `heads` vectors of length head_dim at position pos, in place.
void rope_reference(float* x, int64_t heads, int64_t head_dim, int64_t pos, const RopeTable& t);

}  // namespace synaptix::kernels
