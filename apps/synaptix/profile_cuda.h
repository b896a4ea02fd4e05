#pragma once
// `synaptix profile --target cuda:N` is implemented with the CUDA target (apps/synaptix/cuda/); builds
// without CUDA link profile_cuda_none.cpp, which says so.
namespace synaptix::app {

// Prints the profile of CUDA device `device`; returns the process exit code.
int profile_cuda(int device);

}  // namespace synaptix::app
