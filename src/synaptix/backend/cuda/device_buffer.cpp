#include "synaptix/backend/cuda/device_buffer.h"

#include <utility>

#include "synaptix/core/error.h"
#include "synaptix/hw/cuda/driver.h"

namespace synaptix::backend::cuda {

using hw::cuda::check;

DeviceBuffer::DeviceBuffer(size_t bytes) : bytes_(bytes) {
  if (bytes == 0) return;
  CUresult r = cuMemAlloc(&ptr_, bytes);
  if (r != CUDA_SUCCESS) {
    ptr_ = 0;
    check(r, ("cuMemAlloc of " + std::to_string(bytes) + " bytes").c_str());
  }
}

DeviceBuffer::~DeviceBuffer() {
  if (ptr_) cuMemFree(ptr_);
}

DeviceBuffer::DeviceBuffer(DeviceBuffer&& o) noexcept
    : ptr_(std::exchange(o.ptr_, 0)), bytes_(std::exchange(o.bytes_, 0)) {}

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& o) noexcept {
  if (this != &o) {
    if (ptr_) cuMemFree(ptr_);
    ptr_ = std::exchange(o.ptr_, 0);
    bytes_ = std::exchange(o.bytes_, 0);
  }
  return *this;
}

void DeviceBuffer::upload(const void* src, size_t bytes, size_t offset) {
  if (offset + bytes > bytes_) fail("upload of ", bytes, " bytes at offset ", offset, " into a ", bytes_, "-byte device buffer");
  if (bytes) check(cuMemcpyHtoD(ptr_ + offset, src, bytes), "cuMemcpyHtoD");
}

void DeviceBuffer::download(void* dst, size_t bytes, size_t offset) const {
  if (offset + bytes > bytes_) fail("download of ", bytes, " bytes at offset ", offset, " from a ", bytes_, "-byte device buffer");
  if (bytes) check(cuMemcpyDtoH(dst, ptr_ + offset, bytes), "cuMemcpyDtoH");
}

void DeviceBuffer::fill_bytes(uint8_t value) {
  if (bytes_) check(cuMemsetD8(ptr_, value, bytes_), "cuMemsetD8");
}

}  // namespace synaptix::backend::cuda
