// `synaptix profile --target cuda:N`: the device's attributes and NVML facts, then its two measured ceilings
// (HBM read bandwidth, bf16 tensor-core GEMM throughput), printed as JSON.
#include "synaptix/profile_cuda.h"

#include <algorithm>
#include <cstdio>

#include "synaptix/backend/cuda/ceilings.h"
#include "synaptix/hw/cuda/device_profile.h"
#include "synaptix/hw/cuda/driver.h"

namespace synaptix::app {

int profile_cuda(int device) {
  hw::cuda::DeviceProfile p = hw::cuda::probe_device(device);
  hw::cuda::Context ctx(device);
  // 4 GiB streams far past any L2; smaller cards get a quarter of their memory.
  const size_t bytes = std::min<size_t>(4ull << 30, static_cast<size_t>(p.total_memory / 4));
  backend::cuda::BandwidthMeasurement bw = backend::cuda::measure_hbm_read_bandwidth(bytes);
  backend::cuda::GemmPeakMeasurement gemm = backend::cuda::measure_bf16_gemm_peak(8192);
  p.hbm_read_gbps = bw.gbps;
  p.bf16_tensor_tflops = gemm.tflops;
  nlohmann::json j = p.to_json();
  j["measured"]["hbm_read_bytes"] = bw.bytes;
  j["measured"]["hbm_read_median_ms"] = bw.median_ms;
  j["measured"]["bf16_gemm_n"] = gemm.n;
  j["measured"]["bf16_gemm_median_ms"] = gemm.median_ms;
  j["measured"]["hbm_read_vs_datasheet"] = p.datasheet_hbm_gbps() > 0 ? bw.gbps / p.datasheet_hbm_gbps() : 0.0;
  std::printf("%s\n", j.dump(2).c_str());
  return 0;
}

}  // namespace synaptix::app
