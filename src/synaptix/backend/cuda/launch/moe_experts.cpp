#include "synaptix/backend/cuda/launch/moe_experts.h"

#include <algorithm>
#include <sstream>

#include "synaptix/backend/cuda/module.h"
#include "synaptix/core/error.h"

namespace synaptix::kernels::cuda {
namespace bc = backend::cuda;

void moe_experts(const MoeExpertsArgs& a, CUstream stream) {
  if (!moe_experts_supports(a.tokens, a.top_k, a.hidden, a.inter))
    fail("moe_experts: tokens=", a.tokens, " top_k=", a.top_k, " hidden=", a.hidden, " inter=", a.inter,
         ": expected 1..", kMoeExpertsMaxTokens, " tokens, tokens * top_k <= ", kMoeExpertsMaxPairs,
         " and hidden, inter multiples of 8");
  if (a.top_k > a.experts) fail("moe_experts: top_k=", a.top_k, " exceeds the ", a.experts, " experts");
  if (a.x % 16 || a.act % 16) fail("moe_experts: the input and the act scratch must be 16-byte aligned");
  if ((a.down_scratch == 0) != (a.down_counters == 0))
    fail("moe_experts: the spread down kernel needs both down_scratch and down_counters");
  if (!a.residual || !a.ids || !a.weights || !a.gate_up_ptrs || !a.down_ptrs)
    fail("moe_experts: residual, ids, weights and both expert pointer arrays are required");
  const std::string name = "moe_experts_m" + std::to_string(a.tokens) + "_k" + std::to_string(a.top_k);
  auto src = [&] { return moe_experts_source(a.tokens, a.top_k); };
  CUfunction gate_up = bc::cached_kernel(name, src, "moe_gate_up");
  CUfunction down = bc::cached_kernel(name, src, "moe_down");
  CUdeviceptr x = a.x, ids = a.ids, wts = a.weights, gu = a.gate_up_ptrs, dn = a.down_ptrs, act = a.act,
              res = a.residual;
  int h = static_cast<int>(a.hidden), inter = static_cast<int>(a.inter);
  const unsigned slots = static_cast<unsigned>(std::min(a.tokens * a.top_k, a.experts));
  void* args_gu[] = {&x, &ids, &gu, &act, &h, &inter};
  bc::launch(gate_up, {static_cast<unsigned>((a.inter + kMoeExpertsWarps - 1) / kMoeExpertsWarps), slots}, {kMoeExpertsWarps * 32}, 0, stream,
             args_gu, "moe_gate_up");
  CUdeviceptr ss_out = a.ss_out;
  const int64_t rows = kMoeExpertsWarps * kMoeDownRowsPerWarp;
  const unsigned row_blocks = static_cast<unsigned>((a.hidden + rows - 1) / rows);
  if (a.down_scratch && a.down_counters) {
    CUfunction spread = bc::cached_kernel(name, src, "moe_down_spread");
    CUdeviceptr scratch = a.down_scratch, counters = a.down_counters;
    void* args_sp[] = {&act, &ids, &wts, &dn, &res, &h, &inter, &scratch, &counters, &ss_out};
    bc::launch(spread, {row_blocks, slots}, {kMoeExpertsWarps * 32}, 0, stream, args_sp, "moe_down_spread");
    return;
  }
  void* args_dn[] = {&act, &ids, &wts, &dn, &res, &h, &inter, &ss_out};
  bc::launch(down, {row_blocks}, {kMoeExpertsWarps * 32}, 0, stream, args_dn, "moe_down");
}

}  // namespace synaptix::kernels::cuda
