#include "synaptix/tune/linear_kernel.h"

#include "synaptix/core/error.h"

namespace synaptix::tune {

LinearKernel::LinearKernel(const std::string& module_path) : module_(module_path) {
  auto version = reinterpret_cast<kernels::AbiVersionFn>(module_.symbol("synaptix_abi_version"));
  if (version() != kernels::kGeneratedAbiVersion)
    fail("kernel module ", module_path, " has ABI version ", version(), ", expected ", kernels::kGeneratedAbiVersion);
  run_ = reinterpret_cast<kernels::LinearKernelFn>(module_.symbol("synaptix_linear"));
  pack_ = reinterpret_cast<kernels::LinearPackFn>(module_.symbol("synaptix_linear_pack"));
  packed_bytes_ = reinterpret_cast<kernels::LinearPackedBytesFn>(module_.symbol("synaptix_linear_packed_bytes"))();
  if (packed_bytes_ < 0) fail("kernel module ", module_path, " reports negative packed size ", packed_bytes_);
  if (void* a = module_.find("synaptix_linear_activations")) {
    activations_ = reinterpret_cast<const char* (*)()>(a)();
    if (activations_ != "bf16") fail("kernel module ", module_path, " computes with activations '", activations_, "', expected bf16");
  }
}

}  // namespace synaptix::tune
