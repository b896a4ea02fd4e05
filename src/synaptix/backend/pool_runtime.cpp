#include "synaptix/backend/pool_runtime.h"

namespace synaptix::backend {
namespace {

void pool_parallel_for(void* pool, int64_t n_tasks, synaptix_task_fn fn, void* ctx) {
  if (n_tasks <= 0) return;
  static_cast<ThreadPool*>(pool)->parallel_for(static_cast<size_t>(n_tasks), [&](size_t b, size_t e) {
    fn(ctx, static_cast<int64_t>(b), static_cast<int64_t>(e));
  });
}

}  // namespace

synaptix_runtime pool_runtime(ThreadPool& pool) {
  synaptix_runtime rt{};
  rt.parallel_for = &pool_parallel_for;
  rt.pool = &pool;
  rt.threads = pool.size();
  return rt;
}

}  // namespace synaptix::backend
