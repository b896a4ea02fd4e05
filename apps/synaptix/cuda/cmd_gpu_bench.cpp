// synaptix gpu-bench: decode and prefill throughput of a model shape on a CUDA device, with random device
// weights (no files), untuned and tuned in the same run, each figure beside its measured ceiling:
// batch-1 decode against the HBM roofline (weight bytes per token / measured read bandwidth), prefill
// against the measured bf16 tensor-core GEMM rate. Tuning runs first, crash-isolated, before this process
// touches the GPU; its trials go into the tuning database.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <functional>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "synaptix/backend/cuda/ceilings.h"
#include "synaptix/backend/cuda/device_buffer.h"
#include "synaptix/backend/cuda/device_random.h"
#include "synaptix/backend/cuda/event_timer.h"
#include "synaptix/backend/cuda/kernel_trace.h"
#include "synaptix/backend/cuda/launch/flash_attention.h"
#include "synaptix/command.h"
#include "synaptix/flag_checks.h"
#include "synaptix/core/error.h"
#include "synaptix/core/hash.h"
#include "synaptix/engine/cuda/cuda_executor.h"
#include "synaptix/hw/cuda/device_profile.h"
#include "synaptix/hw/cuda/driver.h"
#include "synaptix/kernels/linear/cuda/cuda_linear_tuner.h"
#include "synaptix/model/synth.h"
#include "synaptix/tune/tuning_db.h"

namespace synaptix::app {
namespace {

namespace kc = kernels::cuda;
using Clock = std::chrono::steady_clock;

struct Options {
  std::string like = "llama-3.1-8b";
  int device = 0;
  std::vector<int> batches = {1, 8, 32, 64};
  int context = 128;      // tokens already in each sequence's cache when decode is timed
  int decode_steps = 32;
  int prompt = 2048;
  bool tune = true;
  std::string db;         // tuning database; empty: tune::default_db_path()
  std::string json_out;   // full results
  bool accurate = true;   // also time the tuned plan under the default (f32-faithful) precision
  bool trace = false;     // a kernel timeline of the tuned batch-1 step (graph replays)
  bool pipelined = true;  // decode steps enqueued one ahead of reading their ids (host work overlapped)
  int steps_per_launch = 8;  // pipelined greedy steps per enqueue (multi-step graphs), capped by the executor
};

// Steps per pipelined enqueue for a decode batch: the option, capped by what the executor runs in one.
int64_t launch_steps(engine::CudaExecutor& ex, int batch, const Options& o) {
  return std::max<int64_t>(1, std::min<int64_t>(o.steps_per_launch, ex.max_greedy_steps(batch)));
}

// Progress on stderr, unbuffered, so a long run shows where it is.
void progress(const std::string& what) {
  std::fprintf(stderr, "[gpu-bench] %s\n", what.c_str());
  std::fflush(stderr);
}

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// The linear shapes the executor runs for the benchmarked steps (same rules as CudaExecutor::linear_shapes).
std::vector<kc::LinearShape> bench_shapes(const model::Spec& s, const Options& o) {
  std::set<std::tuple<int64_t, int64_t, int64_t>> out;
  const int64_t h = s.hidden_size;
  const std::vector<std::pair<int64_t, int64_t>> nk = {
      {s.q_dim() + 2 * s.kv_dim(), h}, {h, s.q_dim()}, {2 * s.intermediate_size, h}, {h, s.intermediate_size}};
  auto add = [&](int64_t m, int64_t n, int64_t k) {
    if (m <= 8) {
      for (int64_t r = 0; r < m; r += 8) out.insert({std::min<int64_t>(8, m - r), n, k});
    } else {
      out.insert({m, n, k});
    }
  };
  std::vector<int64_t> ms(o.batches.begin(), o.batches.end());
  ms.push_back(o.prompt);
  for (int64_t m : ms)
    for (auto [n, k] : nk) add(m, n, k);
  for (int64_t b : o.batches) add(b, s.vocab_size, h);
  add(1, s.vocab_size, h);  // the prefill's last-token head
  std::vector<kc::LinearShape> v;
  for (auto [m, n, k] : out) v.push_back({m, n, k});
  return v;
}

void record_trials(const std::string& path, const kc::LinearTuneResult& r) {
  tune::TuningDb db(path);
  const std::string target = sha256_hex(r.device_fingerprint).substr(0, 16);
  for (const kc::LinearTrial& t : r.trials) {
    tune::TrialRecord rec;
    rec.created = static_cast<double>(std::time(nullptr));
    rec.op = "linear m=" + std::to_string(t.shape.m) + " n=" + std::to_string(t.shape.n) + " k=" +
             std::to_string(t.shape.k) + " w=bf16";
    rec.target = target;
    rec.generator = t.generator;
    if (t.generator == "cuda_gemv_bf16")
      rec.params = {{"warps", t.gemv.warps}, {"kslices", t.gemv.kslices}, {"rows_per_warp", t.gemv.rows_per_warp},
                    {"unroll", t.gemv.unroll}, {"full_occupancy", t.gemv.full_occupancy},
                    {"persistent", t.gemv.persistent}};
    else
      rec.params = {{"algorithm", t.algorithm}};
    const std::string& m = t.message;
    rec.status = t.ok ? tune::TrialStatus::Ok
                 : m.find("timed out") != std::string::npos   ? tune::TrialStatus::Timeout
                 : m.find("wrong result") != std::string::npos ? tune::TrialStatus::WrongResult
                 : m.find("NVRTC") != std::string::npos        ? tune::TrialStatus::CompileError
                                                               : tune::TrialStatus::Crash;
    rec.median_us = t.median_us;
    rec.p10_us = t.p10_us;
    rec.p90_us = t.p90_us;
    rec.samples = t.ok ? 20 : 0;
    rec.message = m.empty() ? "device " + r.device_fingerprint : m;
    db.record(rec);
  }
}

struct DecodeResult {
  int batch = 0;
  double tok_s = 0, step_ms = 0;
};

// Each of `batch` sequences holds `context` tokens (one prefill per group of sequences), then `steps`
// greedy decode steps are timed end to end (graph replay, argmax on the device, ids back to the host).
// `before_timed` runs after the warm-up steps (the graph is captured by then).
DecodeResult bench_decode(engine::CudaExecutor& ex, int batch, const Options& o, int64_t blocks_per_seq,
                          const std::function<void()>& before_timed = {}) {
  std::vector<std::vector<int32_t>> tables(static_cast<size_t>(batch));
  for (int b = 0; b < batch; ++b)
    for (int64_t i = 0; i < blocks_per_seq; ++i) tables[static_cast<size_t>(b)].push_back(static_cast<int32_t>(b * blocks_per_seq + i));
  const int64_t V = ex.spec().vocab_size;
  std::vector<std::vector<int32_t>> prompts(static_cast<size_t>(batch));
  for (int b = 0; b < batch; ++b)
    for (int i = 0; i < o.context; ++i) prompts[static_cast<size_t>(b)].push_back(static_cast<int32_t>((b * 7919 + i * 104729) % V));
  std::vector<int32_t> next(static_cast<size_t>(batch));
  const int group = std::max(1, 2048 / o.context);
  for (int b0 = 0; b0 < batch; b0 += group) {
    std::vector<engine::SeqChunk> chunks;
    for (int b = b0; b < std::min(batch, b0 + group); ++b)
      chunks.push_back({prompts[static_cast<size_t>(b)], 0, tables[static_cast<size_t>(b)], false});
    std::vector<int32_t> ids;
    ex.step_greedy(chunks, ids);
    for (size_t i = 0; i < ids.size(); ++i) next[static_cast<size_t>(b0) + i] = ids[i];
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
  const int64_t timed_steps = groups * per;
  const double sec = seconds_since(t0);
  DecodeResult r;
  r.batch = batch;
  r.step_ms = sec * 1e3 / static_cast<double>(timed_steps);
  r.tok_s = static_cast<double>(batch * timed_steps) / sec;
  return r;
}

double bench_prefill(engine::CudaExecutor& ex, const Options& o) {
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

// The prefill attention kernel alone at the prompt length (causal, one sequence, random bf16 cache):
// milliseconds per layer and its rate in TFLOP/s (QK^T and PV over the causal half).
std::pair<double, double> bench_flash_attention(const model::Spec& s, int prompt) {
  namespace bc = backend::cuda;
  const int64_t T = prompt, H = s.num_heads, KVH = s.num_kv_heads, D = s.head_dim, bs = 16;
  if (!kc::flash_attention_supports(D)) return {0, 0};
  bc::DeviceBuffer q(static_cast<size_t>(T * H * D) * 4), k(static_cast<size_t>(T * KVH * D) * 2),
      v(static_cast<size_t>(T * KVH * D) * 2), out(static_cast<size_t>(T * H * D) * 4);
  bc::fill_uniform_f32(q.ptr(), static_cast<size_t>(T * H * D), 1, 1.0f, nullptr);
  bc::fill_uniform_bf16(k.ptr(), static_cast<size_t>(T * KVH * D), 2, 1.0f, nullptr);
  bc::fill_uniform_bf16(v.ptr(), static_cast<size_t>(T * KVH * D), 3, 1.0f, nullptr);
  std::vector<int32_t> pos(static_cast<size_t>(T)), table(static_cast<size_t>((T + bs - 1) / bs)), tiles;
  for (int64_t i = 0; i < T; ++i) pos[static_cast<size_t>(i)] = static_cast<int32_t>(i);
  for (size_t i = 0; i < table.size(); ++i) table[i] = static_cast<int32_t>(i);
  for (int64_t i = 0; i < T; i += kc::kFlashTileTokens)
    tiles.insert(tiles.end(), {static_cast<int32_t>(i), static_cast<int32_t>(std::min(kc::kFlashTileTokens, T - i)), 0});
  bc::DeviceBuffer dpos(pos.size() * 4), dtab(table.size() * 4), dtiles(tiles.size() * 4);
  dpos.upload(pos.data(), pos.size() * 4);
  dtab.upload(table.data(), table.size() * 4);
  dtiles.upload(tiles.data(), tiles.size() * 4);
  kc::FlashAttentionArgs a;
  a.q = q.ptr(); a.q_stride = H * D; a.k_cache = k.ptr(); a.v_cache = v.ptr(); a.tiles = dtiles.ptr();
  a.num_tiles = static_cast<int64_t>(tiles.size() / 3); a.positions = dpos.ptr(); a.block_tables = dtab.ptr();
  a.table_stride = static_cast<int64_t>(table.size()); a.block_size = bs; a.heads = H; a.kv_heads = KVH; a.head_dim = D;
  a.scale = 1.0f / std::sqrt(static_cast<float>(D)); a.out = out.ptr();
  const auto st = bc::time_on_stream(nullptr, [&] { kc::flash_attention(a, nullptr); }, {3, 10, false});
  const double flops = 4.0 * H * D * (static_cast<double>(T) * (T + 1) / 2);
  return {st.median_ms, flops / (st.median_ms * 1e-3) / 1e12};
}

// The timeline of the batch-1 decode graph under `plan` (kernel_trace.h). Per launch of the captured step,
// averaged over the timed replays: the time from its predecessor's end to its own end (its share of the
// step), and how long its first block had been waiting for the predecessor (> 0: resident early, under
// PDL). The step's last launch also carries the host's turnaround to the next replay.
nlohmann::json trace_decode(engine::CudaExecutor& ex, const engine::CudaKernelPlan& plan, const Options& o,
                            int64_t blocks_per_seq) {
  namespace bc = backend::cuda;
  Options t = o;
  t.decode_steps = std::max<int>(16, static_cast<int>(4 * launch_steps(ex, 1, o)));  // four replays at least
  bc::KernelTrace trace(static_cast<size_t>(64) << 10);
  ex.set_plan(plan);  // new graphs, captured with the traced kernels
  const DecodeResult d = bench_decode(ex, 1, t, blocks_per_seq, [&] { trace.clear(); });
  const std::vector<bc::TraceRecord> recs = trace.read();
  const std::vector<std::string> names = trace.captured_launches();
  const size_t N = names.size();
  nlohmann::json js = {{"step_ms", d.step_ms}, {"launches", N}, {"records", recs.size()}};
  if (N == 0 || recs.size() < 2 * N || recs.size() % N != 0) {
    progress("trace: " + std::to_string(recs.size()) + " records do not line up with " + std::to_string(N) +
             " launches per step; no timeline");
    return js;
  }
  const size_t R = recs.size() / N;
  // A replay runs `per` decode steps (multi-step graphs): the table is per step.
  const int64_t per = o.pipelined ? launch_steps(ex, 1, o) : 1;
  const double perd = static_cast<double>(per);
  std::vector<double> share(N, 0), waited(N, 0);
  for (size_t r = 0; r + 1 < R; ++r)
    for (size_t i = 0; i < N; ++i) {
      const bc::TraceRecord& a = recs[r * N + i];
      share[i] += static_cast<double>(recs[r * N + i + 1].wait_exit_ns - a.wait_exit_ns) / 1e3 / static_cast<double>(R - 1);
      waited[i] += static_cast<double>(a.wait_exit_ns - a.wait_enter_ns) / 1e3 / static_cast<double>(R - 1);
    }
  // By launch name (GEMVs are named with their shape): count per step, summed share, weight bandwidth.
  std::map<std::string, std::pair<int, double>> by_name;
  for (size_t i = 0; i + 1 < N; ++i) {
    auto& [count, us] = by_name[names[i]];
    ++count;
    us += share[i];
  }
  std::printf("\nbatch-1 decode timeline (%zu launches per replay of %lld steps, %zu replays, step %.3f ms by wall clock):\n", N,
              static_cast<long long>(per), R, d.step_ms);
  std::printf("%-28s %6s %10s %10s %12s\n", "launch", "count", "us/step", "us each", "weight GB/s");
  double total = 0;
  for (const auto& [name, cu] : by_name) {
    long long n = 0, k = 0;
    double gbps = 0;
    if (std::sscanf(name.c_str(), "gemv_bf16 %lldx%lld", &n, &k) == 2)
      gbps = static_cast<double>(n) * static_cast<double>(k) * 2 * cu.first / (cu.second * 1e-6) / 1e9;
    std::printf("%-28s %6.2f %10.1f %10.2f %12.0f\n", name.c_str(), cu.first / perd, cu.second / perd, cu.second / cu.first, gbps);
    js["by_name"].push_back({{"name", name}, {"count", cu.first / perd}, {"us_per_step", cu.second / perd}, {"weight_gbps", gbps}});
    total += cu.second / perd;
  }
  std::printf("%-28s %6s %10.1f   (+ the replay's last launch and the turnaround to the next: %.1f us, %.1f a step)\n", "sum", "",
              total, share[N - 1], share[N - 1] / perd);
  // One layer in order: from the middle launch to the next launch of the same name.
  size_t a = N / 2, b = a + 1;
  while (b < N && names[b] != names[a]) ++b;
  std::printf("one layer in order (launch: share us, first block waited us):\n");
  for (size_t i = a; i < std::min(b, N); ++i) std::printf("  %-28s %8.2f %8.2f\n", names[i].c_str(), share[i], waited[i]);
  for (size_t i = 0; i < N; ++i)
    js["launch"].push_back({{"name", names[i]}, {"share_us", share[i]}, {"waited_us", waited[i]}});
  return js;
}

// A later in-context candidate replaces the current choice only when it is this much faster: repeated
// decode timings of one plan differ by ~0.5%.
constexpr double kSwitchMargin = 1.005;
// The GEMV stage: a candidate timed once must beat the step in place by kScreenMargin, then the mean of two
// interleaved timings each by kConfirmMargin (timings of one plan repeat within ~0.1% on the H100).
constexpr double kScreenMargin = 1.002, kConfirmMargin = 1.001;

int run(const Options& o) {
  progress("spec " + o.like);
  model::Spec spec = model::parse_spec(model::preset_config(o.like), o.like);
  nlohmann::json out;
  out["model"] = o.like;

  // 1. Tuning, crash-isolated in children, before this process initialises CUDA.
  kc::LinearTuneResult tuned;
  engine::CudaKernelPlan plan;
  if (o.tune) {
    const auto t0 = Clock::now();
    std::vector<kc::LinearShape> shapes = bench_shapes(spec, o);
    progress("tuning " + std::to_string(shapes.size()) + " linear shapes");
    tuned = kc::tune_linear_shapes(shapes, {o.device, 20, 20});
    progress("tuning done: " + std::to_string(tuned.trials.size()) + " trials; recording");
    const std::string db = o.db.empty() ? tune::default_db_path() : o.db;
    record_trials(db, tuned);
    nlohmann::json js = nlohmann::json::array();
    int failed = 0;
    for (const auto& t : tuned.trials) failed += !t.ok;
    for (size_t i = 0; i < shapes.size(); ++i) {
      const int b = tuned.best[i], d = tuned.baseline[i];
      if (b < 0) continue;
      const kc::LinearTrial& bt = tuned.trials[static_cast<size_t>(b)];
      if (bt.generator == "cuda_gemv_bf16") plan.gemv[{shapes[i].m, shapes[i].n, shapes[i].k}] = bt.gemv;
      else plan.blaslt_algorithm[{shapes[i].m, shapes[i].n, shapes[i].k}] = bt.algorithm;
      const double bytes = static_cast<double>(shapes[i].n * shapes[i].k * 2);
      js.push_back({{"m", shapes[i].m}, {"n", shapes[i].n}, {"k", shapes[i].k}, {"best", bt.generator == "cuda_gemv_bf16" ? bt.gemv.str() : "algo" + std::to_string(bt.algorithm)},
                    {"best_us", bt.median_us}, {"default_us", d >= 0 && tuned.trials[static_cast<size_t>(d)].ok ? tuned.trials[static_cast<size_t>(d)].median_us : -1},
                    {"best_weight_gbps", bytes / (bt.median_us * 1e-6) / 1e9}});
    }
    out["tuning"] = {{"trials", tuned.trials.size()}, {"failed", failed}, {"seconds", seconds_since(t0)}, {"db", db},
                     {"shapes", js}, {"device", tuned.device_fingerprint},
                     {"isolation", tuned.isolation.empty() ? "forked child per trial batch" : tuned.isolation}};
  }

  // 2. The device and its ceilings.
  progress("measuring ceilings");
  if (hw::cuda::driver_initialized()) progress("note: CUDA driver was initialised during tuning (in-process trials)");
  hw::cuda::DeviceProfile prof = hw::cuda::probe_device(o.device);
  hw::cuda::Context ctx(o.device);
  const auto bw = backend::cuda::measure_hbm_read_bandwidth(std::min<size_t>(4ull << 30, static_cast<size_t>(prof.total_memory / 4)));
  const auto peak = backend::cuda::measure_bf16_gemm_peak(8192);
  prof.hbm_read_gbps = bw.gbps;
  prof.bf16_tensor_tflops = peak.tflops;
  out["device"] = prof.to_json();
  const auto [fa_ms, fa_tflops] = bench_flash_attention(spec, o.prompt);
  out["flash_attention"] = {{"ms_per_layer", fa_ms}, {"tflops", fa_tflops}};
  progress("flash attention alone: " + std::to_string(fa_ms) + " ms per layer, " + std::to_string(fa_tflops) + " TFLOP/s");

  // 3. The model with random device weights; KV for the largest batch plus one prompt.
  const int max_batch = *std::max_element(o.batches.begin(), o.batches.end());
  engine::KvConfig kv;
  kv.block_size = 16;
  // Room for the timed steps (rounded up to whole launches) and the pipelined warm-up's three launches.
  const int64_t blocks_per_seq = (o.context + 3 + std::max(o.decode_steps + o.steps_per_launch, 3 * o.steps_per_launch) + 16) / 16 + 1;
  kv.num_blocks = std::max<int64_t>(max_batch * blocks_per_seq, (o.prompt + 15) / 16 + 1);
  engine::CudaExecutorOptions eo;
  eo.max_tokens_per_step = std::max(2048, o.prompt);
  // Headline rows: bf16 inference as frameworks run it (bf16 KV cache, one bf16 product per GEMM).
  eo.kv_f32 = false;
  eo.split_bf16 = false;
  progress("random weights");
  auto ex = engine::make_cuda_executor_random(spec, 1, kv, o.device, eo);

  const int64_t h = spec.hidden_size;
  const double weight_gb = static_cast<double>(ex->weight_bytes()) / 1e9;
  // Bytes a batch-1 decode step must read: every weight once, except the embedding table (one row).
  // A token's MLP weights: a dense layer all of them, a MoE layer its router and its top-k experts (the other
  // experts' bytes are not read at batch 1, nor multiplied in prefill).
  double mlp_params = 0, unread_expert_bytes = 0;
  for (int64_t l = 0; l < spec.num_layers; ++l) {
    if (spec.is_moe() && spec.layer_is_moe(l)) {
      const double expert = 3.0 * static_cast<double>(h * spec.moe_intermediate_size);
      mlp_params += static_cast<double>(spec.num_experts_per_tok) * expert + static_cast<double>(spec.num_experts * h);
      unread_expert_bytes += 2.0 * expert * static_cast<double>(spec.num_experts - spec.num_experts_per_tok);
    } else {
      mlp_params += 3.0 * static_cast<double>(spec.intermediate_size * h);
    }
  }
  const double embed_bytes = static_cast<double>(spec.vocab_size * h * 2);
  const double token_bytes = static_cast<double>(ex->weight_bytes()) - (spec.tie_word_embeddings ? 0.0 : embed_bytes) -
                             unread_expert_bytes + h * 2;
  const double roofline_tok_s = bw.gbps * 1e9 / token_bytes;
  // Prefill FLOPs: 2 per weight per token for every matmul, plus causal attention (QK^T and PV).
  double matmul_params = mlp_params;
  matmul_params += static_cast<double>(spec.num_layers) *
                   static_cast<double>((spec.q_dim() + 2 * spec.kv_dim()) * h + h * spec.q_dim());
  matmul_params += static_cast<double>(spec.vocab_size * h) / o.prompt;  // the head runs for the last token only
  const double attn_flops = 2.0 * 2.0 * spec.num_layers * spec.num_heads * spec.head_dim * (static_cast<double>(o.prompt) * (o.prompt + 1) / 2);
  const double prefill_flops = 2.0 * matmul_params * o.prompt + attn_flops;

  nlohmann::json runs = nlohmann::json::array();
  struct Row { std::string name; std::vector<DecodeResult> dec; double prefill_s; };
  std::vector<Row> rows;
  // Isolated kernel timings do not rank close GEMV schedules reliably inside a decode graph (PDL overlap,
  // L2 state), so for each decode batch on the GEMV path the whole step decides, like the CPU tuner's
  // interleaved finalists: tuned or default schedules, fused or separate norm/SwiGLU kernels.
  nlohmann::json in_context = nlohmann::json::array();
  if (o.tune) {
    Options quick = o;
    // As many timed steps as the final rows: with 16 the A B A B decisions between the first two decode
    // attentions came out against what the timeline and the final rows showed.
    quick.decode_steps = std::max(8, o.decode_steps);
    for (int b : o.batches) {
      if (b > 8) continue;
      // One candidate plan timed over the whole decode step, recorded under `name`.
      // A candidate the device cannot run (it throws) is recorded as failed with 0 tok/s.
      auto try_plan = [&](const engine::CudaKernelPlan& p, const std::string& name) {
        ex->set_plan(p);
        double tok_s = 0;
        try {
          tok_s = bench_decode(*ex, b, quick, blocks_per_seq).tok_s;
        } catch (const Error& e) {
          progress("in-context b=" + std::to_string(b) + " " + name + " failed: " + e.what());
          in_context.push_back({{"batch", b}, {"choice", name}, {"tok_s", 0}, {"error", e.what()}});
          return 0.0;
        }
        in_context.push_back({{"batch", b}, {"choice", name}, {"tok_s", tok_s}});
        progress("in-context b=" + std::to_string(b) + " " + name + ": " + std::to_string(tok_s) + " tok/s");
        return tok_s;
      };
      // Two plans timed in turn, twice each (A B A B), so a slow drift of the clock favours neither; the means.
      auto ab = [&](const engine::CudaKernelPlan& pa, const std::string& na, const engine::CudaKernelPlan& pb,
                    const std::string& nb) {
        double ta = 0, tb = 0;
        for (int rep = 0; rep < 2; ++rep) ta += try_plan(pa, na), tb += try_plan(pb, nb);
        return std::pair<double, double>{ta / 2, tb / 2};
      };
      engine::CudaKernelPlan best_plan;
      double best = 0;
      std::string best_name;
      for (bool tuned_params : {true, false})
        for (bool fuse : {true, false}) {
          engine::CudaKernelPlan p = plan;
          if (!tuned_params)
            for (auto it = p.gemv.begin(); it != p.gemv.end();) it = std::get<0>(it->first) == b ? p.gemv.erase(it) : std::next(it);
          p.fuse_decode[b] = fuse;
          const std::string name = std::string(tuned_params ? "tuned" : "default") + (fuse ? "+norm-fused" : "+norm-separate");
          const double tok_s = try_plan(p, name);
          if (tok_s > best) best = tok_s, best_plan = p, best_name = name;
        }
      // Keep the winner's entries for this batch size only.
      for (auto it = plan.gemv.begin(); it != plan.gemv.end();) it = std::get<0>(it->first) == b ? plan.gemv.erase(it) : std::next(it);
      for (const auto& [key, params] : best_plan.gemv)
        if (std::get<0>(key) == b) plan.gemv[key] = params;
      plan.fuse_decode[b] = best_plan.fuse_decode[b];
      // Then the decode attention: RoPE + attention + combine as one kernel (warps per block, keys per warp)
      // or as three, each with its split size along the sequence.
      using DecodeAttention = engine::CudaKernelPlan::DecodeAttention;
      DecodeAttention best_da, second_da;
      int64_t best_split = 64, second_split = 64;
      double second = 0;
      std::string best_attn, second_attn;
      best = 0;
      for (DecodeAttention da : {DecodeAttention{0, 4}, DecodeAttention{4, 4}, DecodeAttention{8, 4}, DecodeAttention{16, 4},
                                 DecodeAttention{8, 8}, DecodeAttention{16, 8}, DecodeAttention{8, 4, true},
                                 DecodeAttention{16, 4, true}, DecodeAttention{16, 8, true}})
        for (int64_t split : {16, 32, 64, 128}) {
          engine::CudaKernelPlan p = plan;
          p.decode_attention[b] = da;
          p.attention_split[b] = split;
          const std::string name = (da.warps ? "attention-fused-w" + std::to_string(da.warps) + "-k" + std::to_string(da.keys_per_warp)
                                             : std::string("attention-3-kernels")) + (da.cluster ? "-cluster" : "") +
                                   "+split" + std::to_string(split);
          const double tok_s = try_plan(p, name);
          if (tok_s > best) {
            second = best, second_da = best_da, second_split = best_split, second_attn = best_attn;
            best = tok_s, best_da = da, best_split = split, best_attn = name;
          } else if (tok_s > second) {
            second = tok_s, second_da = da, second_split = split, second_attn = name;
          }
        }
      // The first two are often within the drift of one pass over the candidates: A B A B decides.
      if (second > 0) {
        engine::CudaKernelPlan pa = plan, pb = plan;
        pa.decode_attention[b] = best_da, pa.attention_split[b] = best_split;
        pb.decode_attention[b] = second_da, pb.attention_split[b] = second_split;
        const auto [ta, tb] = ab(pa, best_attn + " (first)", pb, second_attn + " (second)");
        if (tb > ta) best_da = second_da, best_split = second_split;
      }
      plan.decode_attention[b] = best_da;
      plan.attention_split[b] = best_split;
      // The chosen attention with the token's heads in registers (default) or in shared memory.
      {
        engine::CudaKernelPlan staged = plan;
        staged.decode_attention[b].reg_heads = false;
        const auto [in_regs, in_smem] = ab(plan, "attention-heads-in-registers", staged, "attention-heads-in-shared-memory");
        if (in_smem > in_regs * kSwitchMargin) plan.decode_attention[b].reg_heads = false;
      }
      // MoE: the grouped down projection spread over (row block, expert) blocks or walked per row block.
      if (spec.is_moe()) {
        bool best_spread = true;
        double spread_tok_s = 0;
        for (bool spread : {true, false}) {
          engine::CudaKernelPlan p = plan;
          p.moe_down_spread[b] = spread;
          const double tok_s = try_plan(p, std::string("moe-down-") + (spread ? "spread" : "per-row-block"));
          if (spread) spread_tok_s = tok_s;
          else if (tok_s > spread_tok_s * kSwitchMargin) best_spread = false;
        }
        plan.moe_down_spread[b] = best_spread;
      }
      // And o_proj's weights prefetched into L2 beside RoPE/attention, or not.
      bool best_prefetch = false;
      for (bool prefetch : {false, true}) {
        engine::CudaKernelPlan p = plan;
        p.o_prefetch[b] = prefetch;
        const double tok_s = try_plan(p, std::string("o_prefetch=") + (prefetch ? "on" : "off"));
        if (!prefetch) best = tok_s;  // this run's own measure of the choice so far
        else if (tok_s > best * kSwitchMargin) best_prefetch = true;
      }
      plan.o_prefetch[b] = best_prefetch;
      // Last, each GEMV shape of this batch size: its next-best isolated schedules, tried in the whole step.
      std::map<std::pair<int64_t, int64_t>, std::vector<const kc::LinearTrial*>> finalists;
      for (const kc::LinearTrial& t : tuned.trials)
        if (t.ok && t.shape.m == b && t.generator == "cuda_gemv_bf16") finalists[{t.shape.n, t.shape.k}].push_back(&t);
      ex->set_plan(plan);
      double current = bench_decode(*ex, b, quick, blocks_per_seq).tok_s;
      for (auto& [nk, trials] : finalists) {
        std::sort(trials.begin(), trials.end(), [](const auto* x, const auto* y) { return x->median_us < y->median_us; });
        const std::tuple<int64_t, int64_t, int64_t> key{b, nk.first, nk.second};
        std::vector<kc::GemvParams> candidates;
        for (size_t i = 0; i < std::min<size_t>(5, trials.size()); ++i) candidates.push_back(trials[i]->gemv);
        // Plus the persistent form of the schedule in place: isolated timings cannot show what it gains in
        // the step (one wave whose blocks prefetch all their rows while the previous kernel runs).
        const auto cur = plan.gemv.find(key);
        const kc::GemvParams base = cur != plan.gemv.end() ? cur->second : kc::gemv_default_params(b, nk.first, nk.second);
        kc::GemvParams pers = base;
        pers.persistent = 1;
        candidates.push_back(pers);
        // And the schedule in place with its L2 prefetch capped: a full wave of blocks over long rows can
        // prefetch more than L2 holds.
        for (int kb : {16, 32}) {
          kc::GemvParams capped = base;
          capped.prefetch_kb = kb;
          candidates.push_back(capped);
        }
        // And, whatever their isolated rank, the schedules that won this stage for some shape on the H100
        // (w8_ks8_r2_u1, the default, and w8_ks4_r1_u4) with their neighbours: rows per block and warps per row
        // change how the step's kernels overlap, which isolated timings cannot see.
        for (const kc::GemvParams& s : {kc::GemvParams{8, 8, 2, 1}, kc::GemvParams{8, 8, 1, 4}, kc::GemvParams{8, 8, 1, 2},
                                        kc::GemvParams{16, 8, 2, 1}, kc::GemvParams{16, 8, 1, 4}, kc::GemvParams{8, 4, 2, 2},
                                        kc::GemvParams{8, 4, 1, 4}, kc::GemvParams{4, 4, 1, 4}, kc::GemvParams{16, 16, 2, 1}})
          if (kc::gemv_params_valid(s, b) && std::find(candidates.begin(), candidates.end(), s) == candidates.end())
            candidates.push_back(s);
        const std::string shape = std::to_string(nk.first) + "x" + std::to_string(nk.second) + " ";
        for (const kc::GemvParams& cand : candidates) {
          const auto it = plan.gemv.find(key);
          if (it != plan.gemv.end() && it->second == cand) continue;
          engine::CudaKernelPlan p = plan;
          p.gemv[key] = cand;
          const double tok_s = try_plan(p, shape + cand.str() + " (vs " + std::to_string(current) + ")");
          if (tok_s <= current * kScreenMargin) continue;
          // A candidate that passes the screen is confirmed against the schedule in place, A B A B.
          const std::string in_place = it != plan.gemv.end() ? it->second.str() : std::string("default");
          const auto [now, with] = ab(plan, shape + in_place + " (in place)", p, shape + cand.str() + " (candidate)");
          if (with > now * kConfirmMargin) plan.gemv[key] = cand, current = with;
          else current = now;
        }
      }
      progress("in-context b=" + std::to_string(b) + ": chose " + best_name + ", attention " +
               (best_da.warps ? "fused (" + std::to_string(best_da.warps) + " warps" + (best_da.cluster ? ", cluster" : "") + ")"
                              : std::string("in 3 kernels")) +
               ", split " + std::to_string(best_split) +
               ", o_proj prefetch " + (plan.o_prefetch[b] ? "on" : "off") + ", heads " +
               (plan.decode_attention[b].reg_heads ? "in registers" : "in shared memory"));
    }
    out["in_context_choice"] = in_context;
  }
  // Rows: the previous pipeline (separate norm/SwiGLU kernels, no PDL, CUDA-core prefill attention) as the
  // baseline of this run (also without the o_proj prefetch), then the fused pipeline untuned and tuned, and
  // tuned without PDL (its share).
  // Pipelined greedy decode runs o.steps_per_launch steps per launch (multi-step graphs); the baseline and
  // one tuned row run one step per launch, which was the pipeline before multi-step graphs.
  struct PlanRow {
    std::string name;
    engine::CudaKernelPlan plan;
    bool fuse, pdl, flash;
    int steps_per_launch;
  };
  std::vector<PlanRow> plans = {{"unfused-untuned", {}, false, false, false, 1}, {"untuned", {}, true, true, true, o.steps_per_launch}};
  if (o.tune) {
    plans.push_back({"tuned", plan, true, true, true, o.steps_per_launch});
    plans.push_back({"tuned-1-step", plan, true, true, true, 1});
    plans.push_back({"tuned-no-pdl", plan, true, false, true, o.steps_per_launch});
  }
  for (auto& [name, p, fuse, pdl, flash, steps] : plans) {
    ex->set_plan(p);
    ex->set_speed(fuse, pdl, flash, fuse);
    Row row{name, {}, 0};
    Options ro = o;
    ro.steps_per_launch = steps;
    for (int b : o.batches) {
      progress(name + ": decode batch " + std::to_string(b));
      row.dec.push_back(bench_decode(*ex, b, ro, blocks_per_seq));
    }
    progress(name + ": prefill");
    row.prefill_s = bench_prefill(*ex, o);
    nlohmann::json jr = {{"plan", name}};
    for (const auto& d : row.dec) jr["decode"].push_back({{"batch", d.batch}, {"tok_s", d.tok_s}, {"step_ms", d.step_ms}});
    jr["decode_b1_vs_roofline"] = row.dec.front().tok_s / roofline_tok_s;
    jr["prefill_tok_s"] = o.prompt / row.prefill_s;
    jr["prefill_ms"] = row.prefill_s * 1e3;
    jr["prefill_tflops"] = prefill_flops / row.prefill_s / 1e12;
    jr["prefill_vs_peak"] = prefill_flops / row.prefill_s / 1e12 / peak.tflops;
    runs.push_back(jr);
    rows.push_back(row);
  }
  // Where a batch-1 step goes, by ablation: the tuned step without RoPE and attention (wrong outputs; their
  // share of the step).
  double ablated_step_ms = 0;
  DecodeResult host_sync_b1;
  if (o.tune) {
    ex->set_plan(plan);
    ex->set_speed(true, true, true, true);
    ex->set_ablate_attention(true);
    ablated_step_ms = bench_decode(*ex, 1, o, blocks_per_seq).step_ms;
    ex->set_ablate_attention(false);
    out["decode_b1_step_without_attention_ms"] = ablated_step_ms;
    // And the tuned step with the host waiting for each step's ids before preparing the next.
    Options sync = o;
    sync.pipelined = false;
    host_sync_b1 = bench_decode(*ex, 1, sync, blocks_per_seq);
    out["decode_b1_tuned_host_sync"] = {{"tok_s", host_sync_b1.tok_s}, {"step_ms", host_sync_b1.step_ms}};
  }
  if (o.trace) {
    ex->set_speed(true, true, true, true);
    out["trace_b1"] = trace_decode(*ex, plan, o, blocks_per_seq);
    ex->set_plan(plan);  // drops the graphs of traced kernels (their buffer is gone)
  }
  if (o.accurate && o.tune) {
    // The executor's defaults (what verify and generate use): f32 KV cache, split-bf16 tensor-core inputs.
    ex.reset();
    engine::CudaExecutorOptions ea;
    ea.max_tokens_per_step = eo.max_tokens_per_step;
    progress("accurate-precision executor");
    auto exa = engine::make_cuda_executor_random(spec, 1, kv, o.device, ea);
    exa->set_plan(plan);
    // Its timeline too: it has decoded 0.3-0.6% faster than the bf16 cache in every session.
    if (o.trace) {
      out["trace_b1_f32kv_split"] = trace_decode(*exa, plan, o, blocks_per_seq);
      exa->set_plan(plan);  // drops the graphs of traced kernels
    }
    Row row{"tuned-f32kv-split", {}, 0};
    for (int b : o.batches) row.dec.push_back(bench_decode(*exa, b, o, blocks_per_seq));
    row.prefill_s = bench_prefill(*exa, o);
    nlohmann::json jr = {{"plan", row.name}};
    for (const auto& d : row.dec) jr["decode"].push_back({{"batch", d.batch}, {"tok_s", d.tok_s}, {"step_ms", d.step_ms}});
    jr["prefill_tok_s"] = o.prompt / row.prefill_s;
    runs.push_back(jr);
    rows.push_back(row);
  }
  // And the tuned GEMVs alone (each timed from cold L2) against the whole step.
  double gemv_us = 0;
  if (o.tune) {
    for (size_t i = 0; i < tuned.best.size(); ++i) {
      const kc::LinearTrial* t = tuned.best[i] >= 0 ? &tuned.trials[static_cast<size_t>(tuned.best[i])] : nullptr;
      if (!t || t->shape.m != 1) continue;
      gemv_us += t->shape.n == spec.vocab_size ? t->median_us : t->median_us * static_cast<double>(spec.num_layers);
    }
    out["decode_b1_gemv_sum_ms"] = gemv_us / 1e3;
  }
  out["ceilings"] = {{"hbm_read_gbps", bw.gbps}, {"bf16_tflops", peak.tflops}, {"decode_bytes_per_token", token_bytes},
                     {"roofline_b1_tok_s", roofline_tok_s}, {"prefill_flops", prefill_flops}};
  out["runs"] = runs;
  progress("writing results");
  if (!o.json_out.empty()) std::ofstream(o.json_out) << out.dump(2) << "\n";

  std::printf("\n%s on %s (%s), weights %.2f GB bf16\n", o.like.c_str(), prof.name.c_str(), prof.arch.c_str(),
              weight_gb);
  std::printf("measured: HBM read %.0f GB/s, bf16 GEMM 8192^3 %.0f TFLOP/s; batch-1 roofline %.1f tok/s (%.2f GB/token)\n",
              bw.gbps, peak.tflops, roofline_tok_s, token_bytes / 1e9);
  if (gemv_us > 0)
    std::printf("batch-1 step: tuned GEMVs alone %.2f ms (%.0f GB/s of weights), whole tuned step %.2f ms\n", gemv_us / 1e3,
                token_bytes / (gemv_us * 1e-6) / 1e9, rows.size() > 2 ? rows[2].dec.front().step_ms : 0.0);
  if (ablated_step_ms > 0)
    std::printf("batch-1 step without RoPE + attention (ablation): %.2f ms = %.1f%% of the roofline's bandwidth\n",
                ablated_step_ms, 100.0 * token_bytes / (ablated_step_ms * 1e-3) / 1e9 / bw.gbps);
  if (host_sync_b1.tok_s > 0)
    std::printf("batch-1 tuned, host waiting for each step before preparing the next (not pipelined): %.1f tok/s, %.3f ms/step\n",
                host_sync_b1.tok_s, host_sync_b1.step_ms);
  std::printf("prefill attention alone (tensor-core flash kernel, %d tokens): %.3f ms/layer = %.0f TFLOP/s (%.1f%% of peak)\n",
              o.prompt, fa_ms, fa_tflops, 100.0 * fa_tflops / peak.tflops);
  std::printf("%-17s", "plan");
  for (int b : o.batches) std::printf(" | decode b=%-3d tok/s", b);
  std::printf(" | b1/roofline | prefill %d tok/s | prefill/peak\n", o.prompt);
  for (const Row& r : rows) {
    std::printf("%-17s", r.name.c_str());
    for (const auto& d : r.dec) std::printf(" | %19.1f", d.tok_s);
    std::printf(" | %10.1f%% | %17.0f | %11.1f%%\n", 100.0 * r.dec.front().tok_s / roofline_tok_s, o.prompt / r.prefill_s,
                100.0 * prefill_flops / r.prefill_s / 1e12 / peak.tflops);
  }
  std::fflush(stdout);
  return 0;
}

const RegisterCommand reg{{"gpu-bench", "Decode/prefill throughput on a CUDA device vs measured ceilings (random weights)",
                           [](CLI::App& sub) {
  auto o = std::make_shared<Options>();
  sub.add_option("--like", o->like, "model preset")->capture_default_str();
  sub.add_option("--device", o->device, "CUDA device index")->capture_default_str()->check(in_range(0, 1023));
  sub.add_option("--batches", o->batches, "decode batch sizes")->delimiter(',')->check(in_range(1, 256));
  sub.add_option("--context", o->context, "tokens in each sequence before timed decode")
      ->capture_default_str()
      ->check(in_range(1, double(1 << 24)));
  sub.add_option("--decode-steps", o->decode_steps, "timed decode steps")->capture_default_str()->check(in_range(1, double(1 << 20)));
  sub.add_option("--prompt", o->prompt, "prefill prompt length")->capture_default_str()->check(in_range(1, double(1 << 20)));
  sub.add_option("--db", o->db, "tuning database (default: the cache directory's)");
  sub.add_option("--json", o->json_out, "write full results as JSON here");
  sub.add_flag("!--no-tune", o->tune, "skip tuning (untuned only)");
  sub.add_flag("!--no-accurate", o->accurate, "skip the run under the default (f32 KV, split-bf16) precision");
  sub.add_flag("--trace", o->trace, "print a kernel timeline of the tuned batch-1 decode step");
  sub.add_flag("!--host-sync", o->pipelined, "decode with the host waiting for each step (no pipelining)");
  sub.add_option("--steps-per-launch", o->steps_per_launch, "pipelined greedy decode steps per launch (multi-step graphs)")
      ->capture_default_str()
      ->check(in_range(1, 64));
  return [o] {
    if (o->batches.empty()) fail("--batches: at least one batch size");
    for (int b : o->batches)
      if (b < 1 || b > 256) fail("--batches: ", b, " outside 1..256");
    if (o->prompt < 1 || o->context < 1 || o->decode_steps < 1) fail("--prompt, --context and --decode-steps must be >= 1");
    if (o->steps_per_launch < 1 || o->steps_per_launch > 64) fail("--steps-per-launch: ", o->steps_per_launch, " outside 1..64");
    return run(*o);
  };
}}};

}  // namespace
}  // namespace synaptix::app
