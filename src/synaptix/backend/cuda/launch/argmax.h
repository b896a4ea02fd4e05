#pragma once
// Launcher of the greedy argmax over logits rows (the kernel, its arguments and its source:
// kernels/sampling/cuda/argmax_cuda.h): compiles and loads the kernel through the module cache on first use,
// then enqueues it on `stream`. Launchers keep their op's namespace; they sit in backend/ because they call the
// driver.
#include <cuda.h>

#include <cstdint>

#include "synaptix/kernels/sampling/cuda/argmax_cuda.h"

namespace synaptix::kernels::cuda {

// With `scratch` (argmax_scratch_bytes(capacity), zeroed once; rows <= capacity) and a long row, the split
// form: kArgmaxSplits blocks per row, the last of a row's blocks reducing their pairs; else one 1024-thread
// block per row. With `host_ids` (pinned host memory mapped for the device) the ids are also written there,
// so reading them needs no copy on the stream, only the kernel's completion.
void argmax_rows(CUdeviceptr logits, CUdeviceptr ids, int64_t rows, int64_t vocab, CUstream stream,
                 CUdeviceptr scratch = 0, int64_t capacity = 0, CUdeviceptr host_ids = 0);

}  // namespace synaptix::kernels::cuda
