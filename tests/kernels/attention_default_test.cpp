// The default decode attention (vectorized) equals the reference on random paged caches: GQA groups of 1 to
// 12 heads, head dims 64, 128 and 80 (80 takes the reference fallback), sliding windows, shuffled block
// tables, outputs poisoned with NaN before the call.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include "synaptix/kernels/attention/decode_default.h"

using namespace synaptix;

TEST(AttentionDecodeDefault, EqualsTheReference) {
  std::mt19937 rng(7);
  std::normal_distribution<float> nd;
  struct Case { int64_t heads, kv_heads, head_dim, pos, window, block; };
  for (const Case c : {Case{9, 3, 64, 0, 0, 16}, Case{9, 3, 64, 300, 0, 16}, Case{12, 1, 128, 77, 0, 8},
                       Case{4, 4, 64, 40, 16, 16}, Case{8, 2, 80, 33, 0, 16}, Case{16, 8, 128, 129, 64, 32}}) {
    const int64_t kv_dim = c.kv_heads * c.head_dim, blocks = c.pos / c.block + 2;
    std::vector<float> k(static_cast<size_t>(blocks * c.block * kv_dim)), v(k.size()),
        q(static_cast<size_t>(c.heads * c.head_dim));
    for (auto* vec : {&k, &v, &q})
      for (auto& x : *vec) x = nd(rng) * 2.0f;
    std::vector<int32_t> table(static_cast<size_t>(blocks));
    std::iota(table.begin(), table.end(), 0);
    std::shuffle(table.begin(), table.end(), rng);
    kernels::PagedKv kv{k.data(), v.data(), c.block, c.kv_heads, c.head_dim, table.data()};
    const float scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
    std::vector<float> want(q.size(), NAN), got(q.size(), NAN);
    kernels::attention_decode_reference(q.data(), c.heads, kv, c.pos, c.window, scale, want.data());
    kernels::attention_decode_default(q.data(), c.heads, kv, c.pos, c.window, scale, got.data());
    for (size_t i = 0; i < want.size(); ++i)
      ASSERT_NEAR(got[i], want[i], 2e-5f + 2e-5f * std::fabs(want[i]))
          << "heads " << c.heads << "/" << c.kv_heads << " dim " << c.head_dim << " pos " << c.pos << " i " << i;
  }
}

// A soft-capped score (gemma2/3) goes through the reference path and still agrees.
TEST(AttentionDecodeDefault, SoftcapMatchesTheReference) {
  std::vector<float> k(16 * 64), v(k.size()), q(2 * 64);
  std::mt19937 rng(3);
  std::normal_distribution<float> nd;
  for (auto* vec : {&k, &v, &q})
    for (auto& x : *vec) x = nd(rng) * 4.0f;
  const int32_t table[1] = {0};
  kernels::PagedKv kv{k.data(), v.data(), 16, 1, 64, table};
  std::vector<float> want(q.size(), NAN), got(q.size(), NAN);
  kernels::attention_decode_reference(q.data(), 2, kv, 9, 0, 0.125f, want.data(), 50.0f);
  kernels::attention_decode_default(q.data(), 2, kv, 9, 0, 0.125f, got.data(), 50.0f);
  for (size_t i = 0; i < want.size(); ++i) ASSERT_FLOAT_EQ(got[i], want[i]);
}
