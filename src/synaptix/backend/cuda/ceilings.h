#pragma once
// The two measured ceilings every CUDA figure is reported against: HBM read bandwidth (a streaming-read
// kernel over a buffer many times the L2) and bf16 tensor-core throughput (a cuBLASLt bf16 GEMM, 8192^3 by
// default, on random data). Both need a current context.
#include <cstddef>
#include <cstdint>
#include <functional>

namespace synaptix::backend::cuda {

struct BandwidthMeasurement {
  double bytes = 0;
  double median_ms = 0;
  double gbps = 0;  // 1e9 bytes/s, bytes read only
};

struct GemmPeakMeasurement {
  int64_t n = 0;
  double median_ms = 0;
  double tflops = 0;  // 2 n^3 / time
};

BandwidthMeasurement measure_hbm_read_bandwidth(size_t bytes = 4ull << 30, int repeats = 15);
GemmPeakMeasurement measure_bf16_gemm_peak(int64_t n = 8192, int repeats = 10);
// The rate of `work`, an n^3 GEMM enqueued on the null stream, timed warm (no L2 flush): what the peak probes
// of each operand type share.
GemmPeakMeasurement time_gemm_peak(int64_t n, int repeats, const std::function<void()>& work);

}  // namespace synaptix::backend::cuda
