#pragma once
// Causal attention of one query token over a paged KV cache, GQA-aware, with an optional sliding window.
// K/V of one layer are [num_blocks, block_size, kv_heads * head_dim] f32; the sequence's block table maps
// position p to block table[p / block_size], slot p % block_size.
#include <cstdint>

namespace synaptix::kernels {

struct PagedKv {
  const float* k;
  const float* v;
  int64_t block_size;
  int64_t kv_heads;
  int64_t head_dim;
  const int32_t* block_table;
};

// q: [heads, head_dim] for the token at position `pos`; keys at positions [lo, pos] are attended, where
// lo = max(0, pos - window + 1) when window > 0. out: [heads, head_dim]. scale is usually 1/sqrt(head_dim).
// logit_softcap > 0 caps the scaled scores to cap * tanh(score / cap) before the softmax (gemma2/3 configs).
void attention_decode_reference(const float* q, int64_t heads, const PagedKv& kv, int64_t pos, int64_t window,
                                float scale, float* out, float logit_softcap = 0.0f);

}  // namespace synaptix::kernels
