#pragma once
// Greedy sampling on the device: ids[r] = argmax over logits[r, :vocab], the lowest index among equal
// maxima (as torch.argmax). Saves copying [rows, vocab] logits to the host when only the token is needed.
#include <cuda.h>

#include <cstdint>
#include <string>

namespace synaptix::kernels::cuda {

std::string argmax_source();

void argmax_rows(CUdeviceptr logits, CUdeviceptr ids, int64_t rows, int64_t vocab, CUstream stream);

}  // namespace synaptix::kernels::cuda
