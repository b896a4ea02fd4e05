#pragma once
// The runtime's default decode attention (what runs when no tuned kernel is in the recipe): the reference's
// arithmetic vectorized with AVX-512 where the build has it. Each key and value row is loaded once for all
// query heads of its KV group, the softmax uses a vectorized exp, and the score buffer is reused across calls.
// Falls back to attention_decode_reference for head dims that are not a multiple of 16 or without AVX-512.
#include "synaptix/kernels/attention/reference.h"

namespace synaptix::kernels {

void attention_decode_default(const float* q, int64_t heads, const PagedKv& kv, int64_t pos, int64_t window,
                              float scale, float* out, float logit_softcap = 0.0f);

}  // namespace synaptix::kernels
