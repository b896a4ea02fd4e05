#include "synaptix/tune/fused_kernels.h"

#include "synaptix/core/error.h"

namespace synaptix::tune {

template <typename Fn>
GeneratedKernel<Fn>::GeneratedKernel(const std::string& module_path, const char* symbol) : module_(module_path) {
  auto version = reinterpret_cast<kernels::AbiVersionFn>(module_.symbol("synaptix_abi_version"));
  if (version() != kernels::kGeneratedAbiVersion)
    fail("kernel module ", module_path, " has ABI version ", version(), ", expected ", kernels::kGeneratedAbiVersion);
  fn_ = reinterpret_cast<Fn>(module_.symbol(symbol));
}

template class GeneratedKernel<kernels::GateUpSiluKernelFn>;
template class GeneratedKernel<kernels::AddRmsNormKernelFn>;
template class GeneratedKernel<kernels::AttentionKernelFn>;
template class GeneratedKernel<kernels::LmHeadArgmaxKernelFn>;

}  // namespace synaptix::tune
