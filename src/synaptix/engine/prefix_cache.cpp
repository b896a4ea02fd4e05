#include "synaptix/engine/prefix_cache.h"

#include <cassert>
#include <cstring>

#include "synaptix/core/hash.h"

namespace synaptix::engine {

BlockHash hash_block(const BlockHash& parent, std::span<const int32_t> tokens) {
  std::string data = parent;
  data.push_back('|');
  const size_t at = data.size();
  data.resize(at + tokens.size_bytes());
  std::memcpy(data.data() + at, tokens.data(), tokens.size_bytes());
  return sha256_hex(data);
}

std::optional<int32_t> PrefixCache::find(const BlockHash& h) const {
  auto it = block_of_.find(h);
  if (it == block_of_.end()) return std::nullopt;
  return it->second;
}

bool PrefixCache::insert(const BlockHash& h, int32_t block) {
  if (block_of_.count(h) || hash_of_.count(block)) return false;
  block_of_.emplace(h, block);
  hash_of_.emplace(block, h);
  return true;
}

void PrefixCache::make_evictable(int32_t block) {
  assert(hash_of_.count(block) && !lru_pos_.count(block));
  lru_pos_[block] = lru_.insert(lru_.end(), block);
}

void PrefixCache::make_unevictable(int32_t block) {
  auto it = lru_pos_.find(block);
  if (it == lru_pos_.end()) return;
  lru_.erase(it->second);
  lru_pos_.erase(it);
}

std::optional<int32_t> PrefixCache::evict() {
  if (lru_.empty()) return std::nullopt;
  const int32_t b = lru_.front();
  lru_.pop_front();
  lru_pos_.erase(b);
  auto h = hash_of_.find(b);
  block_of_.erase(h->second);
  hash_of_.erase(h);
  return b;
}

}  // namespace synaptix::engine
