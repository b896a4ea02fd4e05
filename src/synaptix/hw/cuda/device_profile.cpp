#include "synaptix/hw/cuda/device_profile.h"

#include "synaptix/hw/cuda/driver.h"

namespace synaptix::hw::cuda {

DeviceProfile probe_device(int ordinal) {
  Context ctx(ordinal);
  DeviceProfile p;
  p.ordinal = ordinal;
  char name[256] = {};
  check(cuDeviceGetName(name, sizeof name, ctx.device()), "cuDeviceGetName");
  p.name = name;
  char bus[64] = {};
  check(cuDeviceGetPCIBusId(bus, sizeof bus, ctx.device()), "cuDeviceGetPCIBusId");
  p.pci_bus_id = bus;
  p.arch = ctx.arch();
  p.cc_major = ctx.attribute(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR);
  p.cc_minor = ctx.attribute(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR);
  p.sm_count = ctx.attribute(CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT);
  size_t mem = 0;
  check(cuDeviceTotalMem(&mem, ctx.device()), "cuDeviceTotalMem");
  p.total_memory = static_cast<int64_t>(mem);
  p.l2_bytes = ctx.attribute(CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE);
  p.smem_per_block_optin = ctx.attribute(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN);
  p.smem_per_sm = ctx.attribute(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_MULTIPROCESSOR);
  p.regs_per_sm = ctx.attribute(CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_MULTIPROCESSOR);
  p.max_threads_per_sm = ctx.attribute(CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_MULTIPROCESSOR);
  p.clock_khz = ctx.attribute(CU_DEVICE_ATTRIBUTE_CLOCK_RATE);
  p.mem_clock_khz = ctx.attribute(CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE);
  p.mem_bus_bits = ctx.attribute(CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH);
  check(cuDriverGetVersion(&p.driver_version), "cuDriverGetVersion");
  p.nvml = read_nvml(p.pci_bus_id);
  return p;
}

std::string DeviceProfile::fingerprint() const {
  return "cuda:" + name + ":" + arch + ":" + std::to_string(sm_count) + "sm:drv" + std::to_string(driver_version);
}

nlohmann::json DeviceProfile::to_json() const {
  nlohmann::json j;
  j["target"] = "cuda:" + std::to_string(ordinal);
  j["fingerprint"] = fingerprint();
  j["name"] = name;
  j["pci_bus_id"] = pci_bus_id;
  j["arch"] = arch;
  j["compute_capability"] = std::to_string(cc_major) + "." + std::to_string(cc_minor);
  j["sm_count"] = sm_count;
  j["total_memory_bytes"] = total_memory;
  j["l2_bytes"] = l2_bytes;
  j["smem_per_block_optin_bytes"] = smem_per_block_optin;
  j["smem_per_sm_bytes"] = smem_per_sm;
  j["registers_per_sm"] = regs_per_sm;
  j["max_threads_per_sm"] = max_threads_per_sm;
  j["sm_clock_khz"] = clock_khz;
  j["mem_clock_khz"] = mem_clock_khz;
  j["mem_bus_bits"] = mem_bus_bits;
  j["datasheet_hbm_gbps"] = datasheet_hbm_gbps();
  j["cuda_driver_version"] = driver_version;
  nlohmann::json n;
  n["available"] = nvml.available;
  if (!nvml.available) {
    n["error"] = nvml.error;
  } else {
    n["driver_version"] = nvml.driver_version;
    n["power_limit_w"] = nvml.power_limit_w;
    n["power_draw_w"] = nvml.power_draw_w;
    n["energy_counter"] = nvml.energy_counter;
    if (nvml.energy_counter) n["energy_j"] = nvml.energy_j;
    n["sm_clock_mhz"] = nvml.sm_clock_mhz;
    n["sm_clock_max_mhz"] = nvml.sm_clock_max_mhz;
    n["mem_clock_mhz"] = nvml.mem_clock_mhz;
    n["mem_clock_max_mhz"] = nvml.mem_clock_max_mhz;
    n["pcie"] = {{"gen", nvml.pcie_gen}, {"width", nvml.pcie_width}, {"gen_max", nvml.pcie_gen_max},
                 {"width_max", nvml.pcie_width_max}};
    int active = 0;
    for (int a : nvml.nvlink_active) active += a;
    n["nvlink"] = {{"links_reported", nvml.nvlink_active.size()}, {"links_active", active}};
  }
  j["nvml"] = n;
  nlohmann::json m;
  m["hbm_read_gbps"] = hbm_read_gbps;
  m["bf16_tensor_tflops"] = bf16_tensor_tflops;
  j["measured"] = m;
  return j;
}

}  // namespace synaptix::hw::cuda
