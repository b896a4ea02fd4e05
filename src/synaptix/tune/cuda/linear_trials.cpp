#include "synaptix/tune/cuda/linear_trials.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <thread>
#include <atomic>

#include "synaptix/backend/cuda/cublaslt_matmul.h"
#include "synaptix/backend/cuda/device_buffer.h"
#include "synaptix/backend/cuda/device_random.h"
#include "synaptix/backend/cuda/event_timer.h"
#include "synaptix/backend/cuda/launch/gemv_bf16.h"
#include "synaptix/backend/cuda/nvrtc_compiler.h"
#include "synaptix/backend/cuda/trial_runner.h"
#include "synaptix/core/dtype.h"
#include "synaptix/core/error.h"
#include "synaptix/hw/cuda/device_profile.h"
#include "synaptix/hw/cuda/driver.h"

namespace synaptix::tune::cuda {
namespace {

using kernels::cuda::gemv_bf16;
using kernels::cuda::gemv_bf16_source;
using kernels::cuda::gemv_default_params;
using kernels::cuda::gemv_search_space;
using kernels::cuda::GemvParams;

namespace bc = backend::cuda;

constexpr uint64_t kWeightSeed = 7;
constexpr uint64_t kInputSeed = 8;
constexpr int kCheckedOutputs = 96;

// Inputs of one shape on the device, with host copies of x and the sampled weight rows for checking.
struct ShapeData {
  LinearShape shape;
  bc::DeviceBuffer w, x, xb, y;
  std::vector<float> x_host;  // [m, k] (bf16-rounded when the shape runs on tensor cores)
};

float weight_value(int64_t n_index, int64_t k_index, int64_t k, float scale) {
  return bf16_to_f32(f32_to_bf16(bc::uniform_value(kWeightSeed, static_cast<uint64_t>(n_index * k + k_index), scale)));
}

std::unique_ptr<ShapeData> make_shape_data(const LinearShape& s) {
  auto d = std::make_unique<ShapeData>();
  d->shape = s;
  const float scale = 1.0f / std::sqrt(static_cast<float>(s.k));
  d->w = bc::DeviceBuffer(static_cast<size_t>(s.n * s.k) * 2);
  bc::fill_uniform_bf16(d->w.ptr(), static_cast<size_t>(s.n * s.k), kWeightSeed, scale, nullptr);
  d->x_host.resize(static_cast<size_t>(s.m * s.k));
  std::mt19937 rng(static_cast<uint32_t>(kInputSeed + s.m * 31 + s.n * 7 + s.k));
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (float& v : d->x_host) v = u(rng);
  if (s.gemv()) {
    d->x = bc::DeviceBuffer(d->x_host.size() * 4);
    d->x.upload(d->x_host.data(), d->x_host.size() * 4);
  } else {
    std::vector<uint16_t> xb(d->x_host.size());
    for (size_t i = 0; i < xb.size(); ++i) {
      xb[i] = f32_to_bf16(d->x_host[i]);
      d->x_host[i] = bf16_to_f32(xb[i]);
    }
    d->xb = bc::DeviceBuffer(xb.size() * 2);
    d->xb.upload(xb.data(), xb.size() * 2);
  }
  d->y = bc::DeviceBuffer(static_cast<size_t>(s.m * s.n) * 4);
  hw::cuda::check(cuCtxSynchronize(), "cuCtxSynchronize after filling trial inputs");
  return d;
}

// Compares sampled outputs with a double-precision dot product; throws naming the first bad element.
void verify(const ShapeData& d) {
  const LinearShape& s = d.shape;
  std::vector<float> y(static_cast<size_t>(s.m * s.n));
  d.y.download(y.data(), y.size() * 4);
  const float scale = 1.0f / std::sqrt(static_cast<float>(s.k));
  for (int i = 0; i < kCheckedOutputs; ++i) {
    const int64_t row = (i * 7919) % s.m;
    const int64_t col = i + 1 == kCheckedOutputs ? s.n - 1 : (static_cast<int64_t>(i) * 104729) % s.n;
    double ref = 0, mag = 0;
    for (int64_t kk = 0; kk < s.k; ++kk) {
      const double p = static_cast<double>(weight_value(col, kk, s.k, scale)) * d.x_host[static_cast<size_t>(row * s.k + kk)];
      ref += p;
      mag += std::fabs(p);
    }
    const float got = y[static_cast<size_t>(row * s.n + col)];
    if (!std::isfinite(got) || std::fabs(got - ref) > 1e-4 * mag + 1e-6)
      fail("wrong result at (", row, ", ", col, "): got ", got, ", expected ", ref, " (sum |terms| ", mag, ")");
  }
}

struct Candidate {
  int shape = 0;
  bool gemv = true;
  GemvParams p;
  int algorithm = 0;
};

}  // namespace

LinearTuneResult tune_linear_shapes(const std::vector<LinearShape>& shapes, const LinearTuneOptions& opt) {
  LinearTuneResult res;
  // Step 1 (parent, no CUDA): compile every GEMV candidate, in parallel, into the cubin cache, so the
  // children only load. cuBLASLt algorithm counts are only known on the device: children report them.
  std::vector<Candidate> cands;
  std::vector<int> blaslt_shapes;
  for (size_t si = 0; si < shapes.size(); ++si) {
    const LinearShape& s = shapes[si];
    if (s.gemv()) {
      for (const GemvParams& p : gemv_search_space(static_cast<int>(s.m), s.n, s.k)) cands.push_back({static_cast<int>(si), true, p, 0});
    } else {
      blaslt_shapes.push_back(static_cast<int>(si));
    }
  }
  // In a forked child: NVRTC has been seen to leave this process unable to hand CUDA to forked children
  // (cuInit in the child then fails with CUDA_ERROR_NOT_INITIALIZED), so the parent never runs it.
  if (pid_t pid = ::fork(); pid == 0) {
    std::vector<std::thread> pool;
    std::atomic<size_t> next{0};
    const unsigned nthreads = std::max(1u, std::min(16u, std::thread::hardware_concurrency()));
    for (unsigned t = 0; t < nthreads; ++t)
      pool.emplace_back([&] {
        for (size_t i = next++; i < cands.size(); i = next++) {
          try {
            bc::compile_cubin(gemv_bf16_source(static_cast<int>(shapes[cands[i].shape].m), cands[i].p), "sm_90a",
                              "gemv");
          } catch (const std::exception&) {
            // Reported by the trial itself, which compiles again (for its device's arch) and fails.
          }
        }
      });
    for (auto& t : pool) t.join();
    ::_exit(0);
  } else if (pid > 0) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
  }

  // Step 2: the fingerprint and the cuBLASLt algorithm counts, from one isolated child.
  const std::string info_path = (std::filesystem::temp_directory_path() / ("synaptix_cuda_info_" + std::to_string(::getpid()))).string();
  auto probe = [&]() {
    return std::function<std::vector<double>(int)>([&](int) {
      hw::cuda::DeviceProfile prof = hw::cuda::probe_device(opt.device);
      hw::cuda::Context ctx(opt.device);
      bc::BlasLtMatmul mm;
      std::vector<double> counts;
      for (int si : blaslt_shapes) counts.push_back(mm.algorithm_count(shapes[si].m, shapes[si].n, shapes[si].k, DType::F32));
      std::ofstream(info_path) << prof.fingerprint();
      return counts;
    });
  };
  auto info = bc::run_isolated_trials(1, probe, {60});
  if (!info[0].ok) {
    // Seen on some hosts: a forked child cannot initialise CUDA (cuInit: CUDA_ERROR_NOT_INITIALIZED) even
    // though this process never called cuInit. Then trials run in this process, without crash isolation,
    // and the result says so.
    res.isolation = "in-process (forked child could not use CUDA: " + info[0].error + ")";
    std::fprintf(stderr, "[cuda tuner] %s\n", res.isolation.c_str());
    info[0] = {};
    try {
      info[0].values = probe()(0);
      info[0].ok = true;
    } catch (const std::exception& e) {
      fail("CUDA tuner: probing device ", opt.device, " failed: ", e.what());
    }
  }
  {
    std::ifstream f(info_path);
    std::getline(f, res.device_fingerprint);
    std::filesystem::remove(info_path);
  }
  for (size_t i = 0; i < blaslt_shapes.size(); ++i)
    for (int a = 0; a < static_cast<int>(info[0].values[i]); ++a) cands.push_back({blaslt_shapes[i], false, {}, a});

  // Step 3: the trials, crash-isolated. The child keeps one shape's inputs at a time.
  bc::TrialSession session = [&]() {
    auto ctx = std::make_shared<hw::cuda::Context>(opt.device);
    auto mm = std::make_shared<bc::BlasLtMatmul>();
    auto data = std::make_shared<std::unique_ptr<ShapeData>>();
    return std::function<std::vector<double>(int)>([&, ctx, mm, data](int i) {
      const Candidate& c = cands[static_cast<size_t>(i)];
      const LinearShape& s = shapes[static_cast<size_t>(c.shape)];
      if (!*data || (*data)->shape.m != s.m || (*data)->shape.n != s.n || (*data)->shape.k != s.k) {
        data->reset();
        *data = make_shape_data(s);
      }
      ShapeData& d = **data;
      auto run = [&] {
        if (c.gemv) gemv_bf16(d.x.ptr(), d.w.ptr(), d.y.ptr(), static_cast<int>(s.m), s.n, s.k, false, c.p, nullptr);
        else mm->run(d.xb.ptr(), d.w.ptr(), d.y.ptr(), DType::F32, s.m, s.n, s.k, nullptr, c.algorithm);
      };
      d.y.fill_bytes(0xFF);  // NaN: an unwritten output fails verification
      run();
      hw::cuda::check(cuCtxSynchronize(), "candidate run");
      verify(d);
      bc::TimingOptions to;
      to.repeats = opt.repeats;
      bc::TimingStats t = bc::time_on_stream(nullptr, run, to);
      return std::vector<double>{t.median_ms * 1e3, t.p10_ms * 1e3, t.p90_ms * 1e3};
    });
  };
  bc::TrialRunnerOptions ro;
  ro.trial_timeout_s = opt.trial_timeout_s;
  std::vector<bc::TrialResult> results;
  if (res.isolation.empty()) {
    results = bc::run_isolated_trials(static_cast<int>(cands.size()), session, ro);
  } else {
    auto job = session();
    for (size_t i = 0; i < cands.size(); ++i) {
      bc::TrialResult r;
      try {
        r.values = job(static_cast<int>(i));
        r.ok = true;
      } catch (const std::exception& e) {
        r.error = e.what();
      }
      results.push_back(std::move(r));
    }
  }

  res.best.assign(shapes.size(), -1);
  res.baseline.assign(shapes.size(), -1);
  for (size_t i = 0; i < cands.size(); ++i) {
    const Candidate& c = cands[i];
    const LinearShape& s = shapes[static_cast<size_t>(c.shape)];
    LinearTrial t;
    t.shape = s;
    t.generator = c.gemv ? "cuda_gemv_bf16" : "cublaslt_bf16";
    t.gemv = c.p;
    t.algorithm = c.algorithm;
    t.ok = results[i].ok;
    t.message = results[i].error;
    if (t.ok && results[i].values.size() == 3) {
      t.median_us = results[i].values[0];
      t.p10_us = results[i].values[1];
      t.p90_us = results[i].values[2];
    }
    t.is_default = c.gemv ? c.p == gemv_default_params(static_cast<int>(s.m), s.n, s.k) : c.algorithm == 0;
    res.trials.push_back(t);
    const int idx = static_cast<int>(res.trials.size()) - 1;
    int& best = res.best[static_cast<size_t>(c.shape)];
    if (t.ok && (best < 0 || t.median_us < res.trials[static_cast<size_t>(best)].median_us)) best = idx;
    if (t.is_default) res.baseline[static_cast<size_t>(c.shape)] = idx;
  }
  return res;
}

}  // namespace synaptix::tune::cuda
