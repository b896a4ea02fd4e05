#pragma once
// The CUDA linear op's generators behind the one generator interface (kernels/generator.h), as the CUDA
// target of the tuning loop (tune/cuda/cuda_linear_target.h) searches them: y[m, n] = x W^T with bf16 W,
// f32 x and y, one m per op.
//   - "cuda_gemv_bf16" (m <= 8): the generated decode GEMV; its points are gemv_search_space's, in its order,
//     its dimensions each parameter's values over them, its source gemv_bf16_source for NVRTC;
//   - "cublaslt_bf16" (m > 8): cuBLASLt's tensor-core algorithms, by heuristic index, as many as the device's
//     heuristic offers for the shape; no source of ours.
// How a GEMV point is written as JSON (the tuning database's and the recipes' form) is the target's: it is
// passed in, so the two cannot disagree.
#include <cstdint>
#include <functional>
#include <map>
#include <tuple>

#include "synaptix/kernels/generator.h"
#include "synaptix/kernels/linear/cuda/gemv_bf16.h"

namespace synaptix::kernels::cuda {

struct GemvPointForm {
  std::function<nlohmann::json(const GemvParams&)> to_json;
  std::function<GemvParams(const nlohmann::json&)> from_json;
};

// A linear op with bf16 W and a single m (what both generators compute).
bool cuda_bf16_linear(const graph::Op& op);

class GemvBf16Generator final : public Generator {
 public:
  explicit GemvBf16Generator(GemvPointForm form) : form_(std::move(form)) {}
  std::string name() const override { return "cuda_gemv_bf16"; }
  bool applies(const graph::Op& op) const override { return cuda_bf16_linear(op) && op.m <= 8; }
  std::vector<ParamDim> space(const graph::Op& op) const override { return dims_of_points(points(op)); }
  bool valid(const graph::Op& op, const nlohmann::json& point) const override;
  std::vector<nlohmann::json> points(const graph::Op& op) const override;
  KernelSource emit(const graph::Op& op, const nlohmann::json& point) const override;

 private:
  GemvPointForm form_;
};

class BlasLtBf16Generator final : public Generator {
 public:
  // Per (m, n, k): how many algorithms cuBLASLt's heuristic offers on the device (absent: 1).
  explicit BlasLtBf16Generator(std::map<std::tuple<int64_t, int64_t, int64_t>, int> algorithm_counts)
      : counts_(std::move(algorithm_counts)) {}
  std::string name() const override { return "cublaslt_bf16"; }
  bool applies(const graph::Op& op) const override { return cuda_bf16_linear(op) && op.m > 8; }
  std::vector<ParamDim> space(const graph::Op& op) const override { return dims_of_points(points(op)); }
  bool valid(const graph::Op& op, const nlohmann::json& point) const override;
  std::vector<nlohmann::json> points(const graph::Op& op) const override;
  KernelSource emit(const graph::Op& op, const nlohmann::json& point) const override;

 private:
  std::map<std::tuple<int64_t, int64_t, int64_t>, int> counts_;
};

}  // namespace synaptix::kernels::cuda
