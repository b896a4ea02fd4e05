// The CUDA profile in a build without the CUDA target: a clear error, not a silent empty profile.
#include "synaptix/profile_cuda.h"

#ifndef SYNAPTIX_HAVE_CUDA
#include <cstdio>

namespace synaptix::app {

int profile_cuda(int device) {
  std::fprintf(stderr,
               "error: cannot profile cuda:%d: this synaptix was built without CUDA (the CUDA target is handled in "
               "apps/synaptix/cuda/ when the toolkit is found at build time)\n",
               device);
  return 1;
}

}  // namespace synaptix::app
#endif
