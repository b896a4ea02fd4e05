// The CUDA C++ source of this op's kernels for a point of its space (no driver calls: NVRTC compiles it
// at run time; the launchers are in backend/cuda/launch/paged_attention.cpp).
#include "synaptix/kernels/attention/cuda/paged_attention_cuda.h"

#include <algorithm>
#include <sstream>
#include <string>

#include "synaptix/core/error.h"
#include "synaptix/kernels/common/cuda/device_prelude.h"
#include "synaptix/kernels/cuda_sources.h"
#include "synaptix/kernels/rope/cuda/rope_kv_cuda.h"

namespace synaptix::kernels::cuda {
namespace {

// Each warp walks its keys KPW at a time: the K and V rows of KPW keys are loaded before the first is used,
// so several loads are in flight per warp. Lane i holds elements [i * EPL, i * EPL + EPL) of a head.
// Three files, concatenated in this order after the #defines: the device helpers the kernels share (cached
// rows loaded and converted, the online softmax over a group of keys, the warp and split combines), then
// paged_attention with its one-key-per-lane prefill form and the split combine kernel, then the fused RoPE +
// decode attention kernel.
const std::string kBody = std::string(kernels::cuda_source("kernels/attention/cuda/kv_fp8.cuh")) +
                          std::string(kernels::cuda_source("kernels/attention/cuda/kv_int8.cuh")) +
                          std::string(kernels::cuda_source("kernels/attention/cuda/paged_attention_common.cuh")) +
                          std::string(kernels::cuda_source("kernels/attention/cuda/paged_attention.cu")) +
                          std::string(kernels::cuda_source("kernels/attention/cuda/decode_attention_rope.cu"));

}  // namespace

std::string paged_attention_source(int64_t g, int64_t d, bool kv_f32, int decode_warps, int decode_keys_per_warp,
                                   int decode_cluster, bool decode_reg_heads, bool kv_fp8, bool kv_int8) {
  if (int{kv_f32} + int{kv_fp8} + int{kv_int8} > 1)
    fail("paged_attention_source: the KV cache is one of f32, fp8 and int8 (kv_f32=", kv_f32, " kv_fp8=", kv_fp8,
         " kv_int8=", kv_int8, ")");
  if (decode_cluster != 0 && !decode_cluster_supported(decode_cluster))
    fail("paged_attention_source: decode cluster ", decode_cluster, " is not 0, 2, 4, 8 or 16");
  std::ostringstream os;
  os << kDevicePrelude << (decode_cluster ? kClusterPrelude : "") << rope_head_device_source() << "#define G "
     << g << "\n#define KV_F32 " << (kv_f32 ? 1 : 0) << "\n#define KV_FP8 " << (kv_fp8 ? 1 : 0)
     << "\n#define KV_INT8 " << (kv_int8 ? 1 : 0) << "\n#define D " << d << "\n#define DW " << decode_warps
     << "\n#define DKPW " << decode_keys_per_warp << "\n#define CLUSTER " << decode_cluster << "\n#define REG_HEADS "
     << (decode_reg_heads ? 1 : 0) << "\n" << kBody;
  return os.str();
}

}  // namespace synaptix::kernels::cuda
