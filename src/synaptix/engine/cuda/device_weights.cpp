#include "synaptix/engine/cuda/device_weights.h"

#include <cmath>
#include <cstring>

#include "synaptix/backend/cuda/device_random.h"
#include "synaptix/core/error.h"
#include "synaptix/hw/cuda/driver.h"
#include "synaptix/kernels/embedding/reference.h"
#include "synaptix/model/model.h"

namespace synaptix::engine::cuda {

using backend::cuda::DeviceBuffer;
using model::TensorRef;

namespace {

std::vector<uint16_t> as_bf16(const TensorRef& t) {
  std::vector<uint16_t> out(static_cast<size_t>(t.numel()));
  if (t.dtype == DType::BF16) {
    std::memcpy(out.data(), t.data, out.size() * 2);
    return out;
  }
  std::vector<float> f(out.size());
  kernels::to_f32(t.data, t.dtype, t.numel(), f.data());
  for (size_t i = 0; i < f.size(); ++i) out[i] = f32_to_bf16(f[i]);
  return out;
}

std::vector<float> as_f32(const TensorRef& t) {
  std::vector<float> f(static_cast<size_t>(t.numel()));
  kernels::to_f32(t.data, t.dtype, t.numel(), f.data());
  return f;
}

// Row-concatenates matrices sharing their column count into one bf16 device matrix.
DeviceBuffer upload_rows(std::initializer_list<const TensorRef*> parts, int64_t* bytes) {
  size_t total = 0;
  for (const TensorRef* t : parts) total += static_cast<size_t>(t->numel()) * 2;
  DeviceBuffer buf(total);
  size_t off = 0;
  for (const TensorRef* t : parts) {
    std::vector<uint16_t> h = as_bf16(*t);
    buf.upload(h.data(), h.size() * 2, off);
    off += h.size() * 2;
  }
  *bytes += static_cast<int64_t>(total);
  return buf;
}

// gate [inter, k] and up [inter, k] as one bf16 matrix with their rows interleaved (2i gate i, 2i+1 up i),
// so the GEMV that computes them can apply SwiGLU in its epilogue (both rows of a pair in one warp).
DeviceBuffer upload_gate_up(const TensorRef& gate, const TensorRef& up, int64_t* bytes) {
  if (gate.shape != up.shape || gate.shape.size() != 2)
    fail("gate and up projections must have the same 2-D shape to be interleaved");
  const std::vector<uint16_t> g = as_bf16(gate), u = as_bf16(up);
  const size_t rows = static_cast<size_t>(gate.shape[0]), cols = static_cast<size_t>(gate.shape[1]);
  std::vector<uint16_t> h(2 * rows * cols);
  for (size_t r = 0; r < rows; ++r) {
    std::memcpy(h.data() + (2 * r) * cols, g.data() + r * cols, cols * 2);
    std::memcpy(h.data() + (2 * r + 1) * cols, u.data() + r * cols, cols * 2);
  }
  DeviceBuffer buf(h.size() * 2);
  buf.upload(h.data(), h.size() * 2);
  *bytes += static_cast<int64_t>(h.size() * 2);
  return buf;
}

DeviceBuffer upload_f32(std::initializer_list<const TensorRef*> parts, int64_t* bytes) {
  std::vector<float> all;
  for (const TensorRef* t : parts) {
    std::vector<float> f = as_f32(*t);
    all.insert(all.end(), f.begin(), f.end());
  }
  DeviceBuffer buf(all.size() * 4);
  buf.upload(all.data(), all.size() * 4);
  *bytes += static_cast<int64_t>(all.size() * 4);
  return buf;
}

// An RMSNorm weight as the scale the kernels multiply by: offset + w.
DeviceBuffer upload_norm(const TensorRef* t, double offset, int64_t* bytes) {
  std::vector<float> f = as_f32(*t);
  for (float& v : f) v += static_cast<float>(offset);
  DeviceBuffer buf(f.size() * 4);
  buf.upload(f.data(), f.size() * 4);
  *bytes += static_cast<int64_t>(f.size() * 4);
  return buf;
}

DeviceBuffer random_bf16(int64_t rows, int64_t cols, uint64_t seed, int64_t* bytes) {
  const size_t n = static_cast<size_t>(rows * cols);
  DeviceBuffer buf(n * 2);
  backend::cuda::fill_uniform_bf16(buf.ptr(), n, seed, 1.0f / std::sqrt(static_cast<float>(cols)), nullptr);
  *bytes += static_cast<int64_t>(n * 2);
  return buf;
}

DeviceBuffer constant_f32(int64_t n, float v, int64_t* bytes) {
  DeviceBuffer buf(static_cast<size_t>(n) * 4);
  uint32_t bits;
  std::memcpy(&bits, &v, 4);
  hw::cuda::check(cuMemsetD32(buf.ptr(), bits, static_cast<size_t>(n)), "cuMemsetD32");
  *bytes += n * 4;
  return buf;
}

}  // namespace

DeviceWeights upload_weights(const model::Model& m, const graph::ForwardPlan& plan) {
  DeviceWeights w;
  const double off = plan.norm_weight_offset;
  if (m.layers.size() != plan.layers.size())
    fail(m.layers.size(), " layers of weights for a forward plan of ", plan.layers.size());
  for (size_t l = 0; l < m.layers.size(); ++l) {
    const model::LayerWeights& L = m.layers[l];
    const graph::LayerStep& P = plan.layers[l];
    DeviceLayer d;
    d.attn_norm = upload_norm(L.attn_norm, off, &w.bytes);
    d.mlp_norm = upload_norm(L.mlp_norm, off, &w.bytes);
    if (P.post_attention_norm) {
      if (!L.post_attn_norm) fail("layer ", l, ": the forward plan has a post-attention norm the weights lack");
      d.post_attn_norm = upload_norm(L.post_attn_norm, off, &w.bytes);
    }
    if (P.post_mlp_norm) {
      if (!L.post_mlp_norm) fail("layer ", l, ": the forward plan has a post-MLP norm the weights lack");
      d.post_mlp_norm = upload_norm(L.post_mlp_norm, off, &w.bytes);
    }
    d.qkv = upload_rows({L.q, L.k, L.v}, &w.bytes);
    if (L.q_bias) {
      if (!L.k_bias || !L.v_bias) fail("layer ", l, ": q bias present without k and v biases");
      d.qkv_bias = upload_f32({L.q_bias, L.k_bias, L.v_bias}, &w.bytes);
    }
    if (L.q_norm) {
      if (!L.k_norm) fail("layer ", l, ": q_norm present without k_norm");
      d.q_norm = upload_norm(L.q_norm, off, &w.bytes);
      d.k_norm = upload_norm(L.k_norm, off, &w.bytes);
    }
    d.o = upload_rows({L.o}, &w.bytes);
    if (L.router) {
      d.router = upload_rows({L.router}, &w.bytes);
      for (const model::ExpertWeights& e : L.experts) {
        d.expert_gate_up.push_back(upload_gate_up(*e.gate, *e.up, &w.bytes));
        d.expert_down.push_back(upload_rows({e.down}, &w.bytes));
      }
      d.inter = L.experts.empty() ? 0 : L.experts[0].gate->shape[0];
    } else {
      d.gate_up = upload_gate_up(*L.gate, *L.up, &w.bytes);
      d.down = upload_rows({L.down}, &w.bytes);
      d.inter = L.gate->shape[0];
    }
    w.layers.push_back(std::move(d));
  }
  w.embed = upload_rows({m.embed}, &w.bytes);
  w.final_norm = upload_norm(m.final_norm, off, &w.bytes);
  if (m.lm_head && m.lm_head != m.embed) w.lm_head = upload_rows({m.lm_head}, &w.bytes);
  return w;
}

DeviceWeights random_weights(const model::Spec& s, const graph::ForwardPlan& plan, uint64_t seed) {
  DeviceWeights w;
  const int64_t h = s.hidden_size, qkv = s.q_dim() + 2 * s.kv_dim();
  uint64_t k = seed * 1000;
  for (int64_t l = 0; l < s.num_layers; ++l) {
    DeviceLayer d;
    d.attn_norm = constant_f32(h, 1.0f, &w.bytes);
    d.mlp_norm = constant_f32(h, 1.0f, &w.bytes);
    const graph::LayerStep& P = plan.layers[static_cast<size_t>(l)];
    if (P.post_attention_norm) d.post_attn_norm = constant_f32(h, 1.0f, &w.bytes);
    if (P.post_mlp_norm) d.post_mlp_norm = constant_f32(h, 1.0f, &w.bytes);
    d.qkv = random_bf16(qkv, h, ++k, &w.bytes);
    if (s.attention_bias) {
      d.qkv_bias = DeviceBuffer(static_cast<size_t>(qkv) * 4);
      backend::cuda::fill_uniform_f32(d.qkv_bias.ptr(), static_cast<size_t>(qkv), ++k, 0.02f, nullptr);
      w.bytes += qkv * 4;
    }
    if (s.qk_norm) {
      d.q_norm = constant_f32(s.head_dim, 1.0f, &w.bytes);
      d.k_norm = constant_f32(s.head_dim, 1.0f, &w.bytes);
    }
    d.o = random_bf16(h, s.q_dim(), ++k, &w.bytes);
    if (s.layer_is_moe(l)) {
      d.inter = s.moe_intermediate_size > 0 ? s.moe_intermediate_size : s.intermediate_size;
      d.router = random_bf16(s.num_experts, h, ++k, &w.bytes);
      for (int64_t e = 0; e < s.num_experts; ++e) {
        d.expert_gate_up.push_back(random_bf16(2 * d.inter, h, ++k, &w.bytes));
        d.expert_down.push_back(random_bf16(h, d.inter, ++k, &w.bytes));
      }
    } else {
      d.inter = s.intermediate_size;
      d.gate_up = random_bf16(2 * d.inter, h, ++k, &w.bytes);
      d.down = random_bf16(h, d.inter, ++k, &w.bytes);
    }
    w.layers.push_back(std::move(d));
  }
  w.embed = random_bf16(s.vocab_size, h, ++k, &w.bytes);
  w.final_norm = constant_f32(h, 1.0f, &w.bytes);
  if (!s.tie_word_embeddings) w.lm_head = random_bf16(s.vocab_size, h, ++k, &w.bytes);
  hw::cuda::check(cuCtxSynchronize(), "cuCtxSynchronize after random weight fill");
  return w;
}

}  // namespace synaptix::engine::cuda
