#include "synaptix/cuda/decode_timing.h"

#include <algorithm>
#include <chrono>
#include <span>
#include <vector>

#include "synaptix/registry/cuda/cuda_recipe_setup.h"

namespace synaptix::app {
namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

}  // namespace

int64_t launch_steps(engine::CudaExecutor& ex, int batch, const DecodeTiming& t) {
  return std::max<int64_t>(1, std::min<int64_t>(t.steps_per_launch, ex.max_greedy_steps(batch)));
}

int64_t decode_blocks_per_seq(const DecodeTiming& t) {
  // Room for the timed steps (rounded up to whole launches) and the pipelined warm-up's three launches.
  return (t.context + 3 + std::max(t.decode_steps + t.steps_per_launch, 3 * t.steps_per_launch) + 16) / 16 + 1;
}

engine::KvConfig decode_kv(const DecodeTiming& t, int max_batch) {
  engine::KvConfig kv;
  kv.block_size = 16;
  kv.num_blocks = std::max<int64_t>(max_batch * decode_blocks_per_seq(t), (t.prompt + 15) / 16 + 1);
  return kv;
}

DecodeResult time_decode(engine::CudaExecutor& ex, int batch, const DecodeTiming& o, int64_t blocks_per_seq,
                         const std::function<void()>& before_timed) {
  std::vector<std::vector<int32_t>> tables(static_cast<size_t>(batch));
  for (int b = 0; b < batch; ++b)
    for (int64_t i = 0; i < blocks_per_seq; ++i) tables[static_cast<size_t>(b)].push_back(static_cast<int32_t>(b * blocks_per_seq + i));
  const int64_t V = ex.spec().vocab_size;
  std::vector<std::vector<int32_t>> prompts(static_cast<size_t>(batch));
  for (int b = 0; b < batch; ++b)
    for (int i = 0; i < o.context; ++i) prompts[static_cast<size_t>(b)].push_back(static_cast<int32_t>((b * 7919 + i * 104729) % V));
  std::vector<int32_t> next(static_cast<size_t>(batch));
  // The contexts go in steps of at most kPrefillStep tokens (the executors' smallest max_tokens_per_step here):
  // several sequences a step when they are short, a long one in chunks.
  constexpr int kPrefillStep = 2048;
  const int group = std::max(1, kPrefillStep / std::max(o.context, 1));
  for (int b0 = 0; b0 < batch; b0 += group) {
    const int b1 = std::min(batch, b0 + group);
    for (int s = 0; s < o.context; s += kPrefillStep) {
      const int n = std::min(kPrefillStep, o.context - s);
      std::vector<engine::SeqChunk> chunks;
      for (int b = b0; b < b1; ++b)
        chunks.push_back({std::span<const int32_t>(prompts[static_cast<size_t>(b)].data() + s, static_cast<size_t>(n)), s,
                          tables[static_cast<size_t>(b)], false});
      std::vector<int32_t> ids;
      ex.step_greedy(chunks, ids);
      if (s + n == o.context)
        for (size_t i = 0; i < ids.size(); ++i) next[static_cast<size_t>(b0) + i] = ids[i];
    }
  }
  const int64_t pos0 = o.context;
  int64_t pos = pos0;
  std::vector<int32_t> ids;
  auto step = [&] {
    std::vector<engine::SeqChunk> chunks;
    for (int b = 0; b < batch; ++b)
      chunks.push_back({std::span<const int32_t>(&next[static_cast<size_t>(b)], 1), pos, tables[static_cast<size_t>(b)], false});
    ex.step_greedy(chunks, ids);
    std::copy(ids.begin(), ids.end(), next.begin());
    ++pos;
  };
  // Pipelined: the host enqueues group g + 1 (its first tokens fed on the device from group g's last ids)
  // before it waits for group g's ids, as a serving loop that checks stop conditions one group behind;
  // each group runs `per` steps back to back in one launch.
  const int64_t per = o.pipelined ? launch_steps(ex, batch, o) : 1;
  const int64_t groups = (o.decode_steps + per - 1) / per;
  auto pipelined = [&](int64_t n_groups) {
    std::vector<engine::SeqChunk> chunks;
    for (int b = 0; b < batch; ++b)
      chunks.push_back({std::span<const int32_t>(&next[static_cast<size_t>(b)], 1), pos0, tables[static_cast<size_t>(b)], false});
    ex.enqueue_greedy(chunks, false, per);
    for (int64_t g = 0; g < n_groups; ++g) {
      if (g + 1 < n_groups) {
        for (auto& c : chunks) c.start_pos += per;
        ex.enqueue_greedy(chunks, true, per);
      }
      ex.finish_greedy(ids);
    }
  };
  if (o.pipelined) {
    // Warm-up from the same position, twice: the first runs each launch's graph key (first enqueue unchained,
    // then chained ones alternating pinned slots) eagerly, the second captures them, so the timed run only
    // replays graphs (a capture there would stall the device for the capture and instantiation).
    pipelined(3);
    pipelined(3);
  } else {
    for (int i = 0; i < 3; ++i) step();  // eager, capture, first replay
  }
  if (before_timed) before_timed();
  const auto t0 = Clock::now();
  if (o.pipelined) {
    pipelined(groups);
  } else {
    for (int i = 0; i < o.decode_steps; ++i) step();
  }
  const int64_t timed_steps = o.pipelined ? groups * per : o.decode_steps;
  const double sec = seconds_since(t0);
  DecodeResult r;
  r.batch = batch;
  r.step_ms = sec * 1e3 / static_cast<double>(timed_steps);
  r.tok_s = static_cast<double>(batch * timed_steps) / sec;
  return r;
}

double time_prefill(engine::CudaExecutor& ex, const DecodeTiming& o) {
  const int64_t V = ex.spec().vocab_size;
  std::vector<int32_t> prompt(static_cast<size_t>(o.prompt));
  for (int i = 0; i < o.prompt; ++i) prompt[static_cast<size_t>(i)] = static_cast<int32_t>((i * 48271 + 11) % V);
  std::vector<int32_t> table;
  for (int64_t i = 0; i * ex.block_size() < o.prompt; ++i) table.push_back(static_cast<int32_t>(i));
  std::vector<int32_t> ids;
  engine::SeqChunk c{prompt, 0, table, false};
  ex.step_greedy({&c, 1}, ids);  // warm-up: compiles, plans cuBLASLt
  std::vector<double> times;
  for (int r = 0; r < 5; ++r) {
    const auto t0 = Clock::now();
    ex.step_greedy({&c, 1}, ids);
    times.push_back(seconds_since(t0));
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

tune::cuda::StepTimer whole_step_timer(engine::CudaExecutor& ex, const DecodeTiming& t, int64_t blocks_per_seq) {
  return [&ex, t, blocks_per_seq](const tune::WholeStepPlan& plan, int batch) {
    ex.set_plan(registry::to_cuda_plan(plan, "whole-step candidate"));
    return time_decode(ex, batch, t, blocks_per_seq).tok_s;
  };
}

}  // namespace synaptix::app
