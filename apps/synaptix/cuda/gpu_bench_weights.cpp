#include "synaptix/cuda/gpu_bench_weights.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <optional>
#include <vector>

#include <nlohmann/json.hpp>

#include "synaptix/backend/cuda/ceilings.h"
#include "synaptix/backend/cuda/device_buffer.h"
#include "synaptix/backend/cuda/event_timer.h"
#include "synaptix/backend/cuda/launch/quant_gemv.h"
#include "synaptix/backend/cuda/launch/rmsnorm.h"
#include "synaptix/backend/cuda/launch/swiglu.h"
#include "synaptix/backend/cuda/module.h"
#include "synaptix/core/error.h"
#include "synaptix/engine/cuda/cuda_executor.h"
#include "synaptix/kernels/linear/quant_mma_layout.h"
#include "synaptix/hw/cuda/device_profile.h"
#include "synaptix/hw/cuda/driver.h"
#include "synaptix/model/synth.h"
#include "synaptix/quant/weight_format.h"

namespace synaptix::app {
namespace {

void progress(const std::string& what) {
  std::fprintf(stderr, "[gpu-bench --weights] %s\n", what.c_str());
  std::fflush(stderr);
}

struct FormatRow {
  std::string name;
  DType dtype = DType::BF16;
  double bits_per_weight = 16;   // of the projections, scales included
  double step_bytes = 0;         // a batch-1 step's weight and scale bytes
  double roofline_tok_s = 0;
  std::vector<DecodeResult> dec;
  double prefill_tok_s = 0;
};

// "bf16" first, then each named format once.
std::vector<FormatRow> rows_for(const std::vector<std::string>& names, int64_t k) {
  std::vector<FormatRow> rows(1);
  rows[0].name = "bf16";
  for (const std::string& n : names) {
    if (n == "bf16") continue;
    const quant::WeightFormat* f = quant::weight_format_named(n);
    if (!f) fail("--weights: unknown format \"", n, "\" (expected bf16 or one of ", quant::weight_format_names(), ")");
    if (std::any_of(rows.begin(), rows.end(), [&](const FormatRow& r) { return r.dtype == f->dtype; })) continue;
    FormatRow r;
    r.name = std::string(f->name);
    r.dtype = f->dtype;
    r.bits_per_weight = quant::bits_per_weight(*f, k);
    rows.push_back(r);
  }
  return rows;
}

// The format's GEMV alone at m = 1 on each projection shape of a layer, each timing from cold L2, under the
// default schedule and a small grid of others: weight GB/s against the measured bandwidth, and the schedule
// with the least time summed over the four shapes (what the executor then runs for single rows).
nlohmann::json sweep_gemv(const model::Spec& s, const quant::WeightFormat& f, double bw_gbps, kernels::cuda::QuantGemvParams* chosen) {
  namespace kc = kernels::cuda;
  namespace bc = backend::cuda;
  const int64_t h = s.hidden_size, inter = s.intermediate_size;
  const std::pair<int64_t, int64_t> shapes[] = {{s.q_dim() + 2 * s.kv_dim(), h}, {h, s.q_dim()}, {2 * inter, h}, {h, inter}};
  int64_t max_bytes = 0, max_n = 0, max_k = 0;
  for (const auto& [n, k] : shapes) {
    max_bytes = std::max(max_bytes, n * quant::weight_row_bytes(f, k));
    max_n = std::max(max_n, n);
    max_k = std::max(max_k, k);
  }
  bc::DeviceBuffer w(static_cast<size_t>(max_bytes)), x(static_cast<size_t>(max_k) * 4), y(static_cast<size_t>(max_n) * 4);
  w.fill_bytes(0x11);  // finite codes and scales in every format; the values do not matter here
  x.fill_bytes(0);
  const kc::QuantGemvParams def = kc::quant_gemv_default_params(f.dtype, 1);
  std::vector<kc::QuantGemvParams> grid = {def};
  for (int warps : {4, 8})
    for (int unroll : {2, 4, 8})
      for (int rpw : {1, 2, 4}) grid.push_back({warps, unroll, rpw});
  // ms[param][shape]
  std::vector<std::vector<double>> ms(grid.size(), std::vector<double>(4, 0.0));
  for (size_t i = 0; i < grid.size(); ++i)
    for (size_t j = 0; j < 4; ++j) {
      const auto [n, k] = shapes[j];
      ms[i][j] = bc::time_on_stream(nullptr, [&] { kc::quant_gemv(f.dtype, x.ptr(), w.ptr(), y.ptr(), 1, n, k, false, nullptr, grid[i]); },
                                    {2, 10, true}).median_ms;
    }
  size_t best_total = 0;
  auto total = [&](size_t i) { return ms[i][0] + ms[i][1] + ms[i][2] + ms[i][3]; };
  for (size_t i = 1; i < grid.size(); ++i)
    if (total(i) < total(best_total)) best_total = i;
  *chosen = grid[best_total];
  nlohmann::json js = {{"default", def.str()}, {"chosen", chosen->str()}};
  double bytes_all = 0;
  for (size_t j = 0; j < 4; ++j) {
    const auto [n, k] = shapes[j];
    const double bytes = static_cast<double>(n * quant::weight_row_bytes(f, k));
    bytes_all += bytes;
    size_t best = 0;
    for (size_t i = 1; i < grid.size(); ++i)
      if (ms[i][j] < ms[best][j]) best = i;
    auto gbps = [&](size_t i) { return bytes / (ms[i][j] * 1e-3) / 1e9; };
    std::printf("  %s GEMV alone, m=1, %lldx%lld: default %s %.0f GB/s (%.1f%%), best %s %.0f GB/s (%.1f%%)\n",
                std::string(f.name).c_str(), static_cast<long long>(n), static_cast<long long>(k), def.str().c_str(), gbps(0),
                100.0 * gbps(0) / bw_gbps, grid[best].str().c_str(), gbps(best), 100.0 * gbps(best) / bw_gbps);
    js["shapes"].push_back({{"n", n}, {"k", k}, {"default_gbps", gbps(0)}, {"best", grid[best].str()}, {"best_gbps", gbps(best)},
                            {"chosen_gbps", gbps(best_total)}});
  }
  const double chosen_gbps = bytes_all / (total(best_total) * 1e-3) / 1e9;
  std::printf("  %s GEMV alone, m=1, a layer's four shapes: default %.0f GB/s, %s (run below) %.0f GB/s = %.1f%% of %.0f GB/s\n",
              std::string(f.name).c_str(), bytes_all / (total(0) * 1e-3) / 1e9, chosen->str().c_str(), chosen_gbps,
              100.0 * chosen_gbps / bw_gbps, bw_gbps);
  js["chosen_gbps"] = chosen_gbps;
  std::fflush(stdout);
  return js;
}

// The tensor-core product (quant_mma, its x conversion included) alone at m rows on each projection shape,
// like sweep_gemv: weight and scale bytes (the packed rows' bytes: the layout holds the same codes and scales)
// per second against the measured bandwidth, and the schedule with the least time over a layer's four shapes.
nlohmann::json sweep_mma(const model::Spec& s, const quant::WeightFormat& f, int m, double bw_gbps, kernels::cuda::QuantMmaParams* chosen,
                         kernels::cuda::QuantMmaParams* best_stream = nullptr) {
  namespace kc = kernels::cuda;
  namespace bc = backend::cuda;
  const int64_t h = s.hidden_size, inter = s.intermediate_size;
  const std::pair<int64_t, int64_t> shapes[] = {{s.q_dim() + 2 * s.kv_dim(), h}, {h, s.q_dim()}, {2 * inter, h}, {h, inter}};
  int64_t max_bytes = 0, max_n = 0, max_k = 0;
  for (const auto& [n, k] : shapes) {
    max_bytes = std::max(max_bytes, kc::quant_mma_layout(f, n, k).total_bytes);
    max_n = std::max(max_n, n);
    max_k = std::max(max_k, k);
  }
  const size_t scratch_bytes = kc::quant_mma_scratch_bytes(f.dtype, m, max_k);
  bc::DeviceBuffer w(static_cast<size_t>(max_bytes)), x(static_cast<size_t>(m * max_k) * 4), y(static_cast<size_t>(m * max_n) * 4),
      scratch(scratch_bytes);
  w.fill_bytes(0x11);  // finite codes and scales in every format; the values do not matter here
  x.fill_bytes(0);
  const kc::QuantMmaParams def = kc::quant_mma_default_params(f.dtype, m);
  std::vector<kc::QuantMmaParams> grid = {def};
  if (m <= 8) {
    // The stream form (the default): warps, words a stage, stages; k slices chosen by the launcher.
    for (int warps : {4, 8, 16})
      for (int unroll : {1, 2, 4})
        for (int stages : {2, 4, 6}) {
          kc::QuantMmaParams p;
          p.warps = warps;
          p.unroll = unroll;
          p.stages = stages;
          try {
            kc::quant_mma_stream_geometry(f.dtype, m, p);  // throws when the ring does not fit shared memory
          } catch (const Error&) {
            continue;
          }
          if (p.str() != def.str()) grid.push_back(p);
        }
    // The split-K form, its former default and the best of its grid on an H100 (2026-12-05), for comparison.
    for (const kc::QuantMmaParams& p : {kc::QuantMmaParams{8, 1, 2}, kc::QuantMmaParams{4, 2, 2}, kc::QuantMmaParams{4, 1, 2}})
      grid.push_back(p);
  } else {
    for (int warps : {4, 8})
      for (int rt : {1, 2})
        for (int unroll : {1, 2}) grid.push_back({warps, rt, unroll});  // split-K in a block
    for (int warps : {4, 8})
      for (int rt : {1, 2})
        for (int slices : {2, 4, 8}) grid.push_back({warps, rt, m > 32 ? 1 : 2, true, slices});  // row mode
    for (int warps : {8, 16})  // the stream form, x converted per block or by the row-major pre-pass
      for (int unroll : {1, 2})
        for (int stages : {4})
          for (bool fuse_x : {true, false}) {
            kc::QuantMmaParams p;
            p.warps = warps;
            p.unroll = unroll;
            p.stages = stages;
            p.fuse_x = fuse_x;
            try {
              kc::quant_mma_stream_geometry(f.dtype, m, p);
            } catch (const Error&) {
              continue;
            }
            grid.push_back(p);
          }
  }
  std::vector<std::vector<double>> ms(grid.size(), std::vector<double>(4, 0.0));
  for (size_t i = 0; i < grid.size(); ++i)
    for (size_t j = 0; j < 4; ++j) {
      const auto [n, k] = shapes[j];
      // o_proj and down add into the residual in the step (the stream form may then cut k into slices).
      const bool acc = j == 1 || j == 3;
      ms[i][j] = bc::time_on_stream(nullptr, [&] {
                   kc::quant_mma(f.dtype, x.ptr(), false, w.ptr(), y.ptr(), m, n, k, acc, scratch.ptr(), scratch_bytes, nullptr, grid[i]);
                 }, {2, 10, true}).median_ms;
    }
  size_t best_total = 0;
  auto total = [&](size_t i) { return ms[i][0] + ms[i][1] + ms[i][2] + ms[i][3]; };
  for (size_t i = 1; i < grid.size(); ++i)
    if (total(i) < total(best_total)) best_total = i;
  *chosen = grid[best_total];
  if (best_stream) {  // the stream form's best alone (the form that takes the step's fusions)
    std::optional<size_t> bs;
    for (size_t i = 0; i < grid.size(); ++i)
      if (grid[i].stages && (!bs || total(i) < total(*bs))) bs = i;
    *best_stream = bs ? grid[*bs] : def;
  }
  nlohmann::json js = {{"m", m}, {"default", def.str()}, {"chosen", chosen->str()}};
  double bytes_all = 0;
  for (size_t j = 0; j < 4; ++j) {
    const auto [n, k] = shapes[j];
    const double bytes = static_cast<double>(n * quant::weight_row_bytes(f, k));
    bytes_all += bytes;
    size_t best = 0;
    for (size_t i = 1; i < grid.size(); ++i)
      if (ms[i][j] < ms[best][j]) best = i;
    auto gbps = [&](size_t i) { return bytes / (ms[i][j] * 1e-3) / 1e9; };
    std::printf("  %s MMA alone, m=%d, %lldx%lld: default %s %.0f GB/s (%.1f%%), best %s %.0f GB/s (%.1f%%) %.1f us\n",
                std::string(f.name).c_str(), m, static_cast<long long>(n), static_cast<long long>(k), def.str().c_str(), gbps(0),
                100.0 * gbps(0) / bw_gbps, grid[best].str().c_str(), gbps(best), 100.0 * gbps(best) / bw_gbps, ms[best][j] * 1e3);
    js["shapes"].push_back({{"n", n}, {"k", k}, {"default_gbps", gbps(0)}, {"best", grid[best].str()}, {"best_gbps", gbps(best)},
                            {"chosen_gbps", gbps(best_total)}});
  }
  const double chosen_gbps = bytes_all / (total(best_total) * 1e-3) / 1e9;
  std::printf("  %s MMA alone, m=%d, a layer's four shapes: default %.0f GB/s, %s (run below) %.0f GB/s = %.1f%% of %.0f GB/s\n",
              std::string(f.name).c_str(), m, bytes_all / (total(0) * 1e-3) / 1e9, chosen->str().c_str(), chosen_gbps,
              100.0 * chosen_gbps / bw_gbps, bw_gbps);
  js["chosen_gbps"] = chosen_gbps;
  std::fflush(stdout);
  return js;
}

// One layer's quantized products at m = 1 in sequence, without attention, under PDL, from a cold L2: as the
// executor runs a quantized decode step today (RMSNorm, q|k|v, o_proj added into the residual, RMSNorm, gate|up,
// SwiGLU, down added into the residual: 7 kernels) and with the stream form's fusions (quant_norm_linear: 4
// kernels), each against the layer's weight-and-scale bytes at the measured bandwidth. Where a b=1 step's
// time goes between the products and the kernels around them.
nlohmann::json time_layer_sequence(const model::Spec& s, const quant::WeightFormat& f, double bw_gbps, const kernels::cuda::QuantMmaParams& p) {
  namespace kc = kernels::cuda;
  namespace bc = backend::cuda;
  const int64_t h = s.hidden_size, inter = s.intermediate_size, qd = s.q_dim(), qkv_n = qd + 2 * s.kv_dim();
  auto layout_buffer = [&](int64_t n, int64_t k) {
    bc::DeviceBuffer b(static_cast<size_t>(kc::quant_mma_layout(f, n, k).total_bytes));
    b.fill_bytes(0x11);
    return b;
  };
  bc::DeviceBuffer wq = layout_buffer(qkv_n, h), wo = layout_buffer(h, qd), wgu = layout_buffer(2 * inter, h), wd = layout_buffer(h, inter);
  auto act_buffer = [](int64_t elems) {
    bc::DeviceBuffer b(static_cast<size_t>(elems) * 4);
    b.fill_bytes(0x3c);  // 0.0115 as f32
    return b;
  };
  bc::DeviceBuffer x = act_buffer(h), gamma = act_buffer(std::max(h, inter)), xn = act_buffer(h), qkv = act_buffer(qkv_n),
                   attn = act_buffer(qd), gu = act_buffer(2 * inter), act = act_buffer(inter);
  const size_t scratch_bytes = kc::quant_mma_scratch_bytes(f.dtype, 1, std::max(h, inter));
  bc::DeviceBuffer scratch(scratch_bytes);
  const float eps = 1e-5f;
  double bytes = 0;
  for (const auto& [n, k] : {std::pair{qkv_n, h}, std::pair{h, qd}, std::pair{2 * inter, h}, std::pair{h, inter}})
    bytes += static_cast<double>(n * quant::weight_row_bytes(f, k));
  const double ideal_us = bytes / (bw_gbps * 1e9) * 1e6;
  auto mma = [&](CUdeviceptr in, const bc::DeviceBuffer& w, CUdeviceptr out, int64_t n, int64_t k, bool acc,
                 const kc::QuantMmaFusedArgs& fa = {}) {
    kc::quant_mma(f.dtype, in, false, w.ptr(), out, 1, n, k, acc, scratch.ptr(), scratch_bytes, nullptr, p, fa);
  };
  const double unfused_us = 1e3 * bc::time_on_stream(nullptr, [&] {
    bc::PdlScope pdl(true);
    kc::rmsnorm(x.ptr(), 0, gamma.ptr(), xn.ptr(), 1, h, eps, false, nullptr);
    mma(xn.ptr(), wq, qkv.ptr(), qkv_n, h, false);
    mma(attn.ptr(), wo, x.ptr(), h, qd, true);
    kc::rmsnorm(x.ptr(), 0, gamma.ptr(), xn.ptr(), 1, h, eps, false, nullptr);
    mma(xn.ptr(), wgu, gu.ptr(), 2 * inter, h, false);
    kc::swiglu(gu.ptr(), act.ptr(), 1, inter, false, nullptr);
    mma(act.ptr(), wd, x.ptr(), h, inter, true);
  }, {2, 10, true}).median_ms;
  nlohmann::json js = {{"schedule", p.str()}, {"ideal_us", ideal_us}, {"unfused_us", unfused_us}};
  std::printf("  %s one layer's products at m=1 with their neighbours (no attention), %s: %.1f us as run now (7 kernels: "
              "%.1f%% of the %.1f us roofline)",
              std::string(f.name).c_str(), p.str().c_str(), unfused_us, 100.0 * ideal_us / unfused_us, ideal_us);
  const kc::QuantMmaFusion norm{true, kc::QuantGlu::None}, norm_glu{true, kc::QuantGlu::SwiGlu};
  if (kc::quant_mma_fusable(f.dtype, 1, qkv_n, h, p, norm) && kc::quant_mma_fusable(f.dtype, 1, 2 * inter, h, p, norm_glu)) {
    kc::QuantMmaFusedArgs fq, fg;
    fq.fusion = norm;
    fq.gamma = fg.gamma = gamma.ptr();
    fq.eps = fg.eps = eps;
    fg.fusion = norm_glu;
    fg.glu_out = act.ptr();
    const double fused_us = 1e3 * bc::time_on_stream(nullptr, [&] {
      bc::PdlScope pdl(true);
      mma(x.ptr(), wq, qkv.ptr(), qkv_n, h, false, fq);
      mma(attn.ptr(), wo, x.ptr(), h, qd, true);
      mma(x.ptr(), wgu, act.ptr(), 2 * inter, h, false, fg);
      mma(act.ptr(), wd, x.ptr(), h, inter, true);
    }, {2, 10, true}).median_ms;
    js["fused_us"] = fused_us;
    std::printf(", %.1f us fused (4 kernels: %.1f%%)", fused_us, 100.0 * ideal_us / fused_us);
  }
  std::printf("\n");
  std::fflush(stdout);
  return js;
}

}  // namespace

int run_weight_format_bench(const WeightFormatBench& o) {
  progress("spec " + o.like);
  const model::Spec spec = model::parse_spec(model::preset_config(o.like), o.like);
  if (spec.is_moe()) fail("--weights: ", o.like, " is a MoE shape; the CUDA executor has no kernel for quantized experts");
  if (o.batches.empty()) fail("--weights: at least one batch size");
  std::vector<FormatRow> rows = rows_for(o.formats, spec.hidden_size);
  hw::cuda::DeviceProfile prof = hw::cuda::probe_device(o.device);
  hw::cuda::Context ctx(o.device);
  progress("measuring the HBM read bandwidth");
  const auto bw = backend::cuda::measure_hbm_read_bandwidth(std::min<size_t>(4ull << 30, static_cast<size_t>(prof.total_memory / 4)));
  const int max_batch = *std::max_element(o.batches.begin(), o.batches.end());
  const int64_t blocks_per_seq = decode_blocks_per_seq(o.timing);
  const engine::KvConfig kv = decode_kv(o.timing, max_batch);
  const int64_t h = spec.hidden_size;
  const double embed_bytes = static_cast<double>(spec.vocab_size * h * 2);
  nlohmann::json out = {{"model", o.like}, {"device", prof.name}, {"hbm_read_gbps", bw.gbps},
                        {"quant_gemv_max_rows", o.quant_gemv_max_rows}, {"quant_mma_max_rows", o.quant_mma_max_rows}};
  for (FormatRow& r : rows) {
    // bf16 as frameworks run it (bf16 KV cache, one bf16 product per GEMM), every format under the same settings.
    engine::CudaExecutorOptions eo;
    eo.kv_f32 = false;
    eo.split_bf16 = false;
    eo.max_tokens_per_step = std::max(2048, o.timing.prompt);
    eo.quant_gemv_max_rows = o.quant_gemv_max_rows;
    eo.quant_mma_max_rows = o.quant_mma_max_rows;
    nlohmann::json sweep, mma_sweep, layer_seq;
    if (o.gemv_sweep && r.dtype != DType::BF16) {
      // The packed-row GEMV runs only with the tensor-core product off (quant_mma_max_rows 0).
      if (o.quant_mma_max_rows == 0) {
        progress(r.name + ": the GEMV alone on each projection shape, a grid of schedules");
        kernels::cuda::QuantGemvParams chosen;
        sweep = sweep_gemv(spec, *quant::weight_format(r.dtype), bw.gbps, &chosen);
        eo.quant_gemv_schedule[1] = chosen;  // single-row calls (batch 1) run the schedule that won
      } else {
        progress(r.name + ": the tensor-core product alone on each projection shape, a grid of schedules");
        for (int m : {1, 32}) {
          kernels::cuda::QuantMmaParams mc, ms;
          mma_sweep.push_back(sweep_mma(spec, *quant::weight_format(r.dtype), m, bw.gbps, &mc, &ms));
          if (m == 1) {
            // Batch 1 runs what a layer's products do best in sequence with their neighbours, under PDL: the
            // best alone, the stream form's best alone and the default, each fused where the form takes it
            // (the alone-timings see neither the fusions nor the overlap of consecutive kernels).
            const quant::WeightFormat& wf = *quant::weight_format(r.dtype);
            std::vector<kernels::cuda::QuantMmaParams> cands = {mc};
            for (const kernels::cuda::QuantMmaParams& c : {ms, kernels::cuda::quant_mma_default_params(r.dtype, 1)})
              if (std::none_of(cands.begin(), cands.end(), [&](const auto& d) { return d.str() == c.str(); })) cands.push_back(c);
            double best_us = 0;
            for (const kernels::cuda::QuantMmaParams& c : cands) {
              const nlohmann::json js = time_layer_sequence(spec, wf, bw.gbps, c);
              const double us = js.contains("fused_us") ? js["fused_us"].get<double>() : js["unfused_us"].get<double>();
              layer_seq.push_back(js);
              if (best_us == 0 || us < best_us) {
                best_us = us;
                eo.quant_mma_schedule[1] = c;  // calls of up to 8 rows
              }
            }
            std::printf("  %s batch 1 runs %s (the layer sequence's best, %.1f us)\n", std::string(wf.name).c_str(),
                        eo.quant_mma_schedule[1].str().c_str(), best_us);
          } else {
            for (int t = 2; t <= 8; ++t) eo.quant_mma_schedule[t] = mc;
          }
        }
      }
    }
    progress(r.name + ": weights (projections quantized on the host, round to nearest)");
    auto ex = engine::make_cuda_executor_random(spec, 1, kv, o.device, eo, r.dtype);
    // A batch-1 step reads every weight once except the embedding table (one row).
    r.step_bytes = static_cast<double>(ex->weight_bytes()) - (spec.tie_word_embeddings ? 0.0 : embed_bytes) + h * 2;
    if (r.dtype != DType::BF16) {
      // The bytes a step reads: the bf16 run's, with the projections in the packed format's bytes (the
      // buffers also hold the tensor-core layout, which holds the same codes and scales: only one is read).
      const quant::WeightFormat& f = *quant::weight_format(r.dtype);
      const int64_t inter = spec.intermediate_size, qkv = spec.q_dim() + 2 * spec.kv_dim();
      const std::pair<int64_t, int64_t> shapes[] = {{qkv, h}, {h, spec.q_dim()}, {2 * inter, h}, {h, inter}};
      double bf16_proj = 0, packed = 0;
      for (const auto& [n, k] : shapes) {
        bf16_proj += static_cast<double>(n * k * 2);
        packed += static_cast<double>(n * quant::weight_row_bytes(f, k));
      }
      r.step_bytes = rows.front().step_bytes + static_cast<double>(spec.num_layers) * (packed - bf16_proj);
    }
    r.roofline_tok_s = bw.gbps * 1e9 / r.step_bytes;
    for (int b : o.batches) {
      progress(r.name + ": decode batch " + std::to_string(b));
      r.dec.push_back(time_decode(*ex, b, o.timing, blocks_per_seq));
    }
    if (o.prefill) {
      progress(r.name + ": prefill " + std::to_string(o.timing.prompt));
      r.prefill_tok_s = o.timing.prompt / time_prefill(*ex, o.timing);
    }
    nlohmann::json jr = {{"format", r.name}, {"bits_per_weight", r.bits_per_weight}, {"step_bytes", r.step_bytes},
                         {"roofline_b1_tok_s", r.roofline_tok_s}, {"steps_per_launch", launch_steps(*ex, 1, o.timing)}};
    for (const auto& d : r.dec) jr["decode"].push_back({{"batch", d.batch}, {"tok_s", d.tok_s}, {"step_ms", d.step_ms}});
    // The roofline is one token's bytes: a ratio only for batch 1 (the first batch timed, when asked for).
    if (r.dec.front().batch == 1) {
      jr["b1_vs_roofline"] = r.dec.front().tok_s / r.roofline_tok_s;
      jr["b1_vs_bf16"] = r.dec.front().tok_s / rows.front().dec.front().tok_s;
    }
    if (o.prefill) jr["prefill_tok_s"] = r.prefill_tok_s;
    if (!sweep.is_null()) jr["gemv_alone_m1"] = sweep;
    if (!mma_sweep.is_null()) jr["mma_alone"] = mma_sweep;
    if (!layer_seq.is_null()) jr["layer_sequence_m1"] = layer_seq;
    out["formats"].push_back(jr);
  }
  if (!o.json_out.empty()) std::ofstream(o.json_out) << out.dump(2) << "\n";

  std::printf("\n%s on %s: projections in each weight format (embedding and LM head bf16), HBM read %.0f GB/s measured\n",
              o.like.c_str(), prof.name.c_str(), bw.gbps);
  std::printf("decode: %d tokens of context, %d timed steps; quantized products of up to %d rows (and every decode-sized "
              "one) run the tensor-core product on the weights as held, larger ones expand the weights to bf16\n",
              o.timing.context, o.timing.decode_steps, o.quant_mma_max_rows);
  const int first = o.batches.front();
  const std::string first_label = "b=" + std::to_string(first) + " tok/s";
  std::printf("%-15s | %5s | %8s | %9s | %9s | %6s", "format", "bits", "GB/step", first_label.c_str(), "x roofline", "x bf16");
  for (size_t i = 1; i < o.batches.size(); ++i) std::printf(" | b=%-3d tok/s | x bf16", o.batches[i]);
  if (o.prefill) std::printf(" | prefill %d tok/s", o.timing.prompt);
  std::printf("\n");
  const FormatRow& base = rows.front();
  for (const FormatRow& r : rows) {
    const std::string vs_roof = first == 1 ? std::to_string(r.dec.front().tok_s / r.roofline_tok_s).substr(0, 5) : "-";
    std::printf("%-15s | %5.2f | %8.3f | %9.1f | %9s | %6.2f", r.name.c_str(), r.bits_per_weight, r.step_bytes / 1e9,
                r.dec.front().tok_s, vs_roof.c_str(), r.dec.front().tok_s / base.dec.front().tok_s);
    for (size_t i = 1; i < r.dec.size(); ++i) std::printf(" | %11.1f | %6.2f", r.dec[i].tok_s, r.dec[i].tok_s / base.dec[i].tok_s);
    if (o.prefill) std::printf(" | %16.0f", r.prefill_tok_s);
    std::printf("\n");
  }
  std::fflush(stdout);
  return 0;
}

}  // namespace synaptix::app
