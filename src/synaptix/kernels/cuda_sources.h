#pragma once
// The CUDA C++ sources of the kernels, kept as real files (src/synaptix/**/cuda/*.cu and *.cuh) and embedded
// into the binary at build time (cmake/cuda_sources.cmake); NVRTC still compiles them at run time for the
// exact device. A generator prepends its parameters as #defines to the file's text.
#include <string_view>

namespace synaptix::kernels {

// The text of an embedded source, by its path under src/synaptix (e.g. "kernels/rmsnorm/cuda/rmsnorm.cu").
// Throws synaptix::Error naming the path when no such file was embedded.
std::string_view cuda_source(std::string_view path);

}  // namespace synaptix::kernels
