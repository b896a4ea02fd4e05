#pragma once
// NVML facts about one GPU, read through dlopen("libnvidia-ml.so.1") so that the runtime neither links
// against nor requires NVML: a machine without it just reports nvml_available = false.
#include <cstdint>
#include <string>
#include <vector>

namespace synaptix::hw::cuda {

struct NvmlFacts {
  bool available = false;
  std::string error;  // why not, when unavailable
  std::string driver_version;
  double power_limit_w = 0, power_draw_w = 0;
  bool energy_counter = false;
  double energy_j = 0;  // total since driver load
  unsigned sm_clock_mhz = 0, sm_clock_max_mhz = 0, mem_clock_mhz = 0, mem_clock_max_mhz = 0;
  unsigned pcie_gen = 0, pcie_width = 0, pcie_gen_max = 0, pcie_width_max = 0;
  std::vector<int> nvlink_active;  // per link index that answered: 1 active, 0 inactive
};

// `pci_bus_id` as cuDeviceGetPCIBusId writes it ("0000:1B:00.0").
NvmlFacts read_nvml(const std::string& pci_bus_id);

}  // namespace synaptix::hw::cuda
