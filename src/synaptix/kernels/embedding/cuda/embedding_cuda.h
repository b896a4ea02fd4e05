#pragma once
// Embedding lookup on the device: out[i, :] = f32(table[ids[i], :]), table bf16 [vocab, dim]. The caller
// validates ids against the vocabulary before they reach the device.
#include <cuda.h>

#include <cstdint>
#include <string>

namespace synaptix::kernels::cuda {

std::string embedding_source();
// scale_f32: x *= scale in place (the embeddings of a model that scales them; gemma3).
std::string embedding_scale_source();

// The step's metadata copied by the embedding kernel before the step's other kernels read it: ints
// [off[r], off[r] + n[r]) of `src` (pinned host memory mapped for the device) to the same places of `dst`
// (device memory), and each row's token id to dst[i]. A decode step's few hundred ints cost a copy on the
// stream (several us between graph replays) or this one round trip over PCIe inside the first kernel.
// A graph of several decode steps copies every step's metadata at once: regions [0, per_step_regions) for
// each of `steps` steps (step s's at off[r] + s * step_stride), the others once (the steps share them).
struct StepMetaCopy {
  static constexpr int kRegions = 6;
  CUdeviceptr src = 0, dst = 0;  // both 0: no copy
  int32_t off[kRegions] = {};
  int32_t n[kRegions] = {};
  int32_t steps = 1;
  int32_t step_stride = 0;
  int32_t per_step_regions = kRegions;
};
static_assert(sizeof(StepMetaCopy) == 80, "StepMetaCopy is passed by value to the kernel's struct of the same layout");

}  // namespace synaptix::kernels::cuda
