#include "synaptix/hw/cuda/nvml.h"

#include <dlfcn.h>

namespace synaptix::hw::cuda {
namespace {

// The few NVML entry points used, with their C signatures from the NVML API reference
// (nvmlReturn_t is an int; 0 is NVML_SUCCESS; nvmlDevice_t is an opaque pointer).
using Dev = void*;
using InitFn = int (*)();
using ShutdownFn = int (*)();
using ByBusFn = int (*)(const char*, Dev*);
using UIntFn = int (*)(Dev, unsigned*);
using ULLFn = int (*)(Dev, unsigned long long*);
using ClockFn = int (*)(Dev, int, unsigned*);
using LinkStateFn = int (*)(Dev, unsigned, int*);
using DriverFn = int (*)(char*, unsigned);

constexpr int kClockSm = 1, kClockMem = 2;
constexpr unsigned kMaxNvLinks = 18;

template <typename F>
F sym(void* lib, const char* name) {
  return reinterpret_cast<F>(dlsym(lib, name));
}

}  // namespace

NvmlFacts read_nvml(const std::string& pci_bus_id) {
  NvmlFacts f;
  void* lib = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    const char* e = dlerror();
    f.error = std::string("dlopen libnvidia-ml.so.1: ") + (e ? e : "not found");
    return f;
  }
  auto init = sym<InitFn>(lib, "nvmlInit_v2");
  auto shutdown = sym<ShutdownFn>(lib, "nvmlShutdown");
  auto by_bus = sym<ByBusFn>(lib, "nvmlDeviceGetHandleByPciBusId_v2");
  if (!init || !shutdown || !by_bus) {
    f.error = "libnvidia-ml.so.1 lacks nvmlInit_v2/nvmlDeviceGetHandleByPciBusId_v2";
    dlclose(lib);
    return f;
  }
  if (int r = init(); r != 0) {
    f.error = "nvmlInit_v2 returned " + std::to_string(r);
    dlclose(lib);
    return f;
  }
  Dev dev = nullptr;
  if (int r = by_bus(pci_bus_id.c_str(), &dev); r != 0) {
    f.error = "nvmlDeviceGetHandleByPciBusId_v2(" + pci_bus_id + ") returned " + std::to_string(r);
    shutdown();
    dlclose(lib);
    return f;
  }
  f.available = true;
  char buf[96] = {};
  if (auto drv = sym<DriverFn>(lib, "nvmlSystemGetDriverVersion"); drv && drv(buf, sizeof buf) == 0) f.driver_version = buf;
  unsigned u = 0;
  if (auto fn = sym<UIntFn>(lib, "nvmlDeviceGetPowerManagementLimit"); fn && fn(dev, &u) == 0) f.power_limit_w = u / 1000.0;
  if (auto fn = sym<UIntFn>(lib, "nvmlDeviceGetPowerUsage"); fn && fn(dev, &u) == 0) f.power_draw_w = u / 1000.0;
  unsigned long long mj = 0;
  if (auto fn = sym<ULLFn>(lib, "nvmlDeviceGetTotalEnergyConsumption"); fn && fn(dev, &mj) == 0) {
    f.energy_counter = true;
    f.energy_j = static_cast<double>(mj) / 1000.0;
  }
  if (auto fn = sym<ClockFn>(lib, "nvmlDeviceGetClockInfo")) {
    if (fn(dev, kClockSm, &u) == 0) f.sm_clock_mhz = u;
    if (fn(dev, kClockMem, &u) == 0) f.mem_clock_mhz = u;
  }
  if (auto fn = sym<ClockFn>(lib, "nvmlDeviceGetMaxClockInfo")) {
    if (fn(dev, kClockSm, &u) == 0) f.sm_clock_max_mhz = u;
    if (fn(dev, kClockMem, &u) == 0) f.mem_clock_max_mhz = u;
  }
  if (auto fn = sym<UIntFn>(lib, "nvmlDeviceGetCurrPcieLinkGeneration"); fn && fn(dev, &u) == 0) f.pcie_gen = u;
  if (auto fn = sym<UIntFn>(lib, "nvmlDeviceGetCurrPcieLinkWidth"); fn && fn(dev, &u) == 0) f.pcie_width = u;
  if (auto fn = sym<UIntFn>(lib, "nvmlDeviceGetMaxPcieLinkGeneration"); fn && fn(dev, &u) == 0) f.pcie_gen_max = u;
  if (auto fn = sym<UIntFn>(lib, "nvmlDeviceGetMaxPcieLinkWidth"); fn && fn(dev, &u) == 0) f.pcie_width_max = u;
  if (auto fn = sym<LinkStateFn>(lib, "nvmlDeviceGetNvLinkState")) {
    for (unsigned link = 0; link < kMaxNvLinks; ++link) {
      int state = 0;
      if (fn(dev, link, &state) != 0) break;  // links are numbered from 0; the first error ends them
      f.nvlink_active.push_back(state ? 1 : 0);
    }
  }
  shutdown();
  dlclose(lib);
  return f;
}

}  // namespace synaptix::hw::cuda
