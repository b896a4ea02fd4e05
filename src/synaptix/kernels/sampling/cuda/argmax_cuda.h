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
// Device bytes of the split form's scratch for `rows` rows.
int64_t argmax_scratch_bytes(int64_t rows);

// With `scratch` (argmax_scratch_bytes(rows)) and a long row, the split form: kArgmaxSplits blocks per row
// then one warp per row; else one 1024-thread block per row.
void argmax_rows(CUdeviceptr logits, CUdeviceptr ids, int64_t rows, int64_t vocab, CUstream stream,
                 CUdeviceptr scratch = 0);

}  // namespace synaptix::kernels::cuda
