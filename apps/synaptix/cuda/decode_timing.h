#pragma once
// Timing whole steps of a CUDA executor as `generate` and `serve` run them: greedy decode of a batch of
// sequences (pipelined, multi-step launches, the argmax on the device) and a prefill. gpu-bench reports these
// figures, and `tune --target cuda` chooses plans by them (the runner of the whole-step search).
#include <cstdint>
#include <functional>

#include "synaptix/engine/cuda/cuda_executor.h"
#include "synaptix/tune/cuda/whole_step_search.h"

namespace synaptix::app {

struct DecodeTiming {
  int context = 128;      // tokens already in each sequence's cache when decode is timed
  int decode_steps = 32;  // timed decode steps
  int prompt = 2048;      // prefill length
  bool pipelined = true;  // decode steps enqueued one ahead of reading their ids (host work overlapped)
  int steps_per_launch = 8;  // pipelined greedy steps per enqueue (multi-step graphs), capped by the executor
};

struct DecodeResult {
  int batch = 0;
  double tok_s = 0, step_ms = 0;
};

// Steps per pipelined enqueue for a decode batch: the option, capped by what the executor runs in one.
int64_t launch_steps(engine::CudaExecutor& ex, int batch, const DecodeTiming& t);
// KV blocks (of 16 positions) each timed sequence needs, and the cache for `max_batch` of them or one prompt.
int64_t decode_blocks_per_seq(const DecodeTiming& t);
engine::KvConfig decode_kv(const DecodeTiming& t, int max_batch);

// Each of `batch` sequences holds t.context tokens (one prefill per group of sequences), then t.decode_steps
// greedy decode steps are timed end to end. `before_timed` runs after the warm-up (graphs captured by then).
DecodeResult time_decode(engine::CudaExecutor& ex, int batch, const DecodeTiming& t, int64_t blocks_per_seq,
                         const std::function<void()>& before_timed = {});
// Median seconds of five greedy prefills of t.prompt tokens (after a warm-up).
double time_prefill(engine::CudaExecutor& ex, const DecodeTiming& t);

// The runner of the whole-step search on `ex`: sets the candidate's kernel plan and times decode.
tune::cuda::StepTimer whole_step_timer(engine::CudaExecutor& ex, const DecodeTiming& t, int64_t blocks_per_seq);

}  // namespace synaptix::app
