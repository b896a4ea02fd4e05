#pragma once
// Prefix cache: full KV blocks indexed by the content hash of every token up to and including the block, so
// a request whose prompt starts like an earlier one reuses that KV instead of recomputing it. Blocks that no
// sequence references stay cached and are evicted least-recently-released first when fresh blocks are needed.
#include <cstdint>
#include <list>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>

namespace synaptix::engine {

// SHA-256 over (parent hash, the block's tokens): a collision would hand a request someone else's KV, so a
// 64-bit hash is not enough. The chain makes a block's hash depend on the whole prefix before it.
using BlockHash = std::string;
BlockHash hash_block(const BlockHash& parent, std::span<const int32_t> tokens);

class PrefixCache {
 public:
  std::optional<int32_t> find(const BlockHash& h) const;
  // Records that `block` holds the KV of content `h`. Returns false (and records nothing) when the content is
  // already cached in another block or the block already holds other content.
  bool insert(const BlockHash& h, int32_t block);
  bool contains_block(int32_t block) const { return hash_of_.count(block) != 0; }
  // Unreferenced cached blocks, kept for reuse until evicted.
  void make_evictable(int32_t block);  // appended as most recently used
  void make_unevictable(int32_t block);
  // Drops the least recently used evictable block from the cache and returns it, or nothing.
  std::optional<int32_t> evict();
  int64_t num_evictable() const { return static_cast<int64_t>(lru_.size()); }
  int64_t num_cached() const { return static_cast<int64_t>(block_of_.size()); }

 private:
  std::unordered_map<BlockHash, int32_t> block_of_;
  std::unordered_map<int32_t, BlockHash> hash_of_;
  std::list<int32_t> lru_;  // front: least recently released
  std::unordered_map<int32_t, std::list<int32_t>::iterator> lru_pos_;
};

}  // namespace synaptix::engine
