#pragma once
// Loaded modules of the non-linear ABIs of generated_abi.h (gate_up_silu, add_rmsnorm, attention,
// lm_head_argmax), each with its entry point resolved and its ABI version checked. (Linear: linear_kernel.h.)
#include <string>

#include "synaptix/backend/module.h"
#include "synaptix/kernels/generated_abi.h"

namespace synaptix::tune {

// A module and one entry point of type Fn named `symbol`; throws naming the module when the symbol is
// missing or the ABI version differs.
template <typename Fn>
class GeneratedKernel {
 public:
  GeneratedKernel(const std::string& module_path, const char* symbol);
  Fn fn() const { return fn_; }
  const std::string& path() const { return module_.path(); }

 private:
  backend::Module module_;
  Fn fn_ = nullptr;
};

using GateUpSiluKernel = GeneratedKernel<kernels::GateUpSiluKernelFn>;
using AddRmsNormKernel = GeneratedKernel<kernels::AddRmsNormKernelFn>;
using AttentionKernel = GeneratedKernel<kernels::AttentionKernelFn>;
using LmHeadArgmaxKernel = GeneratedKernel<kernels::LmHeadArgmaxKernelFn>;

// The entry point of each ABI.
inline constexpr const char* kGateUpSiluSymbol = "synaptix_gate_up_silu";
inline constexpr const char* kAddRmsNormSymbol = "synaptix_add_rmsnorm";
inline constexpr const char* kAttentionSymbol = "synaptix_attention";
inline constexpr const char* kLmHeadArgmaxSymbol = "synaptix_lm_head_argmax";

}  // namespace synaptix::tune
