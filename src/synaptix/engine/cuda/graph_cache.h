#pragma once
// Decode steps as CUDA graphs: one per step key (batch size, attention split, greedy or not, pinned
// metadata slot, chained tokens, steps per launch), captured on the second sight of a key and replayed after,
// so a decode step costs one graph launch.
#include <cuda.h>

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <tuple>

namespace synaptix::engine::cuda {

class GraphCache {
 public:
  // tokens, splits, split_size, greedy, metadata slot, chained tokens, steps
  using Key = std::tuple<int64_t, int64_t, int64_t, bool, int, bool, int64_t>;

  GraphCache() = default;
  ~GraphCache() { clear(); }
  GraphCache(const GraphCache&) = delete;
  GraphCache& operator=(const GraphCache&) = delete;

  // Enqueues the step of `key` on `stream`: its graph when one was captured; else, the first time, `enqueue`
  // eagerly (which compiles and loads every kernel and plans cuBLASLt outside a capture); the second time,
  // `enqueue` captured into a graph, which is then launched and kept.
  void run(const Key& key, CUstream stream, const std::function<void()>& enqueue);
  // Drops every graph (a new plan or speed setting changes what they would run); the context must be current.
  void clear();

 private:
  std::map<Key, CUgraphExec> graphs_;
  std::set<Key> seen_;
};

}  // namespace synaptix::engine::cuda
