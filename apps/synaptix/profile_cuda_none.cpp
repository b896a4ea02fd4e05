// The CUDA profile in a build without the CUDA target: a clear error, not a silent empty profile.
#include "synaptix/profile_cuda.h"

#ifndef SYNAPTIX_CUDA_BINARY
#include <cstdio>

namespace synaptix::app {

int profile_cuda(int device) {
  std::fprintf(stderr,
               "error: cannot profile cuda:%d: this synaptix was built without the CUDA target (it is built as "
               "synaptix-cuda when the CUDA toolkit is found at build time)\n",
               device);
  return 1;
}

}  // namespace synaptix::app
#endif
