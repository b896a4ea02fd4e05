#include "synaptix/kernels/rope/reference.h"

#include <algorithm>
#include <cmath>

namespace synaptix::kernels {

namespace {
double yarn_mscale(double scale, double m) { return scale <= 1.0 ? 1.0 : 0.1 * m * std::log(scale) + 1.0; }
}  // namespace

namespace {

RopeTable rope_table(const model::Spec& s, double theta, const model::RopeScaling& rs, int64_t seq_len) {
  RopeTable t;
  t.rotary_dim = static_cast<int64_t>(static_cast<double>(s.head_dim) * s.partial_rotary_factor);
  t.rotary_dim -= t.rotary_dim % 2;
  const int64_t half = t.rotary_dim / 2;
  double base = theta;
  if (rs.type == "dynamic" && seq_len > s.max_position_embeddings) {
    // NTK-aware: grow the base with the sequence so that the lowest frequency still spans it.
    const double d = static_cast<double>(t.rotary_dim);
    base *= std::pow(rs.factor * static_cast<double>(seq_len) / static_cast<double>(s.max_position_embeddings) -
                         (rs.factor - 1.0), d / (d - 2.0));
  }
  t.inv_freq.resize(static_cast<size_t>(half));
  for (int64_t i = 0; i < half; ++i)
    t.inv_freq[i] = static_cast<float>(1.0 / std::pow(base, static_cast<double>(2 * i) / static_cast<double>(t.rotary_dim)));

  if (rs.type == "linear") {
    for (auto& f : t.inv_freq) f = static_cast<float>(f / rs.factor);
  } else if (rs.type == "llama3") {
    // Wavelengths longer than original_max / low_freq_factor are slowed by `factor`; shorter than
    // original_max / high_freq_factor kept; in between, interpolated.
    const double old_ctx = static_cast<double>(rs.original_max_position_embeddings);
    const double low_wl = old_ctx / rs.low_freq_factor, high_wl = old_ctx / rs.high_freq_factor;
    for (auto& f : t.inv_freq) {
      const double wl = 2.0 * M_PI / f;
      if (wl > low_wl) {
        f = static_cast<float>(f / rs.factor);
      } else if (wl >= high_wl) {
        const double smooth = (old_ctx / wl - rs.low_freq_factor) / (rs.high_freq_factor - rs.low_freq_factor);
        f = static_cast<float>((1.0 - smooth) * f / rs.factor + smooth * f);
      }
    }
  } else if (rs.type == "yarn") {
    const double d = static_cast<double>(t.rotary_dim);
    const double old_ctx = static_cast<double>(rs.original_max_position_embeddings > 0
                                                   ? rs.original_max_position_embeddings
                                                   : s.max_position_embeddings);
    auto correction_dim = [&](double rot) { return d * std::log(old_ctx / (rot * 2.0 * M_PI)) / (2.0 * std::log(base)); };
    double low = std::floor(correction_dim(rs.beta_fast)), high = std::ceil(correction_dim(rs.beta_slow));
    low = std::max(low, 0.0);
    high = std::min(high, d - 1.0);
    if (low == high) high += 0.001;
    for (int64_t i = 0; i < half; ++i) {
      const double pos_freq = std::pow(base, static_cast<double>(2 * i) / d);
      const double extrapolation = 1.0 / pos_freq, interpolation = 1.0 / (rs.factor * pos_freq);
      const double ramp = std::clamp((static_cast<double>(i) - low) / (high - low), 0.0, 1.0);
      const double extrapolation_factor = 1.0 - ramp;
      t.inv_freq[i] = static_cast<float>(interpolation * (1.0 - extrapolation_factor) + extrapolation * extrapolation_factor);
    }
    if (rs.attention_factor) t.attention_scaling = static_cast<float>(*rs.attention_factor);
    else if (rs.mscale && rs.mscale_all_dim)
      t.attention_scaling = static_cast<float>(yarn_mscale(rs.factor, *rs.mscale) / yarn_mscale(rs.factor, *rs.mscale_all_dim));
    else t.attention_scaling = static_cast<float>(yarn_mscale(rs.factor, 1.0));
  }
  // The reference stores inv_freq as a module buffer, so casting the model to the checkpoint's dtype
  // (model.to(torch.bfloat16), as the fixtures and most serving stacks do) rounds it to that dtype. Matching
  // this keeps logits within 1e-6 of the reference instead of 1e-3 (the angle error grows with position).
  if (s.dtype == DType::BF16)
    for (auto& f : t.inv_freq) f = bf16_to_f32(f32_to_bf16(f));
  else if (s.dtype == DType::F16)
    for (auto& f : t.inv_freq) f = f16_to_f32(f32_to_f16(f));
  return t;
}

}  // namespace

RopeTable make_rope_table(const model::Spec& s, int64_t seq_len) {
  return rope_table(s, s.rope_theta, s.rope_scaling, seq_len);
}

RopeTable make_layer_rope_table(const model::Spec& s, int64_t layer, int64_t seq_len) {
  return s.layer_uses_sliding_rope(layer) ? rope_table(s, s.sliding_rope_theta, s.sliding_rope_scaling, seq_len)
                                          : make_rope_table(s, seq_len);
}

void rope_reference(float* x, int64_t heads, int64_t head_dim, int64_t pos, const RopeTable& t) {
  const int64_t half = t.rotary_dim / 2;
  for (int64_t i = 0; i < half; ++i) {
    // f32 angle as in the reference (position times inv_freq in float), cos/sin evaluated accurately.
    const float angle = static_cast<float>(pos) * t.inv_freq[i];
    const float c = std::cos(angle) * t.attention_scaling, s = std::sin(angle) * t.attention_scaling;
    for (int64_t h = 0; h < heads; ++h) {
      float* v = x + h * head_dim;
      const float a = v[i], b = v[i + half];
      v[i] = a * c - b * s;
      v[i + half] = b * c + a * s;
    }
  }
}

}  // namespace synaptix::kernels
