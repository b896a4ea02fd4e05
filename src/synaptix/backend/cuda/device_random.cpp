#include "synaptix/backend/cuda/device_random.h"

#include <algorithm>

#include "synaptix/backend/cuda/module.h"
#include "synaptix/kernels/cuda_sources.h"

namespace synaptix::backend::cuda {
namespace {

// splitmix64 of (seed, index); the top 24 bits give a uniform in [0, 1).
const std::string kSource(kernels::cuda_source("backend/cuda/device_random.cu"));

void fill(const char* kernel, CUdeviceptr dst, size_t count, uint64_t seed, float scale, CUstream stream) {
  if (count == 0) return;
  CUfunction f = cached_module(kSource, "device_random").function(kernel);
  unsigned long long n = count, s = seed;
  void* args[] = {&dst, &n, &s, &scale};
  unsigned blocks = static_cast<unsigned>(std::min<size_t>((count + 255) / 256, 65536));
  launch(f, {blocks}, {256}, 0, stream, args, kernel);
}

}  // namespace

void fill_uniform_bf16(CUdeviceptr dst, size_t count, uint64_t seed, float scale, CUstream stream) {
  fill("fill_uniform_bf16", dst, count, seed, scale, stream);
}
void fill_uniform_f32(CUdeviceptr dst, size_t count, uint64_t seed, float scale, CUstream stream) {
  fill("fill_uniform_f32", dst, count, seed, scale, stream);
}

float uniform_value(uint64_t seed, uint64_t i, float scale) {
  uint64_t z = seed * 0x9E3779B97F4A7C15ull + i + 0x632BE59BD9B4E019ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  float u = static_cast<float>(z >> 40) * (1.0f / 16777216.0f);
  return (2.0f * u - 1.0f) * scale;
}

}  // namespace synaptix::backend::cuda
