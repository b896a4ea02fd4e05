#include "synaptix/tune/linear_measurer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <optional>
#include <random>
#include <sstream>

#include "synaptix/backend/pool_runtime.h"
#include "synaptix/core/error.h"
#include "synaptix/kernels/linear/reference.h"
#include "synaptix/tune/linear_kernel.h"

namespace synaptix::tune {
namespace {

using Clock = std::chrono::steady_clock;

void fill_weights(std::vector<uint8_t>& w, DType t, int64_t count, std::mt19937_64& rng) {
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  w.resize(static_cast<size_t>(count) * dtype_size(t));
  for (int64_t i = 0; i < count; ++i) {
    float v = d(rng);
    if (t == DType::BF16) reinterpret_cast<uint16_t*>(w.data())[i] = f32_to_bf16(v);
    else if (t == DType::F16) reinterpret_cast<uint16_t*>(w.data())[i] = f32_to_f16(v);
    else reinterpret_cast<float*>(w.data())[i] = v;
  }
}

float weight_value(const std::vector<uint8_t>& w, DType t, int64_t i) {
  if (t == DType::BF16) return bf16_to_f32(reinterpret_cast<const uint16_t*>(w.data())[i]);
  if (t == DType::F16) return f16_to_f32(reinterpret_cast<const uint16_t*>(w.data())[i]);
  return reinterpret_cast<const float*>(w.data())[i];
}

// One implementation, ready to call: its module (if any) and a way to make its weight operand from W.
class Runner {
 public:
  Runner(const LinearImpl& impl, ThreadPool& pool) : rt_(backend::pool_runtime(pool)) {
    if (!impl.module_path.empty()) kernel_.emplace(impl.module_path);
  }
  int64_t operand_bytes(const graph::Op& op) const {
    if (kernel_ && kernel_->packed_bytes() > 0) return kernel_->packed_bytes();
    return op.n * op.k * static_cast<int64_t>(dtype_size(op.w_dtype));
  }
  // The weight operand this implementation reads, made from raw W.
  std::vector<uint8_t> operand(const std::vector<uint8_t>& w) const {
    if (!kernel_ || kernel_->packed_bytes() == 0) return w;
    std::vector<uint8_t> p(static_cast<size_t>(kernel_->packed_bytes()));
    kernel_->pack(w.data(), p.data());
    return p;
  }
  void run(const graph::Op& op, const float* x, const void* w, const float* bias, float* y, int64_t m) const {
    if (kernel_) {
      kernel_->run(&rt_, x, w, bias, y, m);
    } else {
      kernels::LinearArgs a{x, w, op.w_dtype, bias, y, m, op.n, op.k};
      kernels::linear_default(a);
    }
  }

 private:
  synaptix_runtime rt_;
  std::optional<LinearKernel> kernel_;
};

// Copies of (x, W operand, y) cycled through while timing, so that their total exceeds the LLC.
struct Rotation {
  std::vector<std::vector<float>> x, y;
  std::vector<std::vector<uint8_t>> w;
  std::vector<float> bias;
};

int rotation_copies(const graph::Op& op, int64_t operand_bytes, const MeasureOptions& opt) {
  const int64_t per = operand_bytes + op.m * (op.k + op.n) * 4;
  const int64_t want = static_cast<int64_t>(opt.rotate_factor * static_cast<double>(opt.llc_bytes));
  int64_t c = (want + per - 1) / per;
  c = std::min<int64_t>(c, std::max<int64_t>(1, opt.max_rotation_bytes / per));
  return static_cast<int>(std::clamp<int64_t>(c, 1, 64));
}

Rotation make_rotation(const graph::Op& op, const Runner& r, int copies, std::mt19937_64& rng) {
  Rotation rot;
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  std::vector<uint8_t> w;
  fill_weights(w, op.w_dtype, op.n * op.k, rng);
  for (int c = 0; c < copies; ++c) {
    rot.w.push_back(r.operand(w));
    rot.x.emplace_back(static_cast<size_t>(op.m * op.k));
    for (auto& v : rot.x.back()) v = d(rng);
    rot.y.emplace_back(static_cast<size_t>(op.m * op.n));
  }
  if (op.bias) {
    rot.bias.resize(static_cast<size_t>(op.n));
    for (auto& v : rot.bias) v = d(rng);
  }
  return rot;
}

}  // namespace

bool linear_close(float got, double want, double abs_sum, int64_t k) {
  if (!std::isfinite(got)) return false;
  const double tol = 4.0 * std::numeric_limits<float>::epsilon() * std::sqrt(static_cast<double>(k)) * abs_sum + 1e-30;
  return std::fabs(static_cast<double>(got) - want) <= tol;
}

std::string verify_linear(const graph::Op& op, const LinearImpl& impl, ThreadPool& pool, uint64_t seed) {
  Runner r(impl, pool);
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  std::vector<uint8_t> w;
  fill_weights(w, op.w_dtype, op.n * op.k, rng);
  const std::vector<uint8_t> operand = r.operand(w);
  std::vector<float> bias;
  if (op.bias) {
    bias.resize(static_cast<size_t>(op.n));
    for (auto& v : bias) v = d(rng);
  }
  std::vector<int64_t> ms{op.m};
  if (op.m_lo > 0 && op.m_lo != op.m) ms.push_back(op.m_lo);
  const size_t esize = dtype_size(op.w_dtype);
  for (int64_t m : ms) {
    std::vector<float> x(static_cast<size_t>(m * op.k));
    for (auto& v : x) v = d(rng);
    std::vector<float> got(static_cast<size_t>(m * op.n), std::numeric_limits<float>::quiet_NaN());
    r.run(op, x.data(), operand.data(), op.bias ? bias.data() : nullptr, got.data(), m);
    // Every output is checked for poison; the reference (single-threaded) is computed on every row of W for
    // ops up to 2^27 multiply-adds, else on blocks of rows: the first, a random one and the last (tails).
    for (float v : got)
      if (std::isnan(v)) return "output left unwritten (NaN poison survived) at m=" + std::to_string(m);
    std::vector<std::pair<int64_t, int64_t>> blocks{{0, op.n}};
    if (m * op.n * op.k > (int64_t{1} << 27) && op.n > 96) {
      const int64_t b = 32, mid = static_cast<int64_t>(rng() % static_cast<uint64_t>(op.n - 2 * b)) + b;
      blocks = {{0, b}, {mid - mid % 8, b}, {op.n - b, b}};
    }
    for (auto [j0, len] : blocks) {
      std::vector<float> want(static_cast<size_t>(m * len));
      kernels::LinearArgs a{x.data(), w.data() + static_cast<size_t>(j0 * op.k) * esize, op.w_dtype,
                            op.bias ? bias.data() + j0 : nullptr, want.data(), m, len, op.k};
      kernels::linear_reference(a);
      for (int64_t i = 0; i < m; ++i)
        for (int64_t jj = 0; jj < len; ++jj) {
          const int64_t j = j0 + jj;
          double abs_sum = op.bias ? std::fabs(bias[static_cast<size_t>(j)]) : 0.0;
          for (int64_t t = 0; t < op.k; ++t)
            abs_sum += std::fabs(x[static_cast<size_t>(i * op.k + t)] * weight_value(w, op.w_dtype, j * op.k + t));
          const float g = got[static_cast<size_t>(i * op.n + j)], e = want[static_cast<size_t>(i * len + jj)];
          if (!linear_close(g, e, abs_sum, op.k)) {
            std::ostringstream os;
            os << "wrong result at m=" << m << ": y[" << i << ", " << j << "] = " << g << ", reference " << e
               << " (sum |x w| = " << abs_sum << ", k = " << op.k << ")";
            return os.str();
          }
        }
    }
  }
  return "";
}

Timing summarize(std::vector<double> s) {
  Timing t;
  t.samples = static_cast<int>(s.size());
  if (s.empty()) return t;
  std::sort(s.begin(), s.end());
  auto q = [&](double f) { return s[static_cast<size_t>(f * static_cast<double>(s.size() - 1) + 0.5)]; };
  t.median_us = q(0.5);
  t.p10_us = q(0.1);
  t.p90_us = q(0.9);
  return t;
}

Timing time_linear(const graph::Op& op, const LinearImpl& impl, ThreadPool& pool, const MeasureOptions& opt,
                   uint64_t seed) {
  return time_linear_interleaved(op, {impl}, pool, opt, seed).at(0);
}

std::vector<Timing> time_linear_interleaved(const graph::Op& op, const std::vector<LinearImpl>& impls,
                                            ThreadPool& pool, const MeasureOptions& opt, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::unique_ptr<Runner>> runners;
  std::vector<Rotation> rots;
  for (const auto& impl : impls) {
    runners.push_back(std::make_unique<Runner>(impl, pool));
    MeasureOptions o = opt;
    o.max_rotation_bytes = opt.max_rotation_bytes / static_cast<int64_t>(impls.size());
    rots.push_back(make_rotation(op, *runners.back(), rotation_copies(op, runners.back()->operand_bytes(op), o), rng));
  }
  const size_t n = impls.size();
  std::vector<size_t> at(n, 0);
  auto call = [&](size_t i) -> double {
    Rotation& r = rots[i];
    const size_t c = at[i]++ % r.w.size();
    auto t0 = Clock::now();
    runners[i]->run(op, r.x[c].data(), r.w[c].data(), r.bias.empty() ? nullptr : r.bias.data(), r.y[c].data(), op.m);
    return std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
  };
  // Warm-up: page in every copy, let OpenBLAS start its threads, let clocks settle.
  for (size_t i = 0; i < n; ++i)
    for (size_t c = 0; c < rots[i].w.size() + 2; ++c) call(i);
  std::vector<std::vector<double>> samples(n);
  const auto start = Clock::now();
  const double budget = opt.max_seconds * static_cast<double>(n);
  for (;;) {
    for (size_t i = 0; i < n; ++i) samples[i].push_back(call(i));
    const int count = static_cast<int>(samples[0].size());
    if (count >= opt.max_samples) break;
    if (std::chrono::duration<double>(Clock::now() - start).count() > budget && count >= 3) break;
    if (count >= opt.min_samples && count % 5 == 0) {
      // Stable when each median moved less than stable_rel since 5 samples ago.
      bool stable = true;
      for (size_t i = 0; i < n && stable; ++i) {
        std::vector<double> before(samples[i].begin(), samples[i].end() - 5);
        const double a = summarize(before).median_us, b = summarize(samples[i]).median_us;
        stable = std::fabs(b - a) <= opt.stable_rel * b;
      }
      if (stable) break;
    }
  }
  std::vector<Timing> out;
  for (auto& s : samples) out.push_back(summarize(std::move(s)));
  return out;
}

}  // namespace synaptix::tune
