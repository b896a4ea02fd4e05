#pragma once
// The CUDA driver API as the rest of the CUDA target uses it: every call's result checked and turned into a
// synaptix::Error naming the call, and the primary context of a device made current. NVRTC needs none of
// this (it compiles without a GPU), so code that only compiles never initialises the driver.
#include <cuda.h>

#include <string>

namespace synaptix::hw::cuda {

// Throws synaptix::Error "<what>: <CUDA error name> (<description>)" unless r is CUDA_SUCCESS.
void check(CUresult r, const char* what);

// cuInit(0) once per process. A process that has initialised the driver can no longer fork children that
// use CUDA, so the crash-isolated trial runner asks driver_initialized() before it forks.
void init_driver();
bool driver_initialized();

int device_count();

// Retains the device's primary context (the one cuBLASLt and the CUDA runtime also use) and makes it
// current on the calling thread; releases it on destruction.
class Context {
 public:
  explicit Context(int device);
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  CUdevice device() const { return device_; }
  int ordinal() const { return ordinal_; }
  CUcontext get() const { return ctx_; }
  void make_current() const;
  // "sm_90a" for compute capability 9.0 (the arch-specific target that wgmma needs), else "sm_XY".
  std::string arch() const;
  int attribute(CUdevice_attribute a) const;

 private:
  int ordinal_ = 0;
  CUdevice device_ = 0;
  CUcontext ctx_ = nullptr;
};

}  // namespace synaptix::hw::cuda
