#include "synaptix/engine/cuda/device_weights.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "synaptix/backend/cuda/device_random.h"
#include "synaptix/core/error.h"
#include "synaptix/core/thread_pool.h"
#include "synaptix/hw/cuda/driver.h"
#include "synaptix/kernels/embedding/reference.h"
#include "synaptix/kernels/linear/quant_mma_layout.h"
#include "synaptix/model/model.h"
#include "synaptix/quant/weight_format.h"
#include "synaptix/quant/weight_quantize.h"

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

// The weight format `parts` share (they become one device matrix), or nullptr when none is in a weight format
// (uploaded as bf16). Throws naming the tensors when only some are, or in different formats, and when a row is
// not whole groups of its format or not a multiple of 4 elements (the CUDA kernels' units).
const quant::WeightFormat* packed_format(std::initializer_list<const TensorRef*> parts) {
  const quant::WeightFormat* f = quant::weight_format((*parts.begin())->dtype);
  for (const TensorRef* t : parts) {
    if (quant::weight_format(t->dtype) != f) {
      std::string names;
      for (const TensorRef* u : parts) names += (names.empty() ? "" : ", ") + u->name + " (" + std::string(dtype_name(u->dtype)) + ")";
      fail(t->file, ": the CUDA executor runs ", names, " as one product, so they must share one weight format");
    }
    if (f && (t->shape.size() != 2 || t->shape[1] % 4 != 0 ||
              static_cast<int64_t>(t->nbytes) != t->shape[0] * quant::weight_row_bytes(*f, t->shape[1])))
      fail(t->file, ": tensor ", t->name, " (", f->name, ", shape ", t->shape_str(), ", ", t->nbytes,
           " bytes) is not whole packed rows of a multiple of 4 elements, as the CUDA kernels read them");
  }
  return f;
}

int64_t mma_offset(const quant::WeightFormat& f, int64_t n, int64_t k) {
  return (n * quant::weight_row_bytes(f, k) + 255) / 256 * 256;
}

// n packed rows of format f as their tensor-core layout, after the rows themselves when `keep` (quant_mma_copy).
DeviceBuffer upload_packed(const quant::WeightFormat& f, const uint8_t* packed, int64_t n, int64_t k, bool keep, int64_t* bytes) {
  const kernels::cuda::QuantMmaLayout l = kernels::cuda::quant_mma_layout(f, n, k);
  const int64_t off = keep ? mma_offset(f, n, k) : 0;
  DeviceBuffer buf(static_cast<size_t>(off + l.total_bytes));
  if (keep) buf.upload(packed, static_cast<size_t>(n * quant::weight_row_bytes(f, k)));
  const std::vector<uint8_t> mma = kernels::cuda::quant_mma_repack(f, packed, n, k);
  buf.upload(mma.data(), mma.size(), static_cast<size_t>(off));
  *bytes += static_cast<int64_t>(buf.bytes());
  return buf;
}

// Row-concatenates packed matrices of format f (their rows are independent) into one device matrix.
DeviceBuffer upload_packed_rows(const quant::WeightFormat& f, std::initializer_list<const TensorRef*> parts, bool keep, int64_t* bytes) {
  std::vector<uint8_t> h;
  int64_t n = 0;
  for (const TensorRef* t : parts) {
    const auto* d = static_cast<const uint8_t*>(t->data);
    h.insert(h.end(), d, d + t->nbytes);
    n += t->shape[0];
  }
  return upload_packed(f, h.data(), n, (*parts.begin())->shape[1], keep, bytes);
}

// gate and up in the same weight format, their packed rows interleaved as upload_gate_up interleaves bf16 rows.
DeviceBuffer upload_packed_gate_up(const quant::WeightFormat& f, const TensorRef& gate, const TensorRef& up, bool keep, int64_t* bytes) {
  if (gate.shape != up.shape) fail("gate and up projections must have the same shape to be interleaved");
  const size_t rows = static_cast<size_t>(gate.shape[0]), rb = gate.nbytes / rows;
  std::vector<uint8_t> h(2 * gate.nbytes);
  const auto* g = static_cast<const uint8_t*>(gate.data);
  const auto* u = static_cast<const uint8_t*>(up.data);
  for (size_t r = 0; r < rows; ++r) {
    std::memcpy(h.data() + (2 * r) * rb, g + r * rb, rb);
    std::memcpy(h.data() + (2 * r + 1) * rb, u + r * rb, rb);
  }
  return upload_packed(f, h.data(), static_cast<int64_t>(2 * rows), gate.shape[1], keep, bytes);
}

// One projection matrix (q|k|v concatenated when given three): packed when its tensors are in a weight
// format, else bf16; records its dtype and the largest quantized matrix.
DeviceBuffer upload_matrix(std::initializer_list<const TensorRef*> parts, DType* dtype, DeviceWeights* w) {
  const quant::WeightFormat* f = packed_format(parts);
  if (!f) {
    *dtype = DType::BF16;
    return upload_rows(parts, &w->bytes);
  }
  *dtype = f->dtype;
  w->quantized = w->mma_layout = true;
  int64_t elems = 0;
  for (const TensorRef* t : parts) elems += t->numel();
  w->max_quantized_elems = std::max(w->max_quantized_elems, elems);
  return upload_packed_rows(*f, parts, w->packed_rows, &w->bytes);
}

DeviceBuffer upload_gate_up_matrix(const TensorRef& gate, const TensorRef& up, DType* dtype, DeviceWeights* w) {
  const quant::WeightFormat* f = packed_format({&gate, &up});
  if (!f) {
    *dtype = DType::BF16;
    return upload_gate_up(gate, up, &w->bytes);
  }
  *dtype = f->dtype;
  w->quantized = w->mma_layout = true;
  w->max_quantized_elems = std::max(w->max_quantized_elems, 2 * gate.numel());
  return upload_packed_gate_up(*f, gate, up, w->packed_rows, &w->bytes);
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

// rows x k uniform values in [-1/sqrt(k), 1/sqrt(k)] (a hash of seed and index: deterministic, parallel),
// packed by the CPU's round-to-nearest quantizer into format f.
std::vector<uint8_t> random_packed(const quant::WeightFormat& f, int64_t rows, int64_t k, uint64_t seed) {
  std::vector<float> v(static_cast<size_t>(rows * k));
  const float scale = 1.0f / std::sqrt(static_cast<float>(k));
  ThreadPool::global().parallel_for(v.size(), [&](size_t i0, size_t i1) {
    for (size_t i = i0; i < i1; ++i) {
      uint64_t z = seed * 0x9E3779B97F4A7C15ull + i;  // splitmix64
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
      z ^= z >> 31;
      v[i] = scale * (static_cast<float>(z >> 40) * (2.0f / 16777216.0f) - 1.0f);
    }
  }, 1 << 16);
  std::vector<uint8_t> out(static_cast<size_t>(rows * quant::weight_row_bytes(f, k)));
  quant::quantize_rows(f, v.data(), rows, k, out.data());
  return out;
}

DeviceBuffer upload_bytes(const std::vector<uint8_t>& h, int64_t* bytes) {
  DeviceBuffer buf(h.size());
  buf.upload(h.data(), h.size());
  *bytes += static_cast<int64_t>(h.size());
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

CUdeviceptr quant_mma_copy(const DeviceWeights& w, CUdeviceptr buf, DType wdt, int64_t n, int64_t k) {
  const quant::WeightFormat* f = quant::weight_format(wdt);
  if (!f) fail("quant_mma_copy: ", dtype_name(wdt), " is not a weight format");
  return w.packed_rows ? buf + static_cast<CUdeviceptr>(mma_offset(*f, n, k)) : buf;
}

DeviceWeights upload_weights(const model::Model& m, const graph::ForwardPlan& plan, bool keep_packed_rows) {
  DeviceWeights w;
  w.packed_rows = keep_packed_rows;
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
    d.qkv = upload_matrix({L.q, L.k, L.v}, &d.qkv_dtype, &w);
    if (L.q_bias) {
      if (!L.k_bias || !L.v_bias) fail("layer ", l, ": q bias present without k and v biases");
      d.qkv_bias = upload_f32({L.q_bias, L.k_bias, L.v_bias}, &w.bytes);
    }
    if (L.q_norm) {
      if (!L.k_norm) fail("layer ", l, ": q_norm present without k_norm");
      d.q_norm = upload_norm(L.q_norm, off, &w.bytes);
      d.k_norm = upload_norm(L.k_norm, off, &w.bytes);
    }
    d.o = upload_matrix({L.o}, &d.o_dtype, &w);
    if (L.router) {
      d.router = upload_rows({L.router}, &w.bytes);
      for (const model::ExpertWeights& e : L.experts) {
        for (const TensorRef* t : {e.gate, e.up, e.down})
          if (quant::weight_format(t->dtype))
            fail(t->file, ": tensor ", t->name, " is ", dtype_name(t->dtype), "; the CUDA executor has no kernel for "
                 "quantized MoE experts (leave the experts out of the quantization recipe, or run with --target cpu)");
        d.expert_gate_up.push_back(upload_gate_up(*e.gate, *e.up, &w.bytes));
        d.expert_down.push_back(upload_rows({e.down}, &w.bytes));
      }
      d.inter = L.experts.empty() ? 0 : L.experts[0].gate->shape[0];
    } else {
      d.gate_up = upload_gate_up_matrix(*L.gate, *L.up, &d.gate_up_dtype, &w);
      d.down = upload_matrix({L.down}, &d.down_dtype, &w);
      d.inter = L.gate->shape[0];
    }
    w.layers.push_back(std::move(d));
  }
  w.embed = upload_rows({m.embed}, &w.bytes);
  w.final_norm = upload_norm(m.final_norm, off, &w.bytes);
  if (m.lm_head && m.lm_head != m.embed) w.lm_head = upload_rows({m.lm_head}, &w.bytes);
  return w;
}

DeviceWeights random_weights(const model::Spec& s, const graph::ForwardPlan& plan, uint64_t seed, DType weights,
                             bool keep_packed_rows) {
  DeviceWeights w;
  w.packed_rows = keep_packed_rows;
  const int64_t h = s.hidden_size, qkv = s.q_dim() + 2 * s.kv_dim();
  uint64_t k = seed * 1000;
  const quant::WeightFormat* qf = quant::weight_format(weights);
  if (weights != DType::BF16 && !qf)
    fail("random weights: ", dtype_name(weights), " is neither bf16 nor a weight format (", quant::weight_format_names(), ")");
  if (qf && s.is_moe()) fail("random weights: quantized (", qf->name, ") MoE experts have no CUDA kernel");
  // One layer's packed matrices, quantized once on the host (in the rows' interleaving order of gate|up,
  // which for random rows is any order) and uploaded to every layer.
  std::vector<uint8_t> pq, po, pgu, pd;
  std::vector<uint8_t> mq, mo, mgu, md;  // as upload_packed lays them out
  if (qf) {
    pq = random_packed(*qf, qkv, h, seed * 4 + 1);
    po = random_packed(*qf, h, s.q_dim(), seed * 4 + 2);
    pgu = random_packed(*qf, 2 * s.intermediate_size, h, seed * 4 + 3);
    pd = random_packed(*qf, h, s.intermediate_size, seed * 4 + 4);
    const auto with_mma = [&](const std::vector<uint8_t>& p, int64_t n, int64_t kk) {
      std::vector<uint8_t> out(static_cast<size_t>(keep_packed_rows ? mma_offset(*qf, n, kk) : 0), 0);
      if (keep_packed_rows) std::copy(p.begin(), p.end(), out.begin());
      const std::vector<uint8_t> mma = kernels::cuda::quant_mma_repack(*qf, p.data(), n, kk);
      out.insert(out.end(), mma.begin(), mma.end());
      return out;
    };
    mq = with_mma(pq, qkv, h);
    mo = with_mma(po, h, s.q_dim());
    mgu = with_mma(pgu, 2 * s.intermediate_size, h);
    md = with_mma(pd, h, s.intermediate_size);
    w.quantized = w.mma_layout = true;
    w.max_quantized_elems = std::max({qkv * h, h * s.q_dim(), 2 * s.intermediate_size * h, h * s.intermediate_size});
  }
  for (int64_t l = 0; l < s.num_layers; ++l) {
    DeviceLayer d;
    d.attn_norm = constant_f32(h, 1.0f, &w.bytes);
    d.mlp_norm = constant_f32(h, 1.0f, &w.bytes);
    const graph::LayerStep& P = plan.layers[static_cast<size_t>(l)];
    if (P.post_attention_norm) d.post_attn_norm = constant_f32(h, 1.0f, &w.bytes);
    if (P.post_mlp_norm) d.post_mlp_norm = constant_f32(h, 1.0f, &w.bytes);
    if (qf) {
      d.qkv = upload_bytes(mq, &w.bytes);
      d.o = upload_bytes(mo, &w.bytes);
      d.gate_up = upload_bytes(mgu, &w.bytes);
      d.down = upload_bytes(md, &w.bytes);
      d.qkv_dtype = d.o_dtype = d.gate_up_dtype = d.down_dtype = qf->dtype;
      d.inter = s.intermediate_size;
      k += 4;
    } else {
      d.qkv = random_bf16(qkv, h, ++k, &w.bytes);
    }
    if (s.attention_bias) {
      d.qkv_bias = DeviceBuffer(static_cast<size_t>(qkv) * 4);
      backend::cuda::fill_uniform_f32(d.qkv_bias.ptr(), static_cast<size_t>(qkv), ++k, 0.02f, nullptr);
      w.bytes += qkv * 4;
    }
    if (s.qk_norm) {
      d.q_norm = constant_f32(s.head_dim, 1.0f, &w.bytes);
      d.k_norm = constant_f32(s.head_dim, 1.0f, &w.bytes);
    }
    if (!qf) {  // (quantized: the projections are uploaded above)
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
