// The W8A8 FP8 product (linear_w8a8.h) and the CUDA executor's use of it: the requirements checked and the
// buffers allocated at construction (setup_w8a8), and the products of fp8-e4m3-pc matrices too large for the
// tensor-core quantized product routed to it (linear_w8a8, called by linear_dispatch.cpp before it would
// expand the weights to bf16).
#include "synaptix/engine/cuda/linear_w8a8.h"

#include <algorithm>
#include <string>
#include <vector>

#include "synaptix/backend/cuda/launch/fp8_w8a8.h"
#include "synaptix/core/error.h"
#include "synaptix/engine/cuda/cuda_executor_impl.h"
#include "synaptix/engine/fp8_activations.h"
#include "synaptix/kernels/linear/quant_mma_layout.h"
#include "synaptix/quant/weight_format.h"

namespace synaptix::engine::cuda {

namespace kc = kernels::cuda;
using backend::cuda::DeviceBuffer;
using hw::cuda::check;

namespace {

const quant::WeightFormat& fp8_format() {
  const quant::WeightFormat* f = quant::weight_format(DType::FP8_PC);
  if (!f) fail("W8A8: internal: no fp8-e4m3-pc weight format");
  return *f;
}

// Where the layout at wm keeps its f32 row scales.
CUdeviceptr row_scales(CUdeviceptr wm, int64_t n, int64_t k) {
  return wm + static_cast<CUdeviceptr>(kc::quant_mma_layout(fp8_format(), n, k).scales_offset);
}

}  // namespace

W8A8Linear::W8A8Linear(const Limits& limits, bool resident, bool fast_accumulation)
    : limits_(limits), resident_on_(resident), mm_(fast_accumulation) {
  if (limits.max_rows < 1 || limits.max_k < 1 || limits.max_weight_elems < 1)
    fail("W8A8: internal: limits rows ", limits.max_rows, ", k ", limits.max_k, ", weights ", limits.max_weight_elems);
  xq_ = DeviceBuffer(static_cast<size_t>(limits.max_rows * limits.max_k));
  xs_ = DeviceBuffer(static_cast<size_t>(limits.max_rows) * 4);
  if (!resident) codes_ = DeviceBuffer(static_cast<size_t>(limits.max_weight_elems));
  // When cuBLASLt cannot apply the scales itself (the H100's so far) an accumulating product goes through a
  // buffer of its own first.
  mm_.reserve_product(static_cast<size_t>(limits.max_rows * std::max<int64_t>(limits.max_acc_n, 1)) * 4);
}

void W8A8Linear::make_resident(CUdeviceptr wm, int64_t n, int64_t k, CUstream stream) {
  if (!resident_on_) fail("W8A8: internal: make_resident without resident codes");
  if (resident_codes_.count(wm)) return;
  DeviceBuffer codes(static_cast<size_t>(n * k));
  kc::fp8_codes_from_mma(wm, codes.ptr(), n, k, stream);
  check(cuStreamSynchronize(stream), "cuStreamSynchronize (W8A8 resident codes)");
  resident_bytes_ += n * k;
  resident_codes_.emplace(wm, std::move(codes));
}

void W8A8Linear::run(CUdeviceptr x, bool x_bf16, CUdeviceptr wm, CUdeviceptr y, int64_t m, int64_t n, int64_t k, bool acc,
                     CUstream stream, int algorithm) {
  if (m < 1 || m > limits_.max_rows || k > limits_.max_k || n * k > limits_.max_weight_elems)
    fail("W8A8 product m=", m, " n=", n, " k=", k, " exceeds the executor's limits (", limits_.max_rows, " rows, k <= ",
         limits_.max_k, ", n * k <= ", limits_.max_weight_elems, ")");
  CUdeviceptr codes = codes_.ptr();
  if (resident_on_) {
    const auto it = resident_codes_.find(wm);
    if (it == resident_codes_.end()) fail("W8A8: internal: no resident codes for the ", n, " x ", k, " matrix");
    codes = it->second.ptr();
  } else {
    kc::fp8_codes_from_mma(wm, codes, n, k, stream);
  }
  if (x_bf16) kc::fp8_quantize_rows_bf16(x, xq_.ptr(), xs_.ptr(), m, k, stream);
  else kc::fp8_quantize_rows(x, xq_.ptr(), xs_.ptr(), m, k, stream);
  mm_.run(xq_.ptr(), xs_.ptr(), codes, row_scales(wm, n, k), y, m, n, k, stream, algorithm, acc);
}

// The executor's side. Every dense projection must be fp8-e4m3-pc (check_fp8_activations names the first that
// is not); the LM head and the embedding stay bf16.
void CudaExecutorImpl::setup_w8a8() {
  CUdevice dev = 0;
  check(cuCtxGetDevice(&dev), "cuCtxGetDevice");
  int major = 0, minor = 0;
  check(cuDeviceGetAttribute(&major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dev), "cuDeviceGetAttribute");
  check(cuDeviceGetAttribute(&minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, dev), "cuDeviceGetAttribute");
  char name[256] = {};
  check(cuDeviceGetName(name, sizeof name, dev), "cuDeviceGetName");
  const int64_t h = s_.hidden_size, qkv_n = s_.q_dim() + 2 * s_.kv_dim();
  std::vector<ProjectionWeights> projections;
  struct Matrix {
    CUdeviceptr w;
    int64_t n, k;
  };
  std::vector<Matrix> matrices;
  for (size_t l = 0; l < w_.layers.size(); ++l) {
    const DeviceLayer& L = w_.layers[l];
    const std::string layer = "layer " + std::to_string(l) + " ";
    const auto add = [&](const char* what, const DeviceBuffer& b, DType dt, int64_t n, int64_t k) {
      if (!b.bytes()) return;  // a MoE layer's MLP (its experts are bf16: refused as such below)
      projections.push_back({layer + what, dt, n, k});
      matrices.push_back({b.ptr(), n, k});
    };
    add("q|k|v", L.qkv, L.qkv_dtype, qkv_n, h);
    add("o", L.o, L.o_dtype, h, s_.q_dim());
    add("gate|up", L.gate_up, L.gate_up_dtype, 2 * L.inter, h);
    add("down", L.down, L.down_dtype, h, L.inter);
    if (!L.expert_gate_up.empty()) projections.push_back({layer + "experts", DType::BF16, 2 * L.inter, h});
  }
  check_fp8_activations(projections, major, minor, name);
  if (!w_.mma_layout) fail("CUDA executor: internal: activations=fp8 without the weights' tensor-core layout");
  W8A8Linear::Limits lim;
  lim.max_rows = opt_.max_tokens_per_step;
  lim.max_weight_elems = w_.max_quantized_elems;
  lim.max_acc_n = h;
  for (const Matrix& mx : matrices) lim.max_k = std::max(lim.max_k, mx.k);
  w8a8_ = std::make_unique<W8A8Linear>(lim, opt_.fp8_resident_codes);
  if (opt_.fp8_resident_codes)
    for (const Matrix& mx : matrices) w8a8_->make_resident(quant_mma_copy(w_, mx.w, DType::FP8_PC, mx.n, mx.k), mx.n, mx.k, stream_);
  w_.bytes += w8a8_->resident_bytes();  // weight_bytes() says what the weights hold
}

bool CudaExecutorImpl::linear_w8a8(CUdeviceptr x, bool x_bf16, CUdeviceptr w, CUdeviceptr y, int64_t m, int64_t n,
                                   int64_t k, bool acc, DType wdt) {
  if (!w8a8_ || wdt != DType::FP8_PC) return false;
  w8a8_->run(x, x_bf16, quant_mma_copy(w_, w, wdt, n, k), y, m, n, k, acc, stream_);
  return true;
}

}  // namespace synaptix::engine::cuda
