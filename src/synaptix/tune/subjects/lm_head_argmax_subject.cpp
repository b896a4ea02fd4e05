// lm_head_argmax: ids[i] = argmax_j x[i] . W[j], against the full logits of kernels::linear_reference (on
// blocks of vocabulary rows spread over the pool). A chosen id is right when its reference logit is within
// the dot products' tolerance of the reference maximum (near-ties may legitimately flip under reordering).
// The default is the untuned path: linear_default into a logits row, then the argmax. Every checked row needs
// the whole vocabulary's reference, so a bucket of large m*n*k is checked at its smallest m only (m is a call
// argument, not compiled in; the smallest m of a bucket past 4 covers every m_tile with its tail).
#include <algorithm>
#include <cmath>
#include <optional>
#include <sstream>

#include "synaptix/backend/pool_runtime.h"
#include "synaptix/kernels/linear/reference.h"
#include "synaptix/tune/fused_kernels.h"
#include "synaptix/tune/subjects.h"

namespace synaptix::tune {
namespace {

class LmHeadArgmaxSubject final : public Subject {
 public:
  LmHeadArgmaxSubject(const graph::Op& op, const std::string& module, ThreadPool& pool)
      : op_(op), pool_(pool), rt_(backend::pool_runtime(pool)) {
    if (!module.empty()) kernel_.emplace(module, kLmHeadArgmaxSymbol);
  }

  std::string verify(std::mt19937_64& rng) override {
    const auto w = random_weights(op_.w_dtype, op_.n * op_.k, rng);
    const size_t esize = dtype_size(op_.w_dtype);
    std::vector<int64_t> ms = verify_ms(op_);
    if (op_.m * op_.n * op_.k > (int64_t{1} << 30) && op_.m_lo >= 1) ms = {op_.m_lo};
    for (int64_t m : ms) {
      const auto x = random_floats(m * op_.k, rng);
      std::vector<int32_t> ids(static_cast<size_t>(m), -1);
      std::vector<float> scratch;
      call(x.data(), w.data(), ids.data(), m, scratch);
      std::vector<float> logits(static_cast<size_t>(m * op_.n));
      const int64_t block = 256;
      pool_.parallel_for(static_cast<size_t>((op_.n + block - 1) / block), [&](size_t lo, size_t hi) {
        std::vector<float> part;
        for (size_t b = lo; b < hi; ++b) {
          const int64_t j0 = static_cast<int64_t>(b) * block, len = std::min(block, op_.n - j0);
          part.resize(static_cast<size_t>(m * len));
          kernels::linear_reference({x.data(), w.data() + static_cast<size_t>(j0 * op_.k) * esize, op_.w_dtype, nullptr,
                                     part.data(), m, len, op_.k});
          for (int64_t i = 0; i < m; ++i)
            std::copy_n(part.data() + i * len, len, logits.data() + i * op_.n + j0);
        }
      });
      auto abs_sum = [&](int64_t i, int64_t j) {
        double s = 0;
        for (int64_t t = 0; t < op_.k; ++t)
          s += std::fabs(x[static_cast<size_t>(i * op_.k + t)] * weight_value(w, op_.w_dtype, j * op_.k + t));
        return s;
      };
      for (int64_t i = 0; i < m; ++i) {
        const int32_t id = ids[static_cast<size_t>(i)];
        if (id < 0 || id >= op_.n) {
          std::ostringstream os;
          os << "id of token " << i << " at m=" << m << " is " << id << ", outside [0, " << op_.n
             << ") (-1: poison survived)";
          return os.str();
        }
        const float* row = logits.data() + i * op_.n;
        const int64_t best = std::max_element(row, row + op_.n) - row;
        const double tol = linear_tolerance(abs_sum(i, id), op_.k) + linear_tolerance(abs_sum(i, best), op_.k);
        if (row[id] < row[best] - tol) {
          std::ostringstream os;
          os << "wrong argmax at m=" << m << ", token " << i << ": id " << id << " (logit " << row[id]
             << "), reference id " << best << " (logit " << row[best] << ", tolerance " << tol << ")";
          return os.str();
        }
      }
    }
    return "";
  }

  int64_t set_bytes() const override {
    return op_.n * op_.k * static_cast<int64_t>(dtype_size(op_.w_dtype)) + op_.m * op_.k * 4;
  }
  void make_sets(int copies, std::mt19937_64& rng) override {
    const auto w = random_weights(op_.w_dtype, op_.n * op_.k, rng);
    for (int c = 0; c < copies; ++c) {
      w_.push_back(w);
      x_.push_back(random_floats(op_.m * op_.k, rng));
      ids_.emplace_back(static_cast<size_t>(op_.m));
    }
  }
  size_t sets() const override { return x_.size(); }
  void run(size_t i) override { call(x_[i].data(), w_[i].data(), ids_[i].data(), op_.m, scratch_); }

 private:
  void call(const float* x, const void* w, int32_t* ids, int64_t m, std::vector<float>& logits) const {
    if (kernel_) return kernel_->fn()(&rt_, x, w, ids, m);
    logits.resize(static_cast<size_t>(m * op_.n));
    kernels::linear_default({x, w, op_.w_dtype, nullptr, logits.data(), m, op_.n, op_.k});
    for (int64_t i = 0; i < m; ++i) {
      const float* row = logits.data() + i * op_.n;
      ids[i] = static_cast<int32_t>(std::max_element(row, row + op_.n) - row);
    }
  }

  graph::Op op_;
  ThreadPool& pool_;
  synaptix_runtime rt_;
  std::optional<LmHeadArgmaxKernel> kernel_;
  std::vector<std::vector<uint8_t>> w_;
  std::vector<std::vector<float>> x_;
  std::vector<std::vector<int32_t>> ids_;
  std::vector<float> scratch_;
};

}  // namespace

std::unique_ptr<Subject> make_lm_head_argmax_subject(const graph::Op& op, const std::string& module,
                                                     ThreadPool& pool) {
  return std::make_unique<LmHeadArgmaxSubject>(op, module, pool);
}

}  // namespace synaptix::tune
