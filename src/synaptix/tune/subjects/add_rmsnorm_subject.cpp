// add_rmsnorm: residual += x; y = rmsnorm(residual) * gamma, against the add followed by
// kernels::rmsnorm_reference (which is also the untuned executor's path). Verified with y apart from x and
// with y aliasing x, as the executor calls it.
#include <cmath>
#include <limits>
#include <optional>
#include <sstream>

#include "synaptix/backend/pool_runtime.h"
#include "synaptix/kernels/rmsnorm/reference.h"
#include "synaptix/tune/fused_kernels.h"
#include "synaptix/tune/subjects.h"

namespace synaptix::tune {
namespace {

constexpr float kEps = 1e-5f;

class AddRmsNormSubject final : public Subject {
 public:
  AddRmsNormSubject(const graph::Op& op, const std::string& module, ThreadPool& pool)
      : op_(op), rt_(backend::pool_runtime(pool)) {
    if (!module.empty()) kernel_.emplace(module, kAddRmsNormSymbol);
  }

  std::string verify(std::mt19937_64& rng) override {
    const auto gamma = random_floats(op_.n, rng, 0.5f, 1.5f);
    for (int64_t m : verify_ms(op_))
      for (bool alias : {false, true}) {
        const auto res0 = random_floats(m * op_.n, rng, -2.0f, 2.0f);
        const auto x = random_floats(m * op_.n, rng);
        std::vector<float> res = res0, xin = x;
        std::vector<float> y(static_cast<size_t>(m * op_.n), std::numeric_limits<float>::quiet_NaN());
        // Aliased, the output is x's own buffer (no poison possible: it holds x); else a poisoned one.
        float* out = alias ? xin.data() : y.data();
        call(res.data(), xin.data(), gamma.data(), out, m);
        std::vector<float> want_res = res0, want(static_cast<size_t>(m * op_.n));
        for (size_t i = 0; i < want_res.size(); ++i) want_res[i] += x[i];
        kernels::rmsnorm_reference(want_res.data(), gamma.data(), want.data(), m, op_.n, kEps);
        const char* what = alias ? " (y aliasing x)" : "";
        for (size_t i = 0; i < want.size(); ++i) {
          const float r = res[i], v = out[i];
          if (!std::isfinite(r) || std::fabs(r - want_res[i]) > 1e-6 * (1.0 + std::fabs(want_res[i]))) {
            std::ostringstream os;
            os << "wrong residual at m=" << m << what << ": residual[" << i / op_.n << ", " << i % op_.n << "] = " << r
               << ", reference " << want_res[i];
            return os.str();
          }
          if (std::isnan(v)) return "output left unwritten (NaN poison survived) at m=" + std::to_string(m) + what;
          if (!std::isfinite(v) || std::fabs(v - want[i]) > 1e-4 * std::fabs(want[i]) + 1e-6) {
            std::ostringstream os;
            os << "wrong result at m=" << m << what << ": y[" << i / op_.n << ", " << i % op_.n << "] = " << v
               << ", reference " << want[i];
            return os.str();
          }
        }
      }
    return "";
  }

  int64_t set_bytes() const override { return 3 * op_.m * op_.n * 4 + op_.n * 4; }
  void make_sets(int copies, std::mt19937_64& rng) override {
    if (gamma_.empty()) gamma_ = random_floats(op_.n, rng, 0.5f, 1.5f);
    for (int c = 0; c < copies; ++c) {
      res_.push_back(random_floats(op_.m * op_.n, rng));
      x_.push_back(random_floats(op_.m * op_.n, rng, -1e-3f, 1e-3f));  // the residual stays bounded over calls
      y_.emplace_back(static_cast<size_t>(op_.m * op_.n));
    }
  }
  size_t sets() const override { return x_.size(); }
  void run(size_t i) override { call(res_[i].data(), x_[i].data(), gamma_.data(), y_[i].data(), op_.m); }

 private:
  void call(float* res, const float* x, const float* gamma, float* y, int64_t m) const {
    if (kernel_) return kernel_->fn()(&rt_, res, x, gamma, y, m, kEps);
    for (int64_t i = 0; i < m * op_.n; ++i) res[i] += x[i];
    kernels::rmsnorm_reference(res, gamma, y, m, op_.n, kEps);
  }

  graph::Op op_;
  synaptix_runtime rt_;
  std::optional<AddRmsNormKernel> kernel_;
  std::vector<std::vector<float>> res_, x_, y_;
  std::vector<float> gamma_;
};

}  // namespace

std::unique_ptr<Subject> make_add_rmsnorm_subject(const graph::Op& op, const std::string& module, ThreadPool& pool) {
  return std::make_unique<AddRmsNormSubject>(op, module, pool);
}

}  // namespace synaptix::tune
