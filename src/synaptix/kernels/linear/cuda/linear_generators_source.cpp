// The CUDA linear op's generators (linear_generators.h). Compiled into the driver-free synaptix_cuda_sources
// (the *_source.cpp rule), so CPU test binaries check them without a GPU.
#include "synaptix/kernels/linear/cuda/linear_generators.h"

#include <algorithm>


namespace synaptix::kernels::cuda {

bool cuda_bf16_linear(const graph::Op& op) {
  return op.kind == graph::OpKind::Linear && op.w_dtype == DType::BF16 && op.m == op.m_lo;
}

std::vector<nlohmann::json> GemvBf16Generator::points(const graph::Op& op) const {
  std::vector<nlohmann::json> out;
  if (!applies(op)) return out;
  for (const GemvParams& p : gemv_search_space(static_cast<int>(op.m), op.n, op.k)) out.push_back(form_.to_json(p));
  return out;
}

bool GemvBf16Generator::valid(const graph::Op& op, const nlohmann::json& point) const {
  if (!applies(op)) return false;
  // One of the listed schedules, written exactly as the form writes it (no stray or missing field).
  GemvParams p;
  try {
    p = form_.from_json(point);
  } catch (const std::exception&) {
    return false;
  }
  if (form_.to_json(p) != point) return false;
  const auto all = gemv_search_space(static_cast<int>(op.m), op.n, op.k);
  return std::find(all.begin(), all.end(), p) != all.end();
}

KernelSource GemvBf16Generator::emit(const graph::Op& op, const nlohmann::json& point) const {
  // Not checked against points(): a point the database remembers from an older space still builds (the
  // kernel generator refuses what it has no form for).
  return {gemv_bf16_source(static_cast<int>(op.m), form_.from_json(point)), {}};
}

std::vector<nlohmann::json> BlasLtBf16Generator::points(const graph::Op& op) const {
  std::vector<nlohmann::json> out;
  if (!applies(op)) return out;
  const auto it = counts_.find({op.m, op.n, op.k});
  const int count = it == counts_.end() ? 1 : std::max(1, it->second);
  for (int a = 0; a < count; ++a) out.push_back({{"algorithm", a}});
  return out;
}

bool BlasLtBf16Generator::valid(const graph::Op& op, const nlohmann::json& point) const {
  const auto all = points(op);
  return std::find(all.begin(), all.end(), point) != all.end();
}

KernelSource BlasLtBf16Generator::emit(const graph::Op&, const nlohmann::json&) const {
  return {};  // a library's algorithm: the point itself is all the runner needs
}

}  // namespace synaptix::kernels::cuda
