#pragma once
// A loaded linear module (generated_abi.h) with its entry points resolved and its ABI version checked.
#include <cstdint>
#include <string>

#include "synaptix/backend/module.h"
#include "synaptix/kernels/generated_abi.h"

namespace synaptix::tune {

class LinearKernel {
 public:
  // Throws naming the module when a symbol is missing or the ABI version differs.
  explicit LinearKernel(const std::string& module_path);

  int64_t packed_bytes() const { return packed_bytes_; }
  // Re-lays W into `packed` (packed_bytes() long); only when packed_bytes() > 0.
  void pack(const void* w, void* packed) const { pack_(w, packed); }
  // `w` is the packed copy when packed_bytes() > 0, else W as given.
  void run(const synaptix_runtime* rt, const float* x, const void* w, const float* bias, float* y,
           int64_t m) const {
    run_(rt, x, w, bias, y, m);
  }
  const std::string& path() const { return module_.path(); }
  // What x is rounded to before the products ("f32": not at all), from the module's optional
  // synaptix_linear_activations symbol; verification allows for that rounding and no more.
  const std::string& activations() const { return activations_; }

 private:
  backend::Module module_;
  kernels::LinearKernelFn run_ = nullptr;
  kernels::LinearPackFn pack_ = nullptr;
  int64_t packed_bytes_ = 0;
  std::string activations_ = "f32";
};

}  // namespace synaptix::tune
