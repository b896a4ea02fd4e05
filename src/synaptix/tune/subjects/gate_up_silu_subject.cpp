// gate_up_silu: y = silu(x Wg^T) * (x Wu^T), against two kernels::linear_reference products and
// kernels::swiglu_reference; the default is what the untuned executor runs: two linear_default calls and
// the SwiGLU pass.
#include <cmath>
#include <limits>
#include <optional>
#include <sstream>

#include "synaptix/backend/pool_runtime.h"
#include "synaptix/kernels/linear/reference.h"
#include "synaptix/kernels/swiglu/reference.h"
#include "synaptix/tune/fused_kernels.h"
#include "synaptix/tune/subjects.h"

namespace synaptix::tune {
namespace {

class GateUpSiluSubject final : public Subject {
 public:
  GateUpSiluSubject(const graph::Op& op, const std::string& module, ThreadPool& pool)
      : op_(op), rt_(backend::pool_runtime(pool)) {
    if (!module.empty()) kernel_.emplace(module, kGateUpSiluSymbol);
  }

  std::string verify(std::mt19937_64& rng) override {
    const auto wg = random_weights(op_.w_dtype, op_.n * op_.k, rng);
    const auto wu = random_weights(op_.w_dtype, op_.n * op_.k, rng);
    const size_t esize = dtype_size(op_.w_dtype);
    for (int64_t m : verify_ms(op_)) {
      // x scaled so that gate values reach both tails of SiLU.
      const auto x = random_floats(m * op_.k, rng, -0.25f, 0.25f);
      std::vector<float> got(static_cast<size_t>(m * op_.n), std::numeric_limits<float>::quiet_NaN()), scratch;
      call(x.data(), wg.data(), wu.data(), got.data(), m, scratch);
      for (float v : got)
        if (std::isnan(v)) return "output left unwritten (NaN poison survived) at m=" + std::to_string(m);
      for (auto [j0, len] : reference_blocks(m, op_.n, 2 * op_.k, rng)) {
        std::vector<float> g(static_cast<size_t>(m * len)), u(g.size()), want(g.size());
        const size_t off = static_cast<size_t>(j0 * op_.k) * esize;
        kernels::linear_reference({x.data(), wg.data() + off, op_.w_dtype, nullptr, g.data(), m, len, op_.k});
        kernels::linear_reference({x.data(), wu.data() + off, op_.w_dtype, nullptr, u.data(), m, len, op_.k});
        kernels::swiglu_reference(g.data(), u.data(), want.data(), m * len);
        for (int64_t i = 0; i < m; ++i)
          for (int64_t jj = 0; jj < len; ++jj) {
            const int64_t j = j0 + jj;
            double sg = 0, su = 0;
            for (int64_t t = 0; t < op_.k; ++t) {
              const double xv = std::fabs(x[static_cast<size_t>(i * op_.k + t)]);
              sg += xv * std::fabs(weight_value(wg, op_.w_dtype, j * op_.k + t));
              su += xv * std::fabs(weight_value(wu, op_.w_dtype, j * op_.k + t));
            }
            // d(silu(g) u) = silu'(g) u dg + silu(g) du, |silu'| < 1.1.
            const size_t r = static_cast<size_t>(i * len + jj);
            const double gv = g[r], silu = gv / (1.0 + std::exp(-gv));
            const double tol = 1.1 * std::fabs(u[r]) * linear_tolerance(sg, op_.k) +
                               std::fabs(silu) * linear_tolerance(su, op_.k) + 1e-6 * std::fabs(want[r]) + 1e-30;
            const float v = got[static_cast<size_t>(i * op_.n + j)];
            if (!std::isfinite(v) || std::fabs(v - want[r]) > tol) {
              std::ostringstream os;
              os << "wrong result at m=" << m << ": y[" << i << ", " << j << "] = " << v << ", reference " << want[r]
                 << " (tolerance " << tol << ", k = " << op_.k << ")";
              return os.str();
            }
          }
      }
    }
    return "";
  }

  int64_t set_bytes() const override {
    return 2 * op_.n * op_.k * static_cast<int64_t>(dtype_size(op_.w_dtype)) + op_.m * (op_.k + op_.n) * 4;
  }
  void make_sets(int copies, std::mt19937_64& rng) override {
    // One random pair of weights, copied: each copy is its own memory, which is what the rotation needs.
    const auto wg = random_weights(op_.w_dtype, op_.n * op_.k, rng), wu = random_weights(op_.w_dtype, op_.n * op_.k, rng);
    for (int c = 0; c < copies; ++c) {
      wg_.push_back(wg);
      wu_.push_back(wu);
      x_.push_back(random_floats(op_.m * op_.k, rng, -0.25f, 0.25f));
      y_.emplace_back(static_cast<size_t>(op_.m * op_.n));
    }
  }
  size_t sets() const override { return x_.size(); }
  void run(size_t i) override { call(x_[i].data(), wg_[i].data(), wu_[i].data(), y_[i].data(), op_.m, scratch_); }

 private:
  void call(const float* x, const void* wg, const void* wu, float* y, int64_t m, std::vector<float>& scratch) const {
    if (kernel_) return kernel_->fn()(&rt_, x, wg, wu, y, m);
    scratch.resize(static_cast<size_t>(m * op_.n));
    kernels::linear_default({x, wg, op_.w_dtype, nullptr, y, m, op_.n, op_.k});
    kernels::linear_default({x, wu, op_.w_dtype, nullptr, scratch.data(), m, op_.n, op_.k});
    kernels::swiglu_reference(y, scratch.data(), y, m * op_.n);
  }

  graph::Op op_;
  synaptix_runtime rt_;
  std::optional<GateUpSiluKernel> kernel_;
  std::vector<std::vector<uint8_t>> wg_, wu_;
  std::vector<std::vector<float>> x_, y_;
  std::vector<float> scratch_;
};

}  // namespace

std::unique_ptr<Subject> make_gate_up_silu_subject(const graph::Op& op, const std::string& module, ThreadPool& pool) {
  return std::make_unique<GateUpSiluSubject>(op, module, pool);
}

}  // namespace synaptix::tune
