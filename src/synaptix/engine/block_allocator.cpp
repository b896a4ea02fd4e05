#include "synaptix/engine/block_allocator.h"

#include "synaptix/core/error.h"

namespace synaptix::engine {

BlockAllocator::BlockAllocator(int64_t num_blocks, bool prefix_caching) : prefix_caching_(prefix_caching) {
  if (num_blocks <= 0) fail("BlockAllocator: num_blocks must be positive, got ", num_blocks);
  refs_.assign(static_cast<size_t>(num_blocks), 0);
  free_.reserve(static_cast<size_t>(num_blocks));
  for (int64_t b = num_blocks - 1; b >= 0; --b) free_.push_back(static_cast<int32_t>(b));
}

std::optional<int32_t> BlockAllocator::allocate() {
  int32_t b;
  if (!free_.empty()) {
    b = free_.back();
    free_.pop_back();
  } else if (auto e = cache_.evict()) {
    b = *e;
  } else {
    return std::nullopt;
  }
  refs_[static_cast<size_t>(b)] = 1;
  return b;
}

void BlockAllocator::release(int32_t block) {
  int32_t& r = refs_.at(static_cast<size_t>(block));
  if (r <= 0) fail("BlockAllocator: release of block ", block, " that is not referenced");
  if (--r > 0) return;
  if (cache_.contains_block(block)) {
    cache_.make_evictable(block);
  } else {
    free_.push_back(block);
  }
}

std::optional<int32_t> BlockAllocator::acquire_cached(const BlockHash& h) {
  if (!prefix_caching_) return std::nullopt;
  auto b = cache_.find(h);
  if (!b) return std::nullopt;
  int32_t& r = refs_[static_cast<size_t>(*b)];
  if (r == 0) cache_.make_unevictable(*b);
  ++r;
  return b;
}

void BlockAllocator::publish(int32_t block, const BlockHash& h) {
  if (!prefix_caching_) return;
  if (refs_.at(static_cast<size_t>(block)) <= 0) fail("BlockAllocator: publish of unreferenced block ", block);
  cache_.insert(h, block);
}

}  // namespace synaptix::engine
