#include "synaptix/cuda/gpu_bench_kv.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "synaptix/core/error.h"
#include "synaptix/engine/cuda/cuda_executor.h"
#include "synaptix/hw/cuda/device_profile.h"
#include "synaptix/hw/cuda/driver.h"
#include "synaptix/kernels/attention/kv_format.h"
#include "synaptix/model/synth.h"

namespace synaptix::app {
namespace {

void progress(const std::string& what) {
  std::fprintf(stderr, "[gpu-bench --kv] %s\n", what.c_str());
  std::fflush(stderr);
}

struct KvRow {
  kernels::KvFormat format;
  int64_t bytes_per_token = 0;  // K and V of every layer
  int64_t fit = 0;              // sequences of fit_context tokens in the free memory
  std::vector<DecodeResult> dec;
};

engine::CudaExecutorOptions options_for(kernels::KvFormat f, const DecodeTiming& t) {
  engine::CudaExecutorOptions eo;
  eo.kv_f32 = f == kernels::KvFormat::F32;
  if (!eo.kv_f32) eo.narrow_kv = f;
  eo.split_bf16 = false;  // bf16 inference as frameworks run it; only the cache differs between rows
  eo.max_tokens_per_step = std::max(2048, t.prompt);
  return eo;
}

}  // namespace

int run_kv_format_bench(const KvFormatBench& o) {
  progress("spec " + o.like);
  const model::Spec spec = model::parse_spec(model::preset_config(o.like), o.like);
  if (o.batches.empty()) fail("--kv: at least one batch size");
  if (o.fit_context < 1) fail("--kv-fit-context: ", o.fit_context, " (expected >= 1)");
  std::vector<KvRow> rows;
  for (const std::string& name : o.formats) {
    const kernels::KvFormat f = kernels::parse_kv_format(name, "--kv");
    rows.push_back({f, spec.num_layers * kernels::kv_bytes_per_token_layer(f, spec.num_kv_heads, spec.head_dim), 0, {}});
  }
  hw::cuda::DeviceProfile prof = hw::cuda::probe_device(o.device);
  hw::cuda::Context ctx(o.device);
  const int max_batch = *std::max_element(o.batches.begin(), o.batches.end());
  const int64_t blocks_per_seq = decode_blocks_per_seq(o.timing);
  const engine::KvConfig kv = decode_kv(o.timing, max_batch);
  nlohmann::json out = {{"model", o.like}, {"device", prof.name}, {"fit_context", o.fit_context},
                        {"context", o.timing.context}, {"decode_steps", o.timing.decode_steps}};
  size_t free_bytes = 0;
  for (KvRow& r : rows) {
    const std::string name = kernels::kv_format_name(r.format);
    progress(name + ": weights and a cache for " + std::to_string(max_batch) + " sequences");
    auto ex = engine::make_cuda_executor_random(spec, 1, kv, o.device, options_for(r.format, o.timing));
    if (free_bytes == 0) {
      // Free memory with the first executor alive, plus its own cache: what a cache may take beside the
      // weights and step buffers (the same for every format).
      size_t free_now = 0, total = 0;
      hw::cuda::check(cuMemGetInfo(&free_now, &total), "cuMemGetInfo");
      const int64_t slots = kv.num_blocks * kv.block_size;
      free_bytes = free_now + static_cast<size_t>(slots * r.bytes_per_token);
      out["free_for_kv_bytes"] = free_bytes;
    }
    // 5% kept back for the allocator and fragmentation.
    r.fit = static_cast<int64_t>(0.95 * static_cast<double>(free_bytes) / static_cast<double>(r.bytes_per_token * o.fit_context));
    for (int b : o.batches) {
      progress(name + ": decode batch " + std::to_string(b));
      r.dec.push_back(time_decode(*ex, b, o.timing, blocks_per_seq));
    }
    nlohmann::json jr = {{"kv_cache", name}, {"bytes_per_token", r.bytes_per_token}, {"sequences_that_fit", r.fit}};
    for (const auto& d : r.dec) jr["decode"].push_back({{"batch", d.batch}, {"tok_s", d.tok_s}, {"step_ms", d.step_ms}});
    out["formats"].push_back(jr);
  }
  if (!o.json_out.empty()) std::ofstream(o.json_out) << out.dump(2) << "\n";

  std::printf("\n%s on %s: KV cache formats; %.2f GB free for the cache after weights and step buffers\n", o.like.c_str(),
              prof.name.c_str(), static_cast<double>(free_bytes) / 1e9);
  std::printf("decode: %d tokens of context, %d timed steps, one bf16 product per GEMM\n", o.timing.context,
              o.timing.decode_steps);
  std::printf("%-9s | %9s | %11s | %6s", "kv cache", "KB/token", "seqs @ctx", "x base");
  for (int b : o.batches) std::printf(" | b=%-3d tok/s | x base", b);
  std::printf("\n");
  const KvRow& base = rows.front();
  for (const KvRow& r : rows) {
    std::printf("%-9s | %9.1f | %5lld@%-5d | %6.2f", kernels::kv_format_name(r.format), static_cast<double>(r.bytes_per_token) / 1024,
                static_cast<long long>(r.fit), o.fit_context, static_cast<double>(r.fit) / static_cast<double>(std::max<int64_t>(base.fit, 1)));
    for (size_t i = 0; i < r.dec.size(); ++i) std::printf(" | %11.1f | %6.2f", r.dec[i].tok_s, r.dec[i].tok_s / base.dec[i].tok_s);
    std::printf("\n");
  }
  std::fflush(stdout);
  return 0;
}

}  // namespace synaptix::app
