#pragma once
// The synaptix_runtime handed to generated kernels: a parallel-for over one of our ThreadPools.
#include "synaptix/core/thread_pool.h"
#include "synaptix/kernels/generated_abi.h"

namespace synaptix::backend {

// The returned struct points at `pool`, which must outlive its use.
synaptix_runtime pool_runtime(ThreadPool& pool);

}  // namespace synaptix::backend
