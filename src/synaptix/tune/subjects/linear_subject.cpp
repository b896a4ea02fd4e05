// linear / moe_expert: y[m, n] = x W^T (+ bias), against kernels::linear_reference; the default is
// kernels::linear_default. A module may re-pack W once (its pack step); timing sets hold packed copies.
#include <cmath>
#include <limits>
#include <optional>
#include <sstream>

#include "synaptix/backend/pool_runtime.h"
#include "synaptix/kernels/linear/reference.h"
#include "synaptix/tune/linear_kernel.h"
#include "synaptix/tune/subjects.h"

namespace synaptix::tune {
namespace {

class LinearSubject final : public Subject {
 public:
  LinearSubject(const graph::Op& op, const std::string& module, ThreadPool& pool)
      : op_(op), rt_(backend::pool_runtime(pool)) {
    if (!module.empty()) kernel_.emplace(module);
  }

  std::string verify(std::mt19937_64& rng) override {
    const auto w = random_weights(op_.w_dtype, op_.n * op_.k, rng);
    const auto operand = make_operand(w);
    std::vector<float> bias = op_.bias ? random_floats(op_.n, rng) : std::vector<float>{};
    const size_t esize = dtype_size(op_.w_dtype);
    for (int64_t m : verify_ms(op_)) {
      const auto x = random_floats(m * op_.k, rng);
      std::vector<float> got(static_cast<size_t>(m * op_.n), std::numeric_limits<float>::quiet_NaN());
      call(x.data(), operand.data(), op_.bias ? bias.data() : nullptr, got.data(), m);
      for (float v : got)
        if (std::isnan(v)) return "output left unwritten (NaN poison survived) at m=" + std::to_string(m);
      for (auto [j0, len] : reference_blocks(m, op_.n, op_.k, rng)) {
        std::vector<float> want(static_cast<size_t>(m * len));
        kernels::LinearArgs a{x.data(), w.data() + static_cast<size_t>(j0 * op_.k) * esize, op_.w_dtype,
                              op_.bias ? bias.data() + j0 : nullptr, want.data(), m, len, op_.k};
        kernels::linear_reference(a);
        for (int64_t i = 0; i < m; ++i)
          for (int64_t jj = 0; jj < len; ++jj) {
            const int64_t j = j0 + jj;
            double abs_sum = op_.bias ? std::fabs(bias[static_cast<size_t>(j)]) : 0.0;
            for (int64_t t = 0; t < op_.k; ++t)
              abs_sum += std::fabs(x[static_cast<size_t>(i * op_.k + t)] * weight_value(w, op_.w_dtype, j * op_.k + t));
            const float g = got[static_cast<size_t>(i * op_.n + j)], e = want[static_cast<size_t>(i * len + jj)];
            // bf16 activations (a precision choice): each x rounded to nearest even moves by at most 2^-8
            // of itself, so y by at most 2^-8 sum |x w| beyond the f32 rounding.
            const double rounding = kernel_ && kernel_->activations() == "bf16" ? abs_sum / 256.0 : 0.0;
            if (!std::isfinite(g) || std::fabs(static_cast<double>(g) - e) > linear_tolerance(abs_sum, op_.k) + rounding) {
              std::ostringstream os;
              os << "wrong result at m=" << m << ": y[" << i << ", " << j << "] = " << g << ", reference " << e
                 << " (sum |x w| = " << abs_sum << ", k = " << op_.k << ")";
              return os.str();
            }
          }
      }
    }
    return "";
  }

  int64_t set_bytes() const override {
    const int64_t operand = kernel_ && kernel_->packed_bytes() > 0
                                ? kernel_->packed_bytes()
                                : op_.n * op_.k * static_cast<int64_t>(dtype_size(op_.w_dtype));
    return operand + op_.m * (op_.k + op_.n) * 4;
  }

  void make_sets(int copies, std::mt19937_64& rng) override {
    const auto w = random_weights(op_.w_dtype, op_.n * op_.k, rng);
    if (op_.bias && bias_.empty()) bias_ = random_floats(op_.n, rng);
    for (int c = 0; c < copies; ++c) {
      w_.push_back(make_operand(w));
      x_.push_back(random_floats(op_.m * op_.k, rng));
      y_.emplace_back(static_cast<size_t>(op_.m * op_.n));
    }
  }
  size_t sets() const override { return w_.size(); }
  void run(size_t i) override {
    call(x_[i].data(), w_[i].data(), bias_.empty() ? nullptr : bias_.data(), y_[i].data(), op_.m);
  }

 private:
  // The weight operand this implementation reads, made from raw W.
  std::vector<uint8_t> make_operand(const std::vector<uint8_t>& w) const {
    if (!kernel_ || kernel_->packed_bytes() == 0) return w;
    std::vector<uint8_t> p(static_cast<size_t>(kernel_->packed_bytes()));
    kernel_->pack(w.data(), p.data());
    return p;
  }
  void call(const float* x, const void* w, const float* bias, float* y, int64_t m) const {
    if (kernel_) return kernel_->run(&rt_, x, w, bias, y, m);
    kernels::linear_default({x, w, op_.w_dtype, bias, y, m, op_.n, op_.k});
  }

  graph::Op op_;
  synaptix_runtime rt_;
  std::optional<LinearKernel> kernel_;
  std::vector<std::vector<uint8_t>> w_;
  std::vector<std::vector<float>> x_, y_;
  std::vector<float> bias_;
};

}  // namespace

std::unique_ptr<Subject> make_linear_subject(const graph::Op& op, const std::string& module, ThreadPool& pool) {
  return std::make_unique<LinearSubject>(op, module, pool);
}

}  // namespace synaptix::tune
