// The standalone GPU probes' error check (runtime API): print the failed call and leave main with 1.
#pragma once
#include <cuda_runtime.h>

#include <cstdio>

#define CHECK(x)                                                             \
  do {                                                                       \
    cudaError_t err_ = (x);                                                  \
    if (err_ != cudaSuccess) {                                               \
      std::fprintf(stderr, "%s failed: %s\n", #x, cudaGetErrorString(err_)); \
      return 1;                                                              \
    }                                                                        \
  } while (0)
