#include "synaptix/tune/subject.h"

#include <cmath>
#include <limits>

#include "synaptix/core/error.h"
#include "synaptix/tune/subjects.h"

namespace synaptix::tune {

std::unique_ptr<Subject> make_subject(const graph::Op& op, const std::string& module_path, ThreadPool& pool) {
  switch (op.kind) {
    case graph::OpKind::Linear:
    case graph::OpKind::MoeExpert:
      if (is_block_dtype(op.w_dtype)) return make_quant_linear_subject(op, module_path, pool);
      return make_linear_subject(op, module_path, pool);
    case graph::OpKind::GateUpSilu: return make_gate_up_silu_subject(op, module_path, pool);
    case graph::OpKind::AddRmsNorm: return make_add_rmsnorm_subject(op, module_path, pool);
    case graph::OpKind::Attention: return make_attention_subject(op, module_path, pool);
    case graph::OpKind::LmHeadArgmax: return make_lm_head_argmax_subject(op, module_path, pool);
    default: break;
  }
  fail("no tunable implementation of op kind '", graph::op_kind_name(op.kind), "' (", op.signature(), ")");
}

double linear_tolerance(double abs_sum, int64_t k) {
  return 4.0 * std::numeric_limits<float>::epsilon() * std::sqrt(static_cast<double>(k)) * abs_sum + 1e-30;
}

bool linear_close(float got, double want, double abs_sum, int64_t k) {
  if (!std::isfinite(got)) return false;
  return std::fabs(static_cast<double>(got) - want) <= linear_tolerance(abs_sum, k);
}

namespace {

// Uniform floats in [lo, hi) from a splitmix64 stream seeded by rng: a few ns per value, so that filling a
// gigabyte of timing inputs does not dominate a trial (std::uniform_real_distribution over mt19937_64 did).
class FastUniform {
 public:
  FastUniform(std::mt19937_64& rng, float lo, float hi) : state_(rng()), lo_(lo), span_(hi - lo) {}
  float operator()() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return lo_ + span_ * static_cast<float>(z >> 40) * (1.0f / 16777216.0f);
  }

 private:
  uint64_t state_;
  float lo_, span_;
};

}  // namespace

std::vector<uint8_t> random_weights(DType t, int64_t count, std::mt19937_64& rng) {
  if (t != DType::BF16 && t != DType::F16 && t != DType::F32)
    fail("random weights of dtype ", dtype_name(t), ": expected bf16, f16 or f32");
  FastUniform d(rng, -1.0f, 1.0f);
  std::vector<uint8_t> w(static_cast<size_t>(count) * dtype_size(t));
  for (int64_t i = 0; i < count; ++i) {
    const float v = d();
    if (t == DType::BF16) reinterpret_cast<uint16_t*>(w.data())[i] = f32_to_bf16(v);
    else if (t == DType::F16) reinterpret_cast<uint16_t*>(w.data())[i] = f32_to_f16(v);
    else reinterpret_cast<float*>(w.data())[i] = v;
  }
  return w;
}

float weight_value(const std::vector<uint8_t>& w, DType t, int64_t i) {
  if (t == DType::BF16) return bf16_to_f32(reinterpret_cast<const uint16_t*>(w.data())[i]);
  if (t == DType::F16) return f16_to_f32(reinterpret_cast<const uint16_t*>(w.data())[i]);
  return reinterpret_cast<const float*>(w.data())[i];
}

std::vector<float> random_floats(int64_t count, std::mt19937_64& rng, float lo, float hi) {
  FastUniform d(rng, lo, hi);
  std::vector<float> v(static_cast<size_t>(count));
  for (auto& x : v) x = d();
  return v;
}

std::vector<int64_t> verify_ms(const graph::Op& op) {
  std::vector<int64_t> ms{op.m};
  if (op.m_lo > 0 && op.m_lo != op.m) ms.push_back(op.m_lo);
  return ms;
}

std::vector<std::pair<int64_t, int64_t>> reference_blocks(int64_t m, int64_t n, int64_t k, std::mt19937_64& rng) {
  if (m * n * k <= (int64_t{1} << 27) || n <= 96) return {{0, n}};
  const int64_t b = 32, mid = static_cast<int64_t>(rng() % static_cast<uint64_t>(n - 2 * b)) + b;
  return {{0, b}, {mid - mid % 8, b}, {n - b, b}};
}

}  // namespace synaptix::tune
