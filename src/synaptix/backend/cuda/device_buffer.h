#pragma once
// Device memory owned by RAII, with the copies and fills the executor, the tuner and the tests need.
#include <cuda.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace synaptix::backend::cuda {

class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(size_t bytes);  // throws naming the size when the allocation fails
  ~DeviceBuffer();
  DeviceBuffer(DeviceBuffer&& o) noexcept;
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  CUdeviceptr ptr() const { return ptr_; }
  size_t bytes() const { return bytes_; }
  template <typename T>
  T* as() const { return reinterpret_cast<T*>(ptr_); }

  void upload(const void* src, size_t bytes, size_t offset = 0);
  void download(void* dst, size_t bytes, size_t offset = 0) const;
  // Every byte set to `value` (0xFF poisons f32 outputs with NaN so an unwritten element is caught).
  void fill_bytes(uint8_t value);

  template <typename T>
  std::vector<T> to_host(size_t count) const {
    std::vector<T> v(count);
    download(v.data(), count * sizeof(T));
    return v;
  }

 private:
  CUdeviceptr ptr_ = 0;
  size_t bytes_ = 0;
};

}  // namespace synaptix::backend::cuda
