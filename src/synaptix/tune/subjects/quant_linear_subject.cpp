// linear / moe_expert with GGUF block weights (Q4_0 .. Q6_K, op.w_dtype a block dtype; or a Synaptix weight
// format, random weights rounded to nearest): random blocks with finite scales, against kernels::linear_quant_reference; the default is kernels::linear_default (which runs
// linear_quant_default). A kernel may round the activations to 8 bits per block (linear_quant's act=q8), so
// the tolerance is the f32 one plus kernels::q8_activation_error_bound; exact kernels are held to f32 rounding
// by tests/kernels.
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>
#include <sstream>

#include "synaptix/backend/pool_runtime.h"
#include "synaptix/kernels/linear/cpu/linear_quant.h"
#include "synaptix/kernels/linear/quant_reference.h"
#include "synaptix/quant/block_dtype.h"
#include "synaptix/quant/dequantize.h"
#include "synaptix/quant/weight_quantize.h"
#include "synaptix/tune/linear_kernel.h"
#include "synaptix/tune/subjects.h"

namespace synaptix::tune {
namespace {

// Byte offsets of a block's f16 scales (d, and the min where the format has one): random bytes there could
// be inf or NaN, so they get finite values in [-0.1, 0.1]; quants and packed sub-scales stay random.
std::vector<int> scale_offsets(DType t) {
  switch (t) {
    case DType::Q4_1: case DType::Q5_1: case DType::Q4_K: case DType::Q5_K: return {0, 2};
    case DType::Q2_K: return {80, 82};
    case DType::Q3_K: return {108};
    case DType::Q6_K: return {208};
    default: return {0};
  }
}

// Synaptix's weight formats (quant/weight_format.h): random weights in [-1, 1] rounded to nearest, so every
// scale and zero point is one the quantizer makes. elems is n * k; k is the op's.
std::vector<uint8_t> random_weight_format(const quant::WeightFormat& f, int64_t elems, int64_t k, std::mt19937_64& rng) {
  const auto v = random_floats(elems, rng);
  std::vector<uint8_t> w(static_cast<size_t>(elems / k * quant::weight_row_bytes(f, k)));
  quant::quantize_rows(f, v.data(), elems / k, k, w.data());
  return w;
}

std::vector<uint8_t> random_blocks(DType t, int64_t elems, std::mt19937_64& rng, int64_t k) {
  if (const quant::WeightFormat* wf = quant::weight_format(t)) return random_weight_format(*wf, elems, k, rng);
  const quant::BlockFormat& f = *quant::block_format(t);
  std::vector<uint8_t> w(static_cast<size_t>(quant::row_bytes(t, elems)));
  for (size_t i = 0; i + 8 <= w.size(); i += 8) {
    const uint64_t r = rng();
    std::memcpy(w.data() + i, &r, 8);
  }
  const auto scales = random_floats(elems / f.block_elems * 2, rng, -0.1f, 0.1f);
  const auto offsets = scale_offsets(t);
  for (int64_t b = 0; b < elems / f.block_elems; ++b)
    for (size_t s = 0; s < offsets.size(); ++s) {
      const uint16_t h = f32_to_f16(scales[static_cast<size_t>(b * 2) + s]);
      std::memcpy(w.data() + b * f.block_bytes + offsets[s], &h, 2);
    }
  return w;
}

class QuantLinearSubject final : public Subject {
 public:
  QuantLinearSubject(const graph::Op& op, const std::string& module, ThreadPool& pool)
      : op_(op), rt_(backend::pool_runtime(pool)), row_(quant::row_bytes(op.w_dtype, op.k)) {
    if (!module.empty()) kernel_.emplace(module);
    bf16_ = kernel_ && kernel_->activations() == "bf16";
  }

  std::string verify(std::mt19937_64& rng) override {
    const auto w = random_blocks(op_.w_dtype, op_.n * op_.k, rng, op_.k);
    std::vector<float> deq(static_cast<size_t>(op_.n * op_.k));
    if (const quant::WeightFormat* wf = quant::weight_format(op_.w_dtype))
      quant::dequantize_rows(*wf, w.data(), op_.n, op_.k, deq.data());
    else
      quant::dequantize_f32(*quant::block_format(op_.w_dtype), w.data(), op_.n * op_.k, deq.data());
    const std::vector<float> bias = op_.bias ? random_floats(op_.n, rng) : std::vector<float>{};
    const int64_t nb = op_.k / 32;
    for (int64_t m : verify_ms(op_)) {
      const auto x = random_floats(m * op_.k, rng);
      std::vector<float> got(static_cast<size_t>(m * op_.n), std::numeric_limits<float>::quiet_NaN());
      call(x.data(), w.data(), op_.bias ? bias.data() : nullptr, got.data(), m);
      for (float v : got)
        if (std::isnan(v)) return "output left unwritten (NaN poison survived) at m=" + std::to_string(m);
      std::vector<float> step(static_cast<size_t>(m * nb));  // amax / 127 of each 32 values of x
      for (int64_t i = 0; i < m * nb; ++i) {
        float amax = 0;
        for (int t = 0; t < 32; ++t) amax = std::max(amax, std::fabs(x[static_cast<size_t>(i * 32 + t)]));
        step[static_cast<size_t>(i)] = amax / 127.0f;
      }
      for (auto [j0, len] : reference_blocks(m, op_.n, op_.k, rng)) {
        std::vector<float> want(static_cast<size_t>(m * len));
        kernels::linear_quant_reference({x.data(), w.data() + j0 * row_, op_.w_dtype,
                                         op_.bias ? bias.data() + j0 : nullptr, want.data(), m, len, op_.k});
        for (int64_t i = 0; i < m; ++i)
          for (int64_t jj = 0; jj < len; ++jj) {
            const int64_t j = j0 + jj;
            double abs_sum = op_.bias ? std::fabs(bias[static_cast<size_t>(j)]) : 0.0, s1 = 0, s2 = 0;
            for (int64_t t = 0; t < op_.k; ++t) {
              const double wv = deq[static_cast<size_t>(j * op_.k + t)], st = step[static_cast<size_t>(i * nb + t / 32)];
              abs_sum += std::fabs(wv * x[static_cast<size_t>(i * op_.k + t)]);
              s1 += std::fabs(wv) * st;
              s2 += wv * wv * st * st;
            }
            const float g = got[static_cast<size_t>(i * op_.n + j)], e = want[static_cast<size_t>(i * len + jj)];
            // A kernel with bf16 activations (linear_onednn) rounds x and the expanded weights to bf16: each
            // product moves by at most 2^-9 of itself per rounding; 2^-7 of sum |w x| covers both with room.
            const double tol = linear_tolerance(abs_sum, op_.k) +
                               (bf16_ ? abs_sum / 128.0 : kernels::q8_activation_error_bound(s1, s2));
            if (!std::isfinite(g) || std::fabs(static_cast<double>(g) - e) > tol) {
              std::ostringstream os;
              os << "wrong result at m=" << m << ": y[" << i << ", " << j << "] = " << g << ", reference " << e
                 << " (" << dtype_name(op_.w_dtype) << ", tolerance " << tol << ", k = " << op_.k << ")";
              return os.str();
            }
          }
      }
    }
    return "";
  }

  int64_t set_bytes() const override { return op_.n * row_ + op_.m * (op_.k + op_.n) * 4; }

  void make_sets(int copies, std::mt19937_64& rng) override {
    const auto w = random_blocks(op_.w_dtype, op_.n * op_.k, rng, op_.k);
    if (op_.bias && bias_.empty()) bias_ = random_floats(op_.n, rng);
    for (int c = 0; c < copies; ++c) {
      w_.push_back(w);
      x_.push_back(random_floats(op_.m * op_.k, rng));
      y_.emplace_back(static_cast<size_t>(op_.m * op_.n));
    }
  }
  size_t sets() const override { return w_.size(); }
  void run(size_t i) override {
    call(x_[i].data(), w_[i].data(), bias_.empty() ? nullptr : bias_.data(), y_[i].data(), op_.m);
  }

 private:
  void call(const float* x, const void* w, const float* bias, float* y, int64_t m) const {
    if (kernel_) return kernel_->run(&rt_, x, w, bias, y, m);
    kernels::linear_default({x, w, op_.w_dtype, bias, y, m, op_.n, op_.k});
  }

  graph::Op op_;
  synaptix_runtime rt_;
  int64_t row_;
  std::optional<LinearKernel> kernel_;
  bool bf16_ = false;  // the kernel rounds x (and expanded weights) to bf16
  std::vector<std::vector<uint8_t>> w_;
  std::vector<std::vector<float>> x_, y_;
  std::vector<float> bias_;
};

}  // namespace

std::unique_ptr<Subject> make_quant_linear_subject(const graph::Op& op, const std::string& module, ThreadPool& pool) {
  return std::make_unique<QuantLinearSubject>(op, module, pool);
}

}  // namespace synaptix::tune
