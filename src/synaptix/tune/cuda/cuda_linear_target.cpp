#include "synaptix/tune/cuda/cuda_linear_target.h"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>
#include <thread>

#include "synaptix/backend/cuda/ceilings.h"
#include "synaptix/backend/cuda/cublaslt_matmul.h"
#include "synaptix/backend/cuda/device_buffer.h"
#include "synaptix/backend/cuda/event_timer.h"
#include "synaptix/backend/cuda/launch/gemv_bf16.h"
#include "synaptix/backend/cuda/nvrtc_compiler.h"
#include "synaptix/backend/cuda/trial_runner.h"
#include "synaptix/core/error.h"
#include "synaptix/core/hash.h"
#include "synaptix/hw/cuda/device_profile.h"
#include "synaptix/hw/cuda/driver.h"
#include "synaptix/kernels/linear/reference.h"
#include "synaptix/tune/subjects.h"

namespace synaptix::tune::cuda {

namespace bc = backend::cuda;
namespace kc = kernels::cuda;

namespace {

constexpr const char* kGemv = "cuda_gemv_bf16";
constexpr const char* kBlasLt = "cublaslt_bf16";
constexpr int kCheckedRows = 8;  // rows of a tensor-core shape compared in full with the reference

nlohmann::json gemv_json(const kc::GemvParams& p) {
  return {{"warps", p.warps}, {"kslices", p.kslices}, {"rows_per_warp", p.rows_per_warp}, {"unroll", p.unroll},
          {"full_occupancy", p.full_occupancy}, {"persistent", p.persistent}, {"prefetch_kb", p.prefetch_kb},
          {"stages", p.stages}, {"chunk_bytes", p.chunk_bytes}};
}

kc::GemvParams gemv_of(const nlohmann::json& j) {
  kc::GemvParams p;
  p.warps = j.value("warps", p.warps);
  p.kslices = j.value("kslices", p.kslices);
  p.rows_per_warp = j.value("rows_per_warp", p.rows_per_warp);
  p.unroll = j.value("unroll", p.unroll);
  p.full_occupancy = j.value("full_occupancy", p.full_occupancy);
  p.persistent = j.value("persistent", p.persistent);
  p.prefetch_kb = j.value("prefetch_kb", p.prefetch_kb);
  p.stages = j.value("stages", p.stages);
  p.chunk_bytes = j.value("chunk_bytes", p.chunk_bytes);
  return p;
}

bool gemv_shape(const graph::Op& op) { return op.m <= 8; }

TrialStatus status_of(const std::string& m) {
  if (m.find("timed out") != std::string::npos) return TrialStatus::Timeout;
  if (m.find("wrong result") != std::string::npos || m.find("output left unwritten") != std::string::npos)
    return TrialStatus::WrongResult;
  if (m.find("NVRTC") != std::string::npos || m.find("nvrtc") != std::string::npos) return TrialStatus::CompileError;
  return TrialStatus::Crash;
}

}  // namespace

std::string cuda_target_hash(const std::string& fingerprint) { return sha256_hex(fingerprint).substr(0, 16); }

graph::Op cuda_linear_op(const LinearShape& s) {
  graph::Op op;
  op.name = "linear";
  op.kind = graph::OpKind::Linear;
  op.m_lo = op.m = s.m;
  op.n = s.n;
  op.k = s.k;
  op.w_dtype = DType::BF16;
  return op;
}

std::string cuda_point_path(const Point& p) { return nlohmann::json{{"generator", p.generator}, {"params", p.params}}.dump(); }

Point cuda_point_of_path(const std::string& path) {
  const auto j = nlohmann::json::parse(path);
  return {j.at("generator").get<std::string>(), j.at("params")};
}

CudaDeviceFacts probe_cuda_device(int device, const std::vector<LinearShape>& shapes, bool measure_ceilings) {
  CudaDeviceFacts f;
  f.device = device;
  std::vector<LinearShape> tc;
  for (const auto& s : shapes)
    if (!s.gemv()) tc.push_back(s);
  const std::string info_path =
      (std::filesystem::temp_directory_path() / ("synaptix_cuda_probe_" + std::to_string(::getpid()))).string();
  // Values: the ceilings (GB/s, TFLOP/s), then the algorithm count of each tensor-core shape. Text facts go
  // through a file.
  auto probe = [&]() {
    return std::function<std::vector<double>(int)>([&](int) {
      const hw::cuda::DeviceProfile prof = hw::cuda::probe_device(device);
      hw::cuda::Context ctx(device);
      std::vector<double> v{0, 0};
      if (measure_ceilings) {
        v[0] = bc::measure_hbm_read_bandwidth().gbps;
        v[1] = bc::measure_bf16_gemm_peak().tflops;
      }
      bc::BlasLtMatmul mm;
      for (const auto& s : tc) v.push_back(mm.algorithm_count(s.m, s.n, s.k, DType::F32));
      std::ofstream(info_path) << prof.fingerprint() << "\n" << prof.arch << "\n";
      return v;
    });
  };
  auto info = bc::run_isolated_trials(1, probe, {120});
  if (!info[0].ok) {
    // Seen on some hosts: a forked child cannot initialise CUDA even though this process never called cuInit.
    f.isolation = "in-process (forked child could not use CUDA: " + info[0].error + ")";
    std::fprintf(stderr, "[cuda tuner] %s\n", f.isolation.c_str());
    info[0] = {};
    try {
      info[0].values = probe()(0);
      info[0].ok = true;
    } catch (const std::exception& e) {
      fail("CUDA tuner: probing device ", device, " failed: ", e.what());
    }
  }
  {
    std::ifstream in(info_path);
    std::getline(in, f.fingerprint);
    std::getline(in, f.arch);
    std::filesystem::remove(info_path);
  }
  if (f.fingerprint.empty()) fail("CUDA tuner: device ", device, " reported no fingerprint");
  if (f.arch.empty()) f.arch = "sm_90a";
  const auto& v = info[0].values;
  f.ceilings.mem_gbps = v.at(0);
  f.ceilings.flop_gflops = v.at(1) * 1e3;
  // L2 is flushed before every repeat, so every timing is cold; the margins cover the drift between the
  // ceilings' measurement and a trial's (clocks, temperature).
  f.ceilings.bandwidth_slack = 1.1;
  f.ceilings.flop_slack = 1.1;
  for (size_t i = 0; i < tc.size(); ++i) f.blaslt_algorithms[{tc[i].m, tc[i].n, tc[i].k}] = static_cast<int>(v.at(2 + i));
  return f;
}

CudaLinearTarget::CudaLinearTarget(CudaDeviceFacts facts)
    : facts_(std::move(facts)),
      gemv_(kc::GemvPointForm{gemv_json, gemv_of}),
      blaslt_(facts_.blaslt_algorithms),
      generators_{&gemv_, &blaslt_} {}
CudaLinearTarget::~CudaLinearTarget() = default;

std::string CudaLinearTarget::target_hash() const { return cuda_target_hash(facts_.fingerprint); }

double CudaLinearTarget::op_cost_us(const graph::Op& op) const {
  const double gbps = facts_.ceilings.mem_gbps > 0 ? facts_.ceilings.mem_gbps : 2000.0;
  const double gflops = facts_.ceilings.flop_gflops > 0 ? facts_.ceilings.flop_gflops : 500e3;
  const double us = std::max(op.min_bytes() / (gbps * 1e3), op.flops() / (gflops * 1e3));
  return us * static_cast<double>(std::max<int64_t>(1, op.count));
}

backend::ModuleSource CudaLinearTarget::emit(const graph::Op& op, const Point& p) const {
  // A GEMV point's source is the generated kernel; a cuBLASLt algorithm has none of ours, so its "source" is
  // the point itself. The first line carries the point for the runner (build_all passes it on).
  return {cuda_point_path(p) + "\n" + generator(p.generator).emit(op, p.params).code, {}};
}

std::vector<backend::BuiltModule> CudaLinearTarget::build_all(const std::vector<backend::ModuleSource>& sources,
                                                              int jobs) const {
  std::vector<backend::BuiltModule> out(sources.size());
  std::vector<size_t> to_compile;
  for (size_t i = 0; i < sources.size(); ++i) {
    const std::string& code = sources[i].code;
    const size_t nl = code.find('\n');
    out[i].path = code.substr(0, nl);
    out[i].key = sha256_hex(code);
    out[i].ok = true;
    if (nl != std::string::npos && nl + 1 < code.size()) to_compile.push_back(i);
  }
  if (to_compile.empty()) return out;
  // NVRTC in a forked child (see the header), in parallel, into the cubin cache; failures come back by file.
  const std::string errs =
      (std::filesystem::temp_directory_path() / ("synaptix_nvrtc_" + std::to_string(::getpid()))).string();
  int status = 0;
  if (pid_t pid = ::fork(); pid == 0) {
    std::vector<std::string> failed(to_compile.size());
    std::atomic<size_t> next{0};
    std::vector<std::thread> pool;
    const unsigned n = static_cast<unsigned>(std::clamp(jobs, 1, 64));
    for (unsigned t = 0; t < n; ++t)
      pool.emplace_back([&] {
        for (size_t j = next++; j < to_compile.size(); j = next++) {
          const std::string& code = sources[to_compile[j]].code;
          try {
            bc::compile_cubin(code.substr(code.find('\n') + 1), facts_.arch, "gemv");
          } catch (const std::exception& e) {
            failed[j] = e.what();
          }
        }
      });
    for (auto& t : pool) t.join();
    {
      std::ofstream f(errs);
      for (size_t j = 0; j < failed.size(); ++j)
        if (!failed[j].empty()) f << j << "\n" << nlohmann::json(failed[j]).dump() << "\n";
      // Closed here: _exit runs no destructors, and an unflushed stream left the report empty (every
      // failed build read back as built).
      f.close();
      if (!f) ::_exit(3);
    }
    std::fflush(nullptr);
    ::_exit(0);
  } else if (pid > 0) {
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
  } else {
    fail("CUDA tuner: fork for NVRTC failed");
  }
  // The child writes the file even when everything compiled: no file, or a child that did not exit
  // normally, means no source is known to have compiled (never report a build it did not finish as ok).
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || !std::filesystem::exists(errs)) {
    const std::string why = WIFSIGNALED(status) ? "killed by signal " + std::to_string(WTERMSIG(status))
                                                : "exited without its report (status " + std::to_string(status) + ")";
    for (size_t i : to_compile) out[i].ok = false, out[i].error = "NVRTC: the compiling child was " + why;
    std::filesystem::remove(errs);
    return out;
  }
  std::ifstream f(errs);
  std::string idx, msg;
  while (std::getline(f, idx) && std::getline(f, msg)) {
    auto& b = out[to_compile.at(std::stoul(idx))];
    b.ok = false;
    b.error = "NVRTC: " + nlohmann::json::parse(msg).get<std::string>();
  }
  std::filesystem::remove(errs);
  return out;
}

std::string check_linear_output(const CudaLinearTarget::ShapeInputs& in, const std::vector<float>& got,
                                const std::string& when) {
  const graph::Op& op = in.op;
  std::ostringstream os;
  if (got.size() != static_cast<size_t>(op.m * op.n)) {
    os << "wrong result " << when << ": " << got.size() << " outputs, expected " << op.m * op.n;
    return os.str();
  }
  for (size_t i = 0; i < got.size(); ++i)
    if (std::isnan(got[i])) {
      os << "wrong result " << when << ": output left unwritten (NaN poison survived) at y["
         << static_cast<int64_t>(i) / op.n << ", " << static_cast<int64_t>(i) % op.n << "]";
      return os.str();
    }
  for (size_t r = 0; r < in.rows.size(); ++r)
    for (int64_t j = 0; j < op.n; ++j) {
      const float g = got[static_cast<size_t>(in.rows[r] * op.n + j)];
      const double want = in.want[r * static_cast<size_t>(op.n) + static_cast<size_t>(j)];
      const double mag = in.magnitude[r * static_cast<size_t>(op.n) + static_cast<size_t>(j)];
      if (!std::isfinite(g) || std::fabs(g - want) > 1e-4 * mag + 1e-6) {
        os << "wrong result " << when << " at y[" << in.rows[r] << ", " << j << "]: got " << g << ", reference "
           << want << " (sum |x w| " << mag << ", k " << op.k << ")";
        return os.str();
      }
    }
  return "";
}

const CudaLinearTarget::ShapeInputs& CudaLinearTarget::inputs(const graph::Op& op, uint64_t seed) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto& slot = inputs_[op.signature()];
  if (slot) return *slot;
  auto d = std::make_unique<ShapeInputs>();
  d->op = op;
  std::mt19937_64 rng(seed);
  const float scale = 1.0f / std::sqrt(static_cast<float>(op.k));
  d->w = random_weights(DType::BF16, op.n * op.k, rng);
  {
    auto* w16 = reinterpret_cast<uint16_t*>(d->w.data());
    for (int64_t i = 0; i < op.n * op.k; ++i) w16[i] = f32_to_bf16(bf16_to_f32(w16[i]) * scale);
  }
  d->x = random_floats(op.m * op.k, rng);
  if (!gemv_shape(op)) {
    d->x_bf16.resize(d->x.size());
    for (size_t i = 0; i < d->x.size(); ++i) d->x_bf16[i] = f32_to_bf16(d->x[i]), d->x[i] = bf16_to_f32(d->x_bf16[i]);
  }
  if (gemv_shape(op) || op.m <= kCheckedRows) {
    for (int64_t r = 0; r < op.m; ++r) d->rows.push_back(r);
  } else {
    std::set<int64_t> rows{0, op.m / 2, op.m - 1};
    while (static_cast<int>(rows.size()) < kCheckedRows) rows.insert(static_cast<int64_t>(rng() % static_cast<uint64_t>(op.m)));
    d->rows.assign(rows.begin(), rows.end());
  }
  // The checked rows of x, and |x| and |W| for the tolerance's magnitude.
  const int64_t r = static_cast<int64_t>(d->rows.size());
  std::vector<float> xs(static_cast<size_t>(r * op.k)), xa(xs.size());
  for (int64_t i = 0; i < r; ++i)
    for (int64_t t = 0; t < op.k; ++t) {
      xs[static_cast<size_t>(i * op.k + t)] = d->x[static_cast<size_t>(d->rows[static_cast<size_t>(i)] * op.k + t)];
      xa[static_cast<size_t>(i * op.k + t)] = std::fabs(xs[static_cast<size_t>(i * op.k + t)]);
    }
  std::vector<uint8_t> wa(d->w);
  for (size_t i = 0; i < wa.size(); i += 2) wa[i + 1] &= 0x7F;  // clear the bf16 sign bit (little endian)
  // The reference, over column slices on every core: the definition of the op, once per shape.
  std::vector<float> want(static_cast<size_t>(r * op.n)), mag(want.size());
  const int64_t threads = std::max<int64_t>(1, std::thread::hardware_concurrency());
  const int64_t slice = (op.n + threads - 1) / threads;
  std::vector<std::thread> pool;
  for (int64_t j0 = 0; j0 < op.n; j0 += slice)
    pool.emplace_back([&, j0] {
      const int64_t len = std::min(slice, op.n - j0);
      std::vector<float> a(static_cast<size_t>(r * len)), b(a.size());
      kernels::linear_reference({xs.data(), d->w.data() + static_cast<size_t>(j0 * op.k) * 2, DType::BF16, nullptr,
                                 a.data(), r, len, op.k});
      kernels::linear_reference({xa.data(), wa.data() + static_cast<size_t>(j0 * op.k) * 2, DType::BF16, nullptr,
                                 b.data(), r, len, op.k});
      for (int64_t i = 0; i < r; ++i)
        for (int64_t j = 0; j < len; ++j) {
          want[static_cast<size_t>(i * op.n + j0 + j)] = a[static_cast<size_t>(i * len + j)];
          mag[static_cast<size_t>(i * op.n + j0 + j)] = b[static_cast<size_t>(i * len + j)];
        }
    });
  for (auto& t : pool) t.join();
  d->want = std::move(want);
  d->magnitude = std::move(mag);
  slot = std::move(d);
  return *slot;
}

namespace {

// One candidate on the device: its inputs uploaded, its output poisoned, run, checked.
struct DeviceCandidate {
  const CudaLinearTarget::ShapeInputs* in = nullptr;
  Point point;
  bc::DeviceBuffer w, x, y;
  bc::BlasLtMatmul* mm = nullptr;

  void enqueue() {
    const graph::Op& op = in->op;
    if (point.generator == kGemv)
      kc::gemv_bf16(x.ptr(), w.ptr(), y.ptr(), static_cast<int>(op.m), op.n, op.k, false, gemv_of(point.params), nullptr);
    else
      mm->run(x.ptr(), w.ptr(), y.ptr(), DType::F32, op.m, op.n, op.k, nullptr, point.params.value("algorithm", 0));
  }

  // The device's output checked on the host (check_linear_output); throws its message.
  void check(const std::string& when) const {
    std::vector<float> got(static_cast<size_t>(in->op.m * in->op.n));
    y.download(got.data(), got.size() * 4);
    const std::string bad = check_linear_output(*in, got, when);
    if (!bad.empty()) throw Error(bad);
  }
};

std::unique_ptr<DeviceCandidate> upload(const CudaLinearTarget::ShapeInputs& in, const Point& p, bc::BlasLtMatmul* mm) {
  auto c = std::make_unique<DeviceCandidate>();
  c->in = &in;
  c->point = p;
  c->mm = mm;
  c->w = bc::DeviceBuffer(in.w.size());
  c->w.upload(in.w.data(), in.w.size());
  if (p.generator == kGemv) {
    c->x = bc::DeviceBuffer(in.x.size() * 4);
    c->x.upload(in.x.data(), in.x.size() * 4);
  } else {
    c->x = bc::DeviceBuffer(in.x_bf16.size() * 2);
    c->x.upload(in.x_bf16.data(), in.x_bf16.size() * 2);
  }
  c->y = bc::DeviceBuffer(static_cast<size_t>(in.op.m * in.op.n) * 4);
  return c;
}

void verify_fresh(DeviceCandidate& c) {
  c.y.fill_bytes(0xFF);  // NaN: an unwritten output fails
  c.enqueue();
  hw::cuda::check(cuCtxSynchronize(), "candidate run");
  c.check("when verified");
}

int repeats_of(const MeasureOptions& m) { return std::clamp(2 * m.min_samples, 10, 50); }

Point point_or_default(const graph::Op& op, const std::string& path) {
  if (!path.empty()) return cuda_point_of_path(path);
  if (op.m <= 8) return {kGemv, gemv_json(kc::gemv_default_params(static_cast<int>(op.m), op.n, op.k))};
  return {kBlasLt, {{"algorithm", 0}}};
}

// What an isolated child holds for its trials: the context, cuBLASLt, and one shape's inputs on the device
// (declared in this order so that the buffers go before the context).
struct ChildState {
  explicit ChildState(int device) : ctx(device) {}
  hw::cuda::Context ctx;
  bc::BlasLtMatmul mm;
  std::unique_ptr<DeviceCandidate> cand;
};

// Runs trials 0..count-1 of `job` in isolated children: one child for all of them, a fresh one after a
// failure (backend/cuda/trial_runner.h); in this process when children cannot use CUDA.
std::vector<bc::TrialResult> isolated(const std::string& isolation, double limit_s, int count, int device,
                                      const std::function<std::vector<double>(ChildState&, int)>& job) {
  bc::TrialSession session = [&]() {
    auto state = std::make_shared<ChildState>(device);
    return std::function<std::vector<double>(int)>([state, &job](int i) { return job(*state, i); });
  };
  if (isolation.empty()) return bc::run_isolated_trials(count, session, {limit_s});
  std::vector<bc::TrialResult> out(static_cast<size_t>(count));
  std::function<std::vector<double>(int)> run;
  for (int i = 0; i < count; ++i) {
    try {
      if (!run) run = session();
      out[static_cast<size_t>(i)].values = run(i);
      out[static_cast<size_t>(i)].ok = true;
    } catch (const std::exception& e) {
      out[static_cast<size_t>(i)].error = e.what();
      run = nullptr;  // as a fresh child would: a new context for the next trial
    }
  }
  return out;
}

// One trial on the child's device inputs (uploaded on the first trial of the child): verified with its
// output poisoned, timed with L2 flushed before every repeat, then its last timed output checked again.
std::vector<double> timed_trial(ChildState& st, const CudaLinearTarget::ShapeInputs& in, const Point& p,
                                const MeasureOptions& mopt) {
  if (!st.cand) st.cand = upload(in, p, &st.mm);
  DeviceCandidate& c = *st.cand;
  c.point = p;
  verify_fresh(c);
  bc::TimingOptions to;
  to.repeats = repeats_of(mopt);
  const bc::TimingStats t = bc::time_on_stream(nullptr, [&] { c.enqueue(); }, to);
  hw::cuda::check(cuCtxSynchronize(), "timed runs");
  c.check("after the timed runs");  // y holds the last timed run's output, same inputs
  return {t.median_ms * 1e3, t.p10_ms * 1e3, t.p90_ms * 1e3, static_cast<double>(t.repeats)};
}

}  // namespace

TrialOutcome CudaLinearTarget::run(const graph::Op& op, const std::string& module_path, const MeasureOptions& mopt,
                                   const RunLimits& lim, uint64_t seed) const {
  return run_batch(op, {module_path}, mopt, lim, {seed}).at(0);
}

std::vector<TrialOutcome> CudaLinearTarget::run_batch(const graph::Op& op, const std::vector<std::string>& module_paths,
                                                      const MeasureOptions& mopt, const RunLimits& lim,
                                                      const std::vector<uint64_t>& seeds) const {
  std::vector<TrialOutcome> out(module_paths.size());
  if (module_paths.empty()) return out;
  const ShapeInputs& in = inputs(op, seeds.at(0));
  std::vector<Point> points;
  for (const auto& path : module_paths) points.push_back(point_or_default(op, path));
  const auto results = isolated(facts_.isolation, lim.time_limit_s, static_cast<int>(points.size()), facts_.device,
                                [&](ChildState& st, int i) { return timed_trial(st, in, points[static_cast<size_t>(i)], mopt); });
  for (size_t i = 0; i < out.size(); ++i) {
    const bc::TrialResult& r = results[i];
    TrialOutcome& o = out[i];
    if (!r.ok || r.values.size() != 4) {
      o.status = r.ok ? TrialStatus::Crash : status_of(r.error);
      o.message = r.ok ? "trial returned no timing" : r.error;
      continue;
    }
    o.status = TrialStatus::Ok;
    o.timing.median_us = r.values[0];
    o.timing.p10_us = r.values[1];
    o.timing.p90_us = r.values[2];
    o.timing.samples = static_cast<int>(r.values[3]);
    o.timing.cold = true;  // L2 flushed before every repeat
  }
  return out;
}

std::vector<TrialOutcome> CudaLinearTarget::run_interleaved(const graph::Op& op,
                                                            const std::vector<std::string>& module_paths,
                                                            const MeasureOptions& mopt, const RunLimits& lim,
                                                            uint64_t seed) const {
  const ShapeInputs& in = inputs(op, seed);
  std::vector<Point> points;
  for (const auto& path : module_paths) points.push_back(point_or_default(op, path));
  const size_t n = points.size();
  std::vector<TrialOutcome> out(n);
  // Verification first, one isolated run per candidate, so that one wrong candidate keeps its message and
  // does not take the others' timings with it.
  std::vector<size_t> good;
  const auto checks = isolated(facts_.isolation, lim.time_limit_s / static_cast<double>(n), static_cast<int>(n),
                               facts_.device, [&](ChildState& st, int i) {
                                 if (!st.cand) st.cand = upload(in, points[static_cast<size_t>(i)], &st.mm);
                                 st.cand->point = points[static_cast<size_t>(i)];
                                 verify_fresh(*st.cand);
                                 return std::vector<double>{1};
                               });
  for (size_t i = 0; i < n; ++i) {
    if (checks[i].ok) {
      good.push_back(i);
    } else {
      out[i].status = status_of(checks[i].error);
      out[i].message = checks[i].error;
    }
  }
  if (good.empty()) return out;
  // Then the verified ones timed round-robin (A B C A B C ...), each round a few cold repeats per candidate,
  // and every output checked again after the timed runs. Per candidate: median, p10, p90, samples, and 1
  // when its output was still right after the timed runs.
  constexpr int kRounds = 5;
  const auto timed = isolated(facts_.isolation, lim.time_limit_s, 1, facts_.device, [&](ChildState& st, int) {
    std::vector<std::unique_ptr<DeviceCandidate>> cands;
    for (size_t i : good) cands.push_back(upload(in, points[i], &st.mm));
    for (auto& c : cands) verify_fresh(*c);
    std::vector<std::vector<double>> medians(cands.size());
    bc::TimingOptions to;
    to.repeats = std::max(3, repeats_of(mopt) / kRounds);
    for (int round = 0; round < kRounds; ++round)
      for (size_t i = 0; i < cands.size(); ++i)
        medians[i].push_back(bc::time_on_stream(nullptr, [&] { cands[i]->enqueue(); }, to).median_ms * 1e3);
    hw::cuda::check(cuCtxSynchronize(), "timed runs");
    std::vector<double> v;
    for (size_t i = 0; i < cands.size(); ++i) {
      const Timing t = summarize(medians[i]);
      bool right = true;
      try {
        cands[i]->check("after the timed runs");
      } catch (const Error&) {
        right = false;
      }
      v.insert(v.end(), {t.median_us, t.p10_us, t.p90_us, static_cast<double>(kRounds * to.repeats), right ? 1.0 : 0.0});
    }
    return v;
  });
  const bc::TrialResult& r = timed.at(0);
  for (size_t g = 0; g < good.size(); ++g) {
    TrialOutcome& o = out[good[g]];
    if (!r.ok || r.values.size() != 5 * good.size()) {
      o.status = r.ok ? TrialStatus::Crash : status_of(r.error);
      o.message = r.ok ? "interleaved timing returned no values" : r.error;
      continue;
    }
    const double* v = &r.values[5 * g];
    o.timing.median_us = v[0];
    o.timing.p10_us = v[1];
    o.timing.p90_us = v[2];
    o.timing.samples = static_cast<int>(v[3]);
    o.timing.cold = true;
    if (v[4] == 0.0) {
      o.timing.wrong_after = "output differs from the reference after the interleaved timed runs";
      o.status = TrialStatus::WrongResult;
      o.message = "after the timed runs: " + o.timing.wrong_after;
    } else {
      o.status = TrialStatus::Ok;
    }
  }
  return out;
}

}  // namespace synaptix::tune::cuda
