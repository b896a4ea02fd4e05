#pragma once
// Causal attention of one query token over a paged KV cache, GQA-aware, with an optional sliding window.
// K/V of one layer are [num_blocks, block_size, kv_heads * head_dim] elements of a KvFormat (kv_format.h: f32,
// bf16, int8 with per-(slot, KV head) scales, fp8-e4m3); the sequence's block table maps position p to block
// table[p / block_size], slot p % block_size.
#include <cstdint>

#include "synaptix/kernels/attention/kv_format.h"

namespace synaptix::kernels {

struct PagedKv {
  const void* k;
  const void* v;
  int64_t block_size;
  int64_t kv_heads;
  int64_t head_dim;
  const int32_t* block_table;
  KvFormat format = KvFormat::F32;
  const float* k_scale = nullptr;  // int8: [slots, kv_heads], the scale of each slot's head row
  const float* v_scale = nullptr;

  int64_t slot(int64_t p) const { return static_cast<int64_t>(block_table[p / block_size]) * block_size + p % block_size; }
  // KV head kvh's row of K (or V) at a slot, as stored, and its scale (1 without scales).
  const void* row(const void* base, int64_t slot, int64_t kvh) const {
    return static_cast<const char*>(base) +
           static_cast<size_t>((slot * kv_heads + kvh) * head_dim) * kv_element_bytes(format);
  }
  float row_scale(const float* scales, int64_t slot, int64_t kvh) const {
    return scales ? scales[slot * kv_heads + kvh] : 1.0f;
  }
  // The K (value = false) or V row as f32: the cache itself when it is f32, else dequantized into buf
  // (head_dim floats) with kv_decode_head.
  const float* row_f32(bool value, int64_t slot, int64_t kvh, float* buf) const;
};

// q: [heads, head_dim] for the token at position `pos`; keys at positions [lo, pos] are attended, where
// lo = max(0, pos - window + 1) when window > 0. out: [heads, head_dim]. scale is usually 1/sqrt(head_dim).
// logit_softcap > 0 caps the scaled scores to cap * tanh(score / cap) before the softmax (gemma2/3 configs).
void attention_decode_reference(const float* q, int64_t heads, const PagedKv& kv, int64_t pos, int64_t window,
                                float scale, float* out, float logit_softcap = 0.0f);

}  // namespace synaptix::kernels
