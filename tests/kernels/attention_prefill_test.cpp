// The default prefill attention (a tile of query tokens of one sequence, keys in transposed blocks of 16 with
// an online softmax) equals the reference token by token on random paged caches: GQA groups of 1 to 12 heads,
// head dims 64 and 128, tiles of 1 to 16 tokens starting anywhere (block tails, the first position), sliding
// windows, shuffled block tables. Outputs are NaN-poisoned, and only the tile's KV head's heads are written.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include "synaptix/kernels/attention/prefill_default.h"

using namespace synaptix;

TEST(AttentionPrefillDefault, EqualsTheReferencePerToken) {
  std::mt19937 rng(11);
  std::normal_distribution<float> nd;
  struct Case { int64_t heads, kv_heads, head_dim, pos0, tokens, window, block; };
  for (const Case c : {Case{9, 3, 64, 0, 16, 0, 16}, Case{9, 3, 64, 0, 1, 0, 16}, Case{9, 3, 64, 113, 16, 0, 16},
                       Case{12, 1, 128, 5, 7, 0, 8}, Case{4, 4, 64, 200, 13, 32, 16}, Case{16, 8, 128, 31, 16, 20, 32},
                       Case{8, 2, 64, 47, 3, 0, 16}}) {
    const int64_t kv_dim = c.kv_heads * c.head_dim, qd = c.heads * c.head_dim;
    const int64_t last = c.pos0 + c.tokens - 1, blocks = last / c.block + 2;
    std::vector<float> k(static_cast<size_t>(blocks * c.block * kv_dim)), v(k.size()),
        q(static_cast<size_t>(c.tokens * qd));
    for (auto* vec : {&k, &v, &q})
      for (auto& x : *vec) x = nd(rng) * 2.0f;
    std::vector<int32_t> table(static_cast<size_t>(blocks));
    std::iota(table.begin(), table.end(), 0);
    std::shuffle(table.begin(), table.end(), rng);
    kernels::PagedKv kv{k.data(), v.data(), c.block, c.kv_heads, c.head_dim, table.data()};
    if (!kernels::attention_prefill_applies(c.heads, kv, 0.0f)) GTEST_SKIP() << "needs AVX-512";
    const float scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
    std::vector<int64_t> pos(static_cast<size_t>(c.tokens));
    std::iota(pos.begin(), pos.end(), c.pos0);
    std::vector<float> want(q.size(), NAN), got(q.size(), NAN);
    for (int64_t t = 0; t < c.tokens; ++t)
      kernels::attention_decode_reference(q.data() + t * qd, c.heads, kv, pos[t], c.window, scale, want.data() + t * qd);
    // KV head 0 alone writes only its group's heads.
    kernels::attention_prefill_tile(q.data(), qd, c.tokens, pos.data(), c.heads, kv, 0, c.window, scale, got.data());
    const int64_t group = c.heads / c.kv_heads;
    for (int64_t t = 0; t < c.tokens; ++t)
      for (int64_t i = group * c.head_dim; i < qd; ++i) ASSERT_TRUE(std::isnan(got[t * qd + i])) << "wrote another group";
    for (int64_t h = 1; h < c.kv_heads; ++h)
      kernels::attention_prefill_tile(q.data(), qd, c.tokens, pos.data(), c.heads, kv, h, c.window, scale, got.data());
    for (size_t i = 0; i < want.size(); ++i)
      ASSERT_NEAR(got[i], want[i], 2e-5f + 2e-5f * std::fabs(want[i]))
          << "heads " << c.heads << "/" << c.kv_heads << " dim " << c.head_dim << " pos0 " << c.pos0 << " tokens "
          << c.tokens << " window " << c.window << " i " << i;
  }
}

TEST(AttentionPrefillDefault, AppliesOnlyWhereItCan) {
  const int32_t table[1] = {0};
  std::vector<float> k(16 * 72);
  kernels::PagedKv d72{k.data(), k.data(), 16, 1, 72, table}, d64{k.data(), k.data(), 16, 1, 64, table};
  EXPECT_FALSE(kernels::attention_prefill_applies(2, d72, 0.0f));  // head dim not a multiple of 16
  EXPECT_FALSE(kernels::attention_prefill_applies(2, d64, 50.0f));  // soft-capped scores take the reference
  EXPECT_FALSE(kernels::attention_prefill_applies(17, d64, 0.0f));  // group over 16 heads
}
