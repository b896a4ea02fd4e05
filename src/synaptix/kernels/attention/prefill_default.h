#pragma once
// The runtime's default attention for a tile of query tokens of one sequence (prefill chunks): the same
// result as attention_decode_default per token, to f32 rounding. Keys are taken 16 positions at a time,
// transposed once per block and KV head, and applied to every query row of the tile (tokens x the KV group's
// heads) with an online softmax, so no horizontal sums per key and each K/V row is read once per tile rather
// than once per token. Needs AVX-512 and a head dim that is a multiple of 16 (up to 256) and no logit soft-cap;
// attention_prefill_applies says so, and callers use attention_decode_default otherwise.
#include <cstdint>

#include "synaptix/kernels/attention/reference.h"

namespace synaptix::kernels {

// At most this many query tokens per tile.
constexpr int64_t kPrefillTileTokens = 16;

bool attention_prefill_applies(int64_t heads, const PagedKv& kv, float logit_softcap);

// Query tokens [0, tokens) (at most kPrefillTileTokens), all of one sequence (kv.block_table), q rows at
// q + t * q_stride ([heads, head_dim] each), positions pos[t]; only KV head `kv_head`'s group of query heads is
// computed, into out + t * q_stride. window > 0 limits each token to its last `window` positions.
void attention_prefill_tile(const float* q, int64_t q_stride, int64_t tokens, const int64_t* pos, int64_t heads,
                            const PagedKv& kv, int64_t kv_head, int64_t window, float scale, float* out);

}  // namespace synaptix::kernels
