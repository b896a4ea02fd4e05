#include "synaptix/tune/measurement_check.h"

#include <sstream>

#include "synaptix/core/dtype.h"

namespace synaptix::tune {
namespace {

// How much faster than the f32 FMA peak the op's products may legitimately run.
double flop_factor(const graph::Op& op, const Ceilings& c) {
  if (is_block_dtype(op.w_dtype) || op.w_dtype == DType::I8 || op.w_dtype == DType::I4 ||
      op.w_dtype == DType::FP8_E4M3 || op.w_dtype == DType::MXFP4) return c.flop_factor_8bit;
  if (op.w_dtype == DType::BF16 || op.w_dtype == DType::F16) return c.flop_factor_16bit;
  return 1;
}

}  // namespace

std::string implausible_time(const graph::Op& op, const Timing& t, const Ceilings& c) {
  std::ostringstream os;
  if (t.median_us <= 0) {
    os << "measurement fault: median " << t.median_us << " us is not a time";
    return os.str();
  }
  const double seconds = t.median_us * 1e-6;
  if (t.cold && c.mem_gbps > 0) {
    const double gbps = op.min_bytes() / seconds / 1e9;
    if (gbps > c.mem_gbps * c.bandwidth_slack) {
      os << "measurement fault: " << t.median_us << " us implies " << gbps << " GB/s read, above the measured "
         << c.mem_gbps << " GB/s x " << c.bandwidth_slack;
      return os.str();
    }
  }
  if (c.flop_gflops > 0) {
    // Attention's flop count is that of the full window; a causal prefill does about half of it.
    const double counted = op.kind == graph::OpKind::Attention && op.m > 1 ? 0.5 : 1.0;
    const double gflops = counted * op.flops() / seconds / 1e9;
    const double peak = c.flop_gflops * flop_factor(op, c);
    if (gflops > peak * c.flop_slack) {
      os << "measurement fault: " << t.median_us << " us implies " << gflops << " GFLOP/s, above the measured peak "
         << peak << " GFLOP/s x " << c.flop_slack;
      return os.str();
    }
  }
  return "";
}

}  // namespace synaptix::tune
