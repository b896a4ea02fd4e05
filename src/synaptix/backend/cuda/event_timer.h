#pragma once
// Timing device work with CUDA events: warm-up first, then repeats, each preceded (outside the timed region)
// by a read over a buffer twice the L2 size so that every repeat starts from cold cache, as a decode step
// does when it streams weights. Reports the median and the spread.
#include <cuda.h>

#include <functional>

namespace synaptix::backend::cuda {

struct TimingOptions {
  int warmup = 3;
  int repeats = 20;
  bool flush_l2 = true;
};

struct TimingStats {
  double median_ms = 0, min_ms = 0, max_ms = 0, p10_ms = 0, p90_ms = 0;
  int repeats = 0;
};

// `work` enqueues the region on `stream`; it is called warmup + repeats times.
TimingStats time_on_stream(CUstream stream, const std::function<void()>& work, const TimingOptions& opt = {});

}  // namespace synaptix::backend::cuda
