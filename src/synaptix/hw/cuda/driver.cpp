#include "synaptix/hw/cuda/driver.h"

#include <atomic>
#include <mutex>

#include "synaptix/core/error.h"

namespace synaptix::hw::cuda {
namespace {
std::atomic<bool> g_initialized{false};
std::once_flag g_init_once;
}  // namespace

void check(CUresult r, const char* what) {
  if (r == CUDA_SUCCESS) return;
  const char* name = nullptr;
  const char* desc = nullptr;
  cuGetErrorName(r, &name);
  cuGetErrorString(r, &desc);
  fail(what, ": ", name ? name : "unknown CUDA error", " (", desc ? desc : "no description", ")");
}

void init_driver() {
  std::call_once(g_init_once, [] {
    g_initialized = true;  // set before the call: a failed cuInit has still touched the driver
    check(cuInit(0), "cuInit");
  });
}

bool driver_initialized() { return g_initialized; }

int device_count() {
  init_driver();
  int n = 0;
  check(cuDeviceGetCount(&n), "cuDeviceGetCount");
  return n;
}

Context::Context(int device) : ordinal_(device) {
  init_driver();
  int n = device_count();
  if (device < 0 || device >= n) fail("CUDA device ", device, " does not exist (", n, " devices found)");
  check(cuDeviceGet(&device_, device), "cuDeviceGet");
  check(cuDevicePrimaryCtxRetain(&ctx_, device_), "cuDevicePrimaryCtxRetain");
  make_current();
}

Context::~Context() {
  if (ctx_) cuDevicePrimaryCtxRelease(device_);
}

void Context::make_current() const { check(cuCtxSetCurrent(ctx_), "cuCtxSetCurrent"); }

int Context::attribute(CUdevice_attribute a) const {
  int v = 0;
  check(cuDeviceGetAttribute(&v, a, device_), "cuDeviceGetAttribute");
  return v;
}

std::string Context::arch() const {
  int major = attribute(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR);
  int minor = attribute(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR);
  std::string a = "sm_" + std::to_string(major) + std::to_string(minor);
  if (major == 9 && minor == 0) a += "a";
  return a;
}

}  // namespace synaptix::hw::cuda
