#include "synaptix/backend/cuda/launch/rope_kv.h"

#include <string>

#include "synaptix/backend/cuda/module.h"
#include "synaptix/core/error.h"
#include "synaptix/kernels/attention/cuda/kv_int8_layout.h"

namespace synaptix::kernels::cuda {
namespace bc = backend::cuda;

void rope_kv_write(const RopeKvArgs& a, CUstream stream) {
  if (a.tokens <= 0 || a.heads <= 0 || a.kv_heads <= 0 || a.head_dim <= 0 || a.rotary_dim > a.head_dim ||
      a.rotary_dim % 2 != 0)
    fail("rope_kv_write: bad shape tokens=", a.tokens, " heads=", a.heads, " kv_heads=", a.kv_heads,
         " head_dim=", a.head_dim, " rotary_dim=", a.rotary_dim);
  if (int{a.kv_f32} + int{a.kv_fp8} + int{a.kv_int8} > 1)
    fail("rope_kv_write: the KV cache is one of f32, fp8 and int8 (kv_f32=", a.kv_f32, " kv_fp8=", a.kv_fp8, " kv_int8=", a.kv_int8, ")");
  if (a.kv_int8 && !kv_int8_block_size_ok(a.block_size))
    fail("rope_kv_write: an int8 KV cache needs a block size that is a multiple of 4, got ", a.block_size);
  CUfunction f = bc::cached_kernel("rope_kv_write", rope_kv_source, "rope_kv_write");
  long long stride = a.stride;
  int rot = static_cast<int>(a.rotary_dim), H = static_cast<int>(a.heads), KVH = static_cast<int>(a.kv_heads),
      D = static_cast<int>(a.head_dim);
  float eps = a.eps, scale = a.attention_scaling;
  CUdeviceptr qkv = a.qkv, bias = a.bias, qn = a.q_norm, kn = a.k_norm, pos = a.positions, slots = a.slots,
              invf = a.inv_freq, kc = a.k_cache, vc = a.v_cache;
  int kvf = a.kv_f32 ? 1 : a.kv_fp8 ? 2 : a.kv_int8 ? 3 : 0;
  int bs = static_cast<int>(a.block_size);
  void* args[] = {&qkv, &stride, &bias, &qn, &kn, &eps, &pos, &slots, &invf, &rot, &scale, &kc, &vc, &H, &KVH, &D, &kvf, &bs};
  const unsigned head_blocks = static_cast<unsigned>((a.heads + 2 * a.kv_heads + 3) / 4);
  bc::launch(f, {static_cast<unsigned>(a.tokens), head_blocks}, {128}, static_cast<unsigned>(4 * D * sizeof(float)), stream, args,
             "rope_kv_write");
}

}  // namespace synaptix::kernels::cuda
