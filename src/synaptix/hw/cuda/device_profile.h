#pragma once
// What a CUDA device is: its driver attributes and NVML facts, plus the measured ceilings (filled by whoever
// measures them, see backend/cuda/ceilings.h), and the fingerprint that keys tuning records for it.
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "synaptix/hw/cuda/nvml.h"

namespace synaptix::hw::cuda {

struct DeviceProfile {
  int ordinal = 0;
  std::string name, pci_bus_id, arch;
  int cc_major = 0, cc_minor = 0;
  int sm_count = 0;
  int64_t total_memory = 0;
  int l2_bytes = 0;
  int smem_per_block_optin = 0, smem_per_sm = 0, regs_per_sm = 0, max_threads_per_sm = 0;
  int clock_khz = 0, mem_clock_khz = 0, mem_bus_bits = 0;
  int driver_version = 0;  // cuDriverGetVersion: 13000 for 13.0
  NvmlFacts nvml;
  // Measured ceilings; 0 until measured.
  double hbm_read_gbps = 0;
  double bf16_tensor_tflops = 0;

  // Theoretical DRAM bandwidth from the memory clock and bus width (double data rate), for comparison only.
  double datasheet_hbm_gbps() const { return 2.0 * mem_clock_khz * 1e3 * (mem_bus_bits / 8.0) / 1e9; }
  // "cuda:NVIDIA H100 80GB HBM3:sm_90a:132sm:drv13000": what a tuning record for this device is keyed by.
  std::string fingerprint() const;
  nlohmann::json to_json() const;
};

// Reads attributes and NVML facts for device `ordinal` (needs a context on it to exist or be creatable).
DeviceProfile probe_device(int ordinal);

}  // namespace synaptix::hw::cuda
