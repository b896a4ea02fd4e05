#pragma once
// What the GPU kernel tests share: the device context (device 0, made current), one random engine, uploads,
// poisoned (NaN-byte) output buffers and a device-wide sync.
#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "synaptix/backend/cuda/device_buffer.h"
#include "synaptix/core/error.h"
#include "synaptix/hw/cuda/driver.h"

namespace synaptix::testing {

inline hw::cuda::Context& cuda_context() {
  static hw::cuda::Context c(0);
  c.make_current();
  return c;
}

inline std::mt19937& test_rng() {
  static std::mt19937 r(std::random_device{}());
  return r;
}

template <typename T>
backend::cuda::DeviceBuffer upload(const std::vector<T>& v) {
  backend::cuda::DeviceBuffer b(std::max<size_t>(v.size() * sizeof(T), 16));
  b.upload(v.data(), v.size() * sizeof(T));
  return b;
}

// Every byte 0xFF (a NaN in f32 and bf16), so an element a kernel never writes fails the comparison.
inline backend::cuda::DeviceBuffer poisoned(size_t bytes) {
  backend::cuda::DeviceBuffer b(bytes);
  b.fill_bytes(0xFF);
  return b;
}

// Whether a CUDA device is here: the device tests skip without one (they run in bench/gpu/run.sh).
inline bool have_cuda_device() {
  try {
    return hw::cuda::device_count() > 0;
  } catch (const Error&) {
    return false;
  }
}

#define SKIP_WITHOUT_DEVICE() \
  if (!synaptix::testing::have_cuda_device()) GTEST_SKIP() << "no CUDA device (these kernels run in bench/gpu/run.sh)"

// max |a - b| / max(1e-6, max |b|) over all elements; NaN or inf anywhere in a is infinite error.
inline double rel_err(const std::vector<float>& a, const std::vector<float>& b) {
  double num = 0, den = 1e-6;
  for (size_t i = 0; i < b.size(); ++i) {
    if (!std::isfinite(a[i])) return INFINITY;
    num = std::max(num, std::fabs(static_cast<double>(a[i]) - b[i]));
    den = std::max(den, std::fabs(static_cast<double>(b[i])));
  }
  return num / den;
}

inline void device_sync() { hw::cuda::check(cuCtxSynchronize(), "cuCtxSynchronize"); }

}  // namespace synaptix::testing
