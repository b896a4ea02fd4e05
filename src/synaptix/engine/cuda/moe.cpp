// The routed-expert MLP of a MoE layer. The router runs on the device, and so does the routing (moe_route:
// softmax, top-k). Decode-sized steps then run every routed expert in two grouped kernels that add the
// weighted outputs into the residual stream: no host round trip, so the step can be captured. Larger steps
// run each expert as its own GEMMs on the rows routed to it, which needs the per-expert counts on the host
// (one small download and sync per MoE layer), so such steps are never captured (they are not decode-only
// anyway).
#include <algorithm>
#include <vector>

#include "synaptix/backend/cuda/launch/moe_experts.h"
#include "synaptix/backend/cuda/launch/moe_route.h"
#include "synaptix/backend/cuda/launch/moe_rows.h"
#include "synaptix/backend/cuda/launch/moe_sort.h"
#include "synaptix/backend/cuda/launch/swiglu.h"
#include "synaptix/core/error.h"
#include "synaptix/engine/cuda/cuda_executor_impl.h"

namespace synaptix::engine::cuda {

namespace kc = kernels::cuda;
using hw::cuda::check;

// Decode-sized steps run the grouped expert GEMVs with no host round trip (see moe()).
bool CudaExecutorImpl::moe_on_device(int64_t T) const {
  return T <= std::min<int64_t>(opt_.gemv_max_rows, moe_device_tokens_);
}

// ss_out (device-routed steps only): where the expert down kernel adds each token's sum of squares of the
// updated residual.
void CudaExecutorImpl::moe(const DeviceLayer& L, int64_t T, CUdeviceptr ss_out, CUdeviceptr norm_ss) {
  const int64_t h = s_.hidden_size, E = s_.num_experts, K = s_.num_experts_per_tok;
  // xn_ holds the f32 norm output (MoE layers always normalise to f32: routing decisions are sensitive);
  // with norm_ss the router GEMV normalises x_ in its prologue and writes xn_ itself.
  if (norm_ss)
    gemv(x_.ptr(), L.router.ptr(), router_.ptr(), T, E, h, false,
         {kc::GemvInput::RmsNorm, kc::GemvOutput::Plain, L.mlp_norm.ptr(), norm_ss, static_cast<float>(s_.rms_norm_eps), 0,
          xn_.ptr()});
  else
    linear(false, xn_.ptr(), L.router.ptr(), router_.ptr(), T, E, h, false);
  if (moe_on_device(T)) {
    kc::moe_route(router_.ptr(), moe_idx_.ptr(), moe_w_.ptr(), T, E, K, s_.norm_topk_prob, stream_);
    const DeviceBuffer& ptrs = moe_ptrs_[static_cast<size_t>(&L - w_.layers.data())];
    kc::MoeExpertsArgs a;
    a.x = xn_.ptr();
    a.residual = x_.ptr();
    a.ids = moe_idx_.ptr();
    a.weights = moe_w_.ptr();
    a.gate_up_ptrs = ptrs.ptr();
    a.down_ptrs = ptrs.ptr() + static_cast<CUdeviceptr>(E) * 8;
    a.act = moe_act_.ptr();
    a.tokens = T;
    a.top_k = K;
    a.experts = E;
    a.hidden = h;
    a.inter = L.inter;
    a.ss_out = ss_out;
    const auto spread = plan_.moe_down_spread.find(T);
    if (spread == plan_.moe_down_spread.end() || spread->second) {
      a.down_scratch = moe_down_scratch_.ptr();
      a.down_counters = moe_down_counters_.ptr();
    }
    kc::moe_experts(a, stream_);
    return;
  }
  // Larger steps: route and group the pairs by expert on the device; only the per-expert counts come to
  // the host, to size each expert's launches.
  kc::moe_route(router_.ptr(), moe_route_ids_.ptr(), moe_route_w_.ptr(), T, E, K, s_.norm_topk_prob, stream_);
  kc::moe_sort(moe_route_ids_.ptr(), moe_route_w_.ptr(), moe_counts_.ptr(), moe_idx_.ptr(), moe_w_.ptr(), T, K, E,
               stream_);
  std::vector<int32_t> counts(static_cast<size_t>(E));
  check(cuMemcpyDtoHAsync(counts.data(), moe_counts_.ptr(), counts.size() * 4, stream_), "download MoE expert counts");
  check(cuStreamSynchronize(stream_), "cuStreamSynchronize for MoE expert counts");
  int64_t routed = 0;
  for (int32_t n : counts) routed += n < 0 ? T * K + 1 : n;
  if (routed != T * K)  // our own invariant; checked because the counts size the launches below
    fail("MoE layer ", &L - w_.layers.data(), ": the device routing counted ", routed, " (token, expert) pairs, expected ",
         T * K);
  int64_t off = 0;
  for (int64_t e = 0; e < E; ++e) {
    const int64_t n = counts[static_cast<size_t>(e)];
    off += n;
    if (n == 0) continue;
    const int64_t first = off - n;
    const CUdeviceptr rows = moe_idx_.ptr() + static_cast<CUdeviceptr>(first) * 4;
    kc::gather_rows(xn_.ptr(), rows, moe_out_.ptr(), n, h, stream_);
    const bool tc = n > opt_.gemv_max_rows;
    linear(tc, moe_out_.ptr(), L.expert_gate_up[static_cast<size_t>(e)].ptr(), gu_.ptr(), n, 2 * L.inter, h, false);
    kc::swiglu(gu_.ptr(), act_.ptr(), n, L.inter, false, stream_);
    linear(tc, act_.ptr(), L.expert_down[static_cast<size_t>(e)].ptr(), moe_out_.ptr(), n, h, L.inter, false);
    kc::scatter_add_scaled(moe_out_.ptr(), rows, moe_w_.ptr() + static_cast<CUdeviceptr>(first) * 4, x_.ptr(), n, h,
                           stream_);
  }
}

}  // namespace synaptix::engine::cuda
