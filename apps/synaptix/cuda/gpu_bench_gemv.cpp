#include "synaptix/cuda/gpu_bench_gemv.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "synaptix/backend/cuda/ceilings.h"
#include "synaptix/backend/cuda/device_buffer.h"
#include "synaptix/backend/cuda/device_random.h"
#include "synaptix/backend/cuda/event_timer.h"
#include "synaptix/backend/cuda/launch/gemv_bf16.h"
#include "synaptix/backend/cuda/module.h"
#include "synaptix/backend/cuda/nvrtc_compiler.h"
#include "synaptix/core/error.h"
#include "synaptix/hw/cuda/device_profile.h"
#include "synaptix/hw/cuda/driver.h"
#include "synaptix/model/spec.h"
#include "synaptix/model/synth.h"

namespace synaptix::app {
namespace {

namespace bc = backend::cuda;
namespace kc = kernels::cuda;

void progress(const std::string& what) {
  std::fprintf(stderr, "[gpu-bench --gemv-families] %s\n", what.c_str());
  std::fflush(stderr);
}

// A decode product of the model and how many of it one token streams.
struct Product {
  std::string name;
  int64_t n = 0, k = 0;
  int64_t per_token = 1;
};

std::vector<Product> products_of(const model::Spec& s) {
  return {{"qkv", s.q_dim() + 2 * s.kv_dim(), s.hidden_size, s.num_layers},
          {"o", s.hidden_size, s.q_dim(), s.num_layers},
          {"gate_up", 2 * s.intermediate_size, s.hidden_size, s.num_layers},
          {"down", s.hidden_size, s.intermediate_size, s.num_layers},
          {"lm_head", s.vocab_size, s.hidden_size, 1}};
}

struct PointResult {
  kc::GemvParams p;
  bool ok = false;
  std::string why;  // when not ok
  double stream_us = 0, cold_us = 0;
};

// NVRTC compiles of every point ahead of the timing, on all cores, into the cubin cache the launcher reads.
void precompile(const std::vector<std::string>& sources, const std::string& arch) {
  std::atomic<size_t> next{0};
  const unsigned threads = std::max(1u, std::min(16u, std::thread::hardware_concurrency()));
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < threads; ++t)
    pool.emplace_back([&] {
      for (size_t i; (i = next++) < sources.size();) {
        try {
          bc::compile_cubin(sources[i], arch, "gemv_family");
        } catch (const Error&) {
          // Reported when the launch compiles it again.
        }
      }
    });
  for (auto& th : pool) th.join();
}

double rel_err(const std::vector<float>& a, const std::vector<float>& b) {
  double num = 0, den = 1e-6;
  for (size_t i = 0; i < b.size(); ++i) {
    if (!std::isfinite(a[i])) return INFINITY;
    num = std::max(num, std::fabs(static_cast<double>(a[i]) - b[i]));
    den = std::max(den, std::fabs(static_cast<double>(b[i])));
  }
  return num / den;
}

const PointResult* best_of(const std::vector<PointResult>& rs, bool bulk) {
  const PointResult* best = nullptr;
  for (const auto& r : rs)
    if (r.ok && (r.p.stages > 0) == bulk && (!best || r.stream_us < best->stream_us)) best = &r;
  return best;
}

}  // namespace

int run_gemv_family_bench(const GemvFamilyBench& o) {
  progress("spec " + o.like);
  const model::Spec spec = model::parse_spec(model::preset_config(o.like), o.like);
  if (o.rows.empty()) fail("--gemv-families: at least one row count (--batches 1..8)");
  for (int m : o.rows)
    if (m < 1 || m > 8) fail("--gemv-families: --batches ", m, " outside 1..8 (the GEMV takes 1 to 8 rows)");
  const hw::cuda::DeviceProfile prof = hw::cuda::probe_device(o.device);
  hw::cuda::Context ctx(o.device);
  const std::string arch = ctx.arch();
  const int64_t l2 = ctx.attribute(CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE);
  progress("measuring HBM read bandwidth");
  const bc::BandwidthMeasurement bw = bc::measure_hbm_read_bandwidth();
  CUstream stream = nullptr;
  hw::cuda::check(cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING), "cuStreamCreate");

  nlohmann::json out = {{"model", o.like}, {"device", prof.name}, {"hbm_read_gbps", bw.gbps}};
  std::printf("\n%s decode GEMVs on %s (%s): HBM read %.0f GB/s measured\n", o.like.c_str(), prof.name.c_str(),
              arch.c_str(), bw.gbps);
  std::printf("stream: back-to-back launches under PDL over copies of W larger than L2; cold: one launch from a flushed L2\n");
  std::printf("GB/s counts W's bytes; 'of HBM' is that over the measured read bandwidth\n\n");
  for (int m : o.rows) {
    double token_bytes = 0, token_us_reg = 0, token_us_bulk = 0, token_us_best = 0;
    for (const Product& pr : products_of(spec)) {
      const double wbytes = static_cast<double>(pr.n * pr.k * 2);
      std::vector<kc::GemvParams> points = kc::gemv_search_space(m, pr.n, pr.k);
      const kc::GemvParams def = kc::gemv_default_params(m, pr.n, pr.k);
      if (std::find(points.begin(), points.end(), def) == points.end()) points.insert(points.begin(), def);
      progress(pr.name + " " + std::to_string(pr.n) + "x" + std::to_string(pr.k) + " m=" + std::to_string(m) + ": compiling " +
               std::to_string(points.size()) + " points");
      std::vector<std::string> sources;
      for (const auto& p : points) sources.push_back(kc::gemv_bf16_source(m, p));
      precompile(sources, arch);

      // Copies of W that together exceed L2 several times over, so a stream of launches reads HBM.
      const int copies = static_cast<int>(std::max<int64_t>(2, static_cast<int64_t>(std::ceil(3.0 * static_cast<double>(l2) / wbytes))));
      std::vector<bc::DeviceBuffer> w;
      for (int c = 0; c < copies; ++c) {
        w.emplace_back(static_cast<size_t>(wbytes));
        bc::fill_uniform_bf16(w.back().ptr(), static_cast<size_t>(pr.n * pr.k), 17 + static_cast<uint64_t>(c), 0.05f, stream);
      }
      bc::DeviceBuffer x(static_cast<size_t>(m * pr.k * 4)), y(static_cast<size_t>(m * pr.n * 4));
      bc::fill_uniform_f32(x.ptr(), static_cast<size_t>(m * pr.k), 5, 1.0f, stream);
      hw::cuda::check(cuStreamSynchronize(stream), "cuStreamSynchronize");
      // The default schedule's output on copy 0 is what every point must reproduce.
      kc::gemv_bf16(x.ptr(), w[0].ptr(), y.ptr(), m, pr.n, pr.k, false, def, stream);
      hw::cuda::check(cuStreamSynchronize(stream), "cuStreamSynchronize");
      const std::vector<float> want = y.to_host<float>(static_cast<size_t>(m * pr.n));
      const int train = std::max(copies, 8);

      std::vector<PointResult> results;
      progress(pr.name + ": timing");
      for (const auto& p : points) {
        PointResult r;
        r.p = p;
        try {
          y.fill_bytes(0xFF);
          kc::gemv_bf16(x.ptr(), w[0].ptr(), y.ptr(), m, pr.n, pr.k, false, p, stream);
          hw::cuda::check(cuStreamSynchronize(stream), "cuStreamSynchronize");
          const double err = rel_err(y.to_host<float>(want.size()), want);
          if (!(err < 1e-4)) {
            r.why = "wrong result (relative error " + std::to_string(err) + " against the default schedule)";
          } else {
            bc::TimingOptions stream_opt{2, o.repeats, false};
            const bc::TimingStats st = bc::time_on_stream(
                stream,
                [&] {
                  bc::PdlScope pdl(true);
                  for (int i = 0; i < train; ++i)
                    kc::gemv_bf16(x.ptr(), w[static_cast<size_t>(i % copies)].ptr(), y.ptr(), m, pr.n, pr.k, false, p, stream);
                },
                stream_opt);
            const bc::TimingStats ct = bc::time_on_stream(
                stream, [&] { kc::gemv_bf16(x.ptr(), w[0].ptr(), y.ptr(), m, pr.n, pr.k, false, p, stream); },
                bc::TimingOptions{2, o.repeats, true});
            r.stream_us = st.median_ms * 1e3 / train;
            r.cold_us = ct.median_ms * 1e3;
            r.ok = true;
          }
        } catch (const Error& e) {
          r.why = e.what();
          hw::cuda::check(cuStreamSynchronize(stream), "cuStreamSynchronize");
        }
        results.push_back(r);
      }

      const PointResult* reg = best_of(results, false);
      const PointResult* bulk = best_of(results, true);
      auto gbps = [&](double us) { return us > 0 ? wbytes / (us * 1e-6) / 1e9 : 0.0; };
      std::printf("%-8s %6lldx%-6lld m=%d  %7.1f MB\n", pr.name.c_str(), static_cast<long long>(pr.n),
                  static_cast<long long>(pr.k), m, wbytes / 1e6);
      for (const auto& [family, r] : {std::pair<const char*, const PointResult*>{"register", reg}, {"bulk", bulk}}) {
        if (!r) {
          std::printf("  %-8s (no point ran)\n", family);
          continue;
        }
        std::printf("  %-8s %-30s stream %8.2f us %6.0f GB/s %5.1f%% of HBM | cold %8.2f us %6.0f GB/s %5.1f%%\n", family,
                    r->p.str().c_str(), r->stream_us, gbps(r->stream_us), 100.0 * gbps(r->stream_us) / bw.gbps, r->cold_us,
                    gbps(r->cold_us), 100.0 * gbps(r->cold_us) / bw.gbps);
      }
      if (reg && bulk)
        std::printf("  bulk / register: stream %.3fx, cold %.3fx (time ratio register/bulk: > 1 means bulk is faster)\n",
                    reg->stream_us / bulk->stream_us, reg->cold_us / bulk->cold_us);
      int failed = 0;
      for (const auto& r : results)
        if (!r.ok) {
          if (failed++ < 5) std::printf("  FAILED %s: %s\n", r.p.str().c_str(), r.why.c_str());
        }
      if (failed > 5) std::printf("  ... %d points failed in all\n", failed);
      // The five fastest of each family (stream), for the record.
      for (bool b : {false, true}) {
        std::vector<const PointResult*> fam;
        for (const auto& r : results)
          if (r.ok && (r.p.stages > 0) == b) fam.push_back(&r);
        std::sort(fam.begin(), fam.end(), [](auto* a, auto* c) { return a->stream_us < c->stream_us; });
        std::printf("  top %-8s", b ? "bulk:" : "register:");
        for (size_t i = 0; i < std::min<size_t>(5, fam.size()); ++i)
          std::printf(" %s %.1f%%", fam[i]->p.str().c_str(), 100.0 * gbps(fam[i]->stream_us) / bw.gbps);
        std::printf("\n");
      }

      token_bytes += wbytes * static_cast<double>(pr.per_token);
      if (reg) token_us_reg += reg->stream_us * static_cast<double>(pr.per_token);
      if (bulk) token_us_bulk += bulk->stream_us * static_cast<double>(pr.per_token);
      if (reg || bulk)
        token_us_best += std::min(reg ? reg->stream_us : INFINITY, bulk ? bulk->stream_us : INFINITY) *
                         static_cast<double>(pr.per_token);
      nlohmann::json jp = {{"product", pr.name}, {"m", m}, {"n", pr.n}, {"k", pr.k}, {"weight_bytes", wbytes}};
      for (const auto& r : results)
        jp["points"].push_back({{"schedule", r.p.str()}, {"stages", r.p.stages}, {"ok", r.ok}, {"why", r.why},
                                {"stream_us", r.stream_us}, {"cold_us", r.cold_us}, {"stream_gbps", gbps(r.stream_us)},
                                {"cold_gbps", gbps(r.cold_us)}});
      out["products"].push_back(jp);
    }
    auto line = [&](const char* what, double us) {
      const double g = us > 0 ? token_bytes / (us * 1e-6) / 1e9 : 0.0;
      std::printf("  %-22s %8.3f ms  %6.0f GB/s  %5.1f%% of HBM  (%.1f steps/s if a step were only its GEMVs)\n", what,
                  us / 1e3, g, 100.0 * g / bw.gbps, us > 0 ? 1e6 / us : 0.0);
      out["token"].push_back({{"m", m}, {"family", what}, {"ms", us / 1e3}, {"gbps", g}, {"of_hbm", g / bw.gbps}});
    };
    std::printf("\nper token (m=%d, every product x its count, stream timings, %.2f GB of weights):\n", m, token_bytes / 1e9);
    line("register family best", token_us_reg);
    line("bulk family best", token_us_bulk);
    line("best of both", token_us_best);
    std::printf("\n");
  }
  cuStreamDestroy(stream);
  if (!o.json_out.empty()) std::ofstream(o.json_out) << out.dump(2) << "\n";
  return 0;
}

}  // namespace synaptix::app
