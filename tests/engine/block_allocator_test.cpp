#include "synaptix/engine/block_allocator.h"

#include <gtest/gtest.h>

#include <set>

#include "synaptix/core/error.h"

using namespace synaptix::engine;

TEST(BlockAllocator, AllocatesEveryBlockOnceThenRunsOut) {
  BlockAllocator a(8, false);
  std::set<int32_t> got;
  for (int i = 0; i < 8; ++i) {
    auto b = a.allocate();
    ASSERT_TRUE(b.has_value());
    EXPECT_GE(*b, 0);
    EXPECT_LT(*b, 8);
    EXPECT_TRUE(got.insert(*b).second) << "block " << *b << " handed out twice";
  }
  EXPECT_FALSE(a.allocate().has_value());
  EXPECT_EQ(a.num_available(), 0);
  a.release(*got.begin());
  EXPECT_EQ(a.num_available(), 1);
  EXPECT_EQ(a.allocate(), *got.begin());
}

TEST(BlockAllocator, ReleaseOfUnreferencedBlockThrows) {
  BlockAllocator a(2, false);
  EXPECT_THROW(a.release(0), synaptix::Error);
  auto b = a.allocate();
  a.release(*b);
  EXPECT_THROW(a.release(*b), synaptix::Error);
}

TEST(BlockAllocator, SharedCachedBlockIsRefcounted) {
  BlockAllocator a(4, true);
  const BlockHash h = hash_block("", std::vector<int32_t>{1, 2, 3, 4});
  int32_t b = *a.allocate();
  a.publish(b, h);
  auto hit = a.acquire_cached(h);
  ASSERT_EQ(hit, b);
  EXPECT_EQ(a.refcount(b), 2);
  a.release(b);
  EXPECT_EQ(a.refcount(b), 1);
  EXPECT_EQ(a.num_referenced(), 1);
  a.release(b);
  // Unreferenced but cached: available for allocation, and still a hit until evicted.
  EXPECT_EQ(a.num_referenced(), 0);
  EXPECT_EQ(a.num_cached(), 1);
  EXPECT_EQ(a.acquire_cached(h), b);
  a.release(b);
}

TEST(BlockAllocator, EvictsLeastRecentlyReleasedCachedBlockOnlyWhenNoneFree) {
  BlockAllocator a(3, true);
  int32_t b0 = *a.allocate(), b1 = *a.allocate(), b2 = *a.allocate();
  const BlockHash h0 = hash_block("", std::vector<int32_t>{0}), h1 = hash_block("", std::vector<int32_t>{1});
  a.publish(b0, h0);
  a.publish(b1, h1);
  a.release(b1);  // released first: least recently used
  a.release(b0);
  a.release(b2);  // not cached: plain free
  EXPECT_EQ(a.allocate(), b2);  // a free block is used before any eviction
  EXPECT_EQ(a.num_cached(), 2);
  EXPECT_EQ(a.allocate(), b1);  // evicts h1
  EXPECT_FALSE(a.acquire_cached(h1).has_value());
  EXPECT_EQ(a.acquire_cached(h0), b0);
  EXPECT_FALSE(a.allocate().has_value());
}

TEST(BlockAllocator, PrefixCachingOffNeverHits) {
  BlockAllocator a(2, false);
  const BlockHash h = hash_block("", std::vector<int32_t>{7});
  int32_t b = *a.allocate();
  a.publish(b, h);
  EXPECT_FALSE(a.acquire_cached(h).has_value());
  a.release(b);
  EXPECT_EQ(a.num_available(), 2);
}
