#pragma once
// Greedy sampling on the device: ids[r] = argmax over logits[r, :vocab], the lowest index among equal
// maxima (as torch.argmax). Saves copying [rows, vocab] logits to the host when only the token is needed.
#include <cuda.h>

#include <cstdint>
#include <string>

namespace synaptix::kernels::cuda {

std::string argmax_source();

// Slices per row of the split form.
inline constexpr int64_t kArgmaxSplits = 64;
// Device bytes of the split form's scratch for up to `capacity` rows: partial pairs, then one counter per
// row at a place that does not move with the rows of a call. Zero it once before its first use; the kernel
// leaves its counters at zero again.
int64_t argmax_scratch_bytes(int64_t capacity);

// With `scratch` (argmax_scratch_bytes(capacity), zeroed once; rows <= capacity) and a long row, the split
// form: kArgmaxSplits blocks per row, the last of a row's blocks reducing their pairs; else one 1024-thread
// block per row. With `host_ids` (pinned host memory mapped for the device) the ids are also written there,
// so reading them needs no copy on the stream, only the kernel's completion.
void argmax_rows(CUdeviceptr logits, CUdeviceptr ids, int64_t rows, int64_t vocab, CUstream stream,
                 CUdeviceptr scratch = 0, int64_t capacity = 0, CUdeviceptr host_ids = 0);

}  // namespace synaptix::kernels::cuda
