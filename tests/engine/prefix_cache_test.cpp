#include "synaptix/engine/prefix_cache.h"

#include <gtest/gtest.h>

#include "synaptix/core/hash.h"

using namespace synaptix::engine;

TEST(PrefixCacheHash, ChainsOnParentAndContent) {
  const std::vector<int32_t> a{1, 2, 3, 4}, b{1, 2, 3, 5};
  const BlockHash ha = hash_block("", a);
  EXPECT_EQ(ha.size(), 64u);
  EXPECT_EQ(ha, hash_block("", a));
  EXPECT_NE(ha, hash_block("", b));
  // Same block content after a different prefix is different content.
  EXPECT_NE(hash_block(ha, a), hash_block(hash_block("", b), a));
  // Tokens are hashed as 32-bit values, not bytes: 256 must not alias 0 followed by 1.
  EXPECT_NE(hash_block("", std::vector<int32_t>{256}), hash_block("", std::vector<int32_t>{0, 1}));
}

TEST(PrefixCacheHash, IsSha256OfParentSeparatorAndLittleEndianTokens) {
  // Independent of hash_block: the documented preimage, built byte by byte.
  std::string pre = "p|";
  for (int32_t t : {1, 258}) {
    for (int k = 0; k < 4; ++k) pre.push_back(static_cast<char>((static_cast<uint32_t>(t) >> (8 * k)) & 0xff));
  }
  EXPECT_EQ(hash_block("p", std::vector<int32_t>{1, 258}), synaptix::sha256_hex(pre));
}

TEST(PrefixCache, InsertFindEvictInLruOrder) {
  PrefixCache c;
  EXPECT_TRUE(c.insert("a", 1));
  EXPECT_TRUE(c.insert("b", 2));
  EXPECT_FALSE(c.insert("a", 3)) << "content already cached in block 1";
  EXPECT_FALSE(c.insert("c", 2)) << "block 2 already holds content b";
  EXPECT_EQ(c.find("a"), 1);
  EXPECT_FALSE(c.find("c").has_value());
  EXPECT_FALSE(c.evict().has_value()) << "referenced blocks are not evictable";
  c.make_evictable(2);
  c.make_evictable(1);
  c.make_unevictable(2);  // a hit took it back
  EXPECT_EQ(c.num_evictable(), 1);
  EXPECT_EQ(c.evict(), 1);
  EXPECT_FALSE(c.find("a").has_value());
  EXPECT_EQ(c.find("b"), 2);
  EXPECT_EQ(c.num_cached(), 1);
}
