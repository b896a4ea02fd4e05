#include "synaptix/engine/cuda/graph_cache.h"

#include "synaptix/hw/cuda/driver.h"

namespace synaptix::engine::cuda {

using hw::cuda::check;

void GraphCache::run(const Key& key, CUstream stream, const std::function<void()>& enqueue) {
  auto it = graphs_.find(key);
  if (it != graphs_.end()) {
    check(cuGraphLaunch(it->second, stream), "cuGraphLaunch");
    return;
  }
  if (!seen_.count(key)) {
    // First sight: run eagerly, which compiles and loads every kernel and plans cuBLASLt outside capture.
    seen_.insert(key);
    enqueue();
    return;
  }
  CUgraph graph = nullptr;
  check(cuStreamBeginCapture(stream, CU_STREAM_CAPTURE_MODE_RELAXED), "cuStreamBeginCapture");
  try {
    enqueue();
  } catch (...) {
    cuStreamEndCapture(stream, &graph);
    if (graph) cuGraphDestroy(graph);
    throw;
  }
  check(cuStreamEndCapture(stream, &graph), "cuStreamEndCapture");
  CUgraphExec exec = nullptr;
  CUresult r = cuGraphInstantiate(&exec, graph, 0);
  cuGraphDestroy(graph);
  check(r, "cuGraphInstantiate");
  graphs_[key] = exec;
  check(cuGraphLaunch(exec, stream), "cuGraphLaunch");
}

void GraphCache::clear() {
  for (auto& [k, g] : graphs_) cuGraphExecDestroy(g);
  graphs_.clear();
  seen_.clear();
}

}  // namespace synaptix::engine::cuda
