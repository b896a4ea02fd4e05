#pragma once
// A time is a measurement too: one that implies more than the target's measured ceilings (memory read
// bandwidth, FLOP peak) is a fault of the measurement (a broken timer, a candidate that skipped its work or
// read a stale result), not a fast kernel. The tuning loop records such a trial as `measurement_fault` and
// never promotes it, on every target.
#include <string>

#include "synaptix/graph/op_graph.h"
#include "synaptix/tune/measurer.h"

namespace synaptix::tune {

struct Ceilings {
  double mem_gbps = 0;     // measured read bandwidth from memory (0: unknown, not checked)
  double flop_gflops = 0;  // measured peak, 2 flops per FMA, of the target's f32 vector FMAs or bf16 tensor cores
  // The peak of 16-bit and 8-bit products relative to flop_gflops (CPU: VDPBF16PS does 2 bf16 pairs per f32
  // lane, VNNI 4 int8 products; GPU: the peak is measured in bf16 already).
  double flop_factor_16bit = 1, flop_factor_8bit = 1;
  // Margin above the ceilings before a time is refused. The ceilings are measured once and machines drift
  // (~10% over a day on the 2-core CI VM); on the CPU a rotation of twice the LLC still leaves part of it in
  // a cache that is not strictly LRU, hence the wider bandwidth margin there.
  double bandwidth_slack = 1.15, flop_slack = 1.15;
};

// "" when `t` is plausible for `op` under `c`; else the measurement-fault message: which ceiling, the rate
// the time implies, the ceiling and the margin. The bandwidth ceiling applies only to a cold timing (inputs
// rotated beyond the last-level cache, or L2 flushed), where every byte came from memory.
std::string implausible_time(const graph::Op& op, const Timing& t, const Ceilings& c);

}  // namespace synaptix::tune
