// The tuner's attention baseline is what the executor runs without a recipe: for a prefill chunk (one
// sequence, m > 64) the tiled prefill kernel, checked here against the reference at random positions of the
// sequence, as every candidate is; for decode buckets the per-token decode kernel.
#include <gtest/gtest.h>

#include "synaptix/core/thread_pool.h"
#include "synaptix/tune/measurer.h"

namespace synaptix::tune {

TEST(AttentionDefaultSubject, PrefillAndDecodeDefaultsPassTheReferenceCheck) {
  ThreadPool pool(2);
  for (auto [m_lo, m] : {std::pair<int64_t, int64_t>{65, 80}, {5, 16}}) {
    graph::Op op;
    op.name = "attention";
    op.kind = graph::OpKind::Attention;
    op.m_lo = m_lo;
    op.m = m;
    op.n = 9;
    op.k = 64;
    op.kv_heads = 3;
    op.ctx = 200;
    EXPECT_EQ(verify_impl(op, "", pool, 17), "") << op.signature();
  }
}

}  // namespace synaptix::tune
