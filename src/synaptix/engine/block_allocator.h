#pragma once
// Paged KV block management: which of the executor's `num_blocks` blocks are free, which are referenced (and
// by how many sequences), and which hold cached prefix content. A block is in exactly one state:
//   free        - no content, refcount 0
//   referenced  - refcount >= 1 (possibly also cached, then shared across requests)
//   evictable   - cached content, refcount 0; reused on a prefix hit, reclaimed on demand (LRU)
#include <cstdint>
#include <optional>
#include <vector>

#include "synaptix/engine/prefix_cache.h"

namespace synaptix::engine {

class BlockAllocator {
 public:
  BlockAllocator(int64_t num_blocks, bool prefix_caching);

  int64_t num_blocks() const { return static_cast<int64_t>(refs_.size()); }
  // Blocks an allocation can obtain now: free plus evictable.
  int64_t num_available() const { return static_cast<int64_t>(free_.size()) + cache_.num_evictable(); }
  int64_t num_referenced() const { return num_blocks() - num_available(); }
  int64_t num_cached() const { return cache_.num_cached(); }
  bool prefix_caching() const { return prefix_caching_; }

  // A block for new content with refcount 1 (evicting the least recently used cached block if no block is
  // free), or nothing when every block is referenced.
  std::optional<int32_t> allocate();
  // Refcount - 1; at 0 a cached block becomes evictable, any other block free.
  void release(int32_t block);
  int32_t refcount(int32_t block) const { return refs_.at(static_cast<size_t>(block)); }

  // Prefix cache: a hit returns the block with its refcount raised by one.
  std::optional<int32_t> acquire_cached(const BlockHash& h);
  // Publishes a full, referenced block's content; a no-op when caching is off or the content is cached already.
  void publish(int32_t block, const BlockHash& h);

 private:
  std::vector<int32_t> refs_;
  std::vector<int32_t> free_;  // a stack: recently freed blocks are reused first
  PrefixCache cache_;
  bool prefix_caching_;
};

}  // namespace synaptix::engine
