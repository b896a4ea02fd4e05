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

}  // namespace synaptix::kernels::cuda
