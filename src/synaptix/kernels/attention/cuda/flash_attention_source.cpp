// The CUDA C++ source of this op's kernels for a point of its space (no driver calls: NVRTC compiles it
// at run time; the launchers are in backend/cuda/launch/flash_attention.cpp).
#include "synaptix/kernels/attention/cuda/flash_attention_cuda.h"

#include <sstream>

#include "synaptix/core/error.h"
#include "synaptix/kernels/common/cuda/device_prelude.h"
#include "synaptix/kernels/cuda_sources.h"

namespace synaptix::kernels::cuda {
namespace {

// Shared memory holds Q [64][D], then two stages of K [64][D] and V [64][D], all bf16, each row's 16-byte
// chunks XOR-swizzled by the row so that ldmatrix reads of 8 rows at one column hit 8 different bank groups.
const std::string kBody(kernels::cuda_source("kernels/attention/cuda/flash_attention.cu"));


}  // namespace

bool flash_attention_supports(int64_t d) { return d == 16 || d == 32 || d == 64 || d == 128 || d == 256; }

std::string flash_attention_source(int64_t d, bool kv_fp8, bool kv_int8) {
  if (!flash_attention_supports(d)) fail("flash_attention: head_dim ", d, " is not one of 16, 32, 64, 128, 256");
  if (kv_fp8 && kv_int8) fail("flash_attention_source: the KV cache is fp8 or int8, not both");
  std::ostringstream os;
  os << kDevicePrelude << "#define D " << d << "\n#define KV_FP8 " << (kv_fp8 ? 1 : 0) << "\n#define KV_INT8 "
     << (kv_int8 ? 1 : 0) << "\n";
  if (kv_fp8) os << kernels::cuda_source("kernels/attention/cuda/kv_fp8.cuh");
  if (kv_int8) os << kernels::cuda_source("kernels/attention/cuda/kv_int8.cuh");
  os << kBody;
  return os.str();
}

}  // namespace synaptix::kernels::cuda
