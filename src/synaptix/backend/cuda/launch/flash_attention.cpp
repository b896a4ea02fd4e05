#include "synaptix/backend/cuda/launch/flash_attention.h"

#include <sstream>

#include "synaptix/backend/cuda/module.h"
#include "synaptix/core/error.h"
#include "synaptix/hw/cuda/driver.h"
#include "synaptix/kernels/attention/cuda/kv_int8_layout.h"

namespace synaptix::kernels::cuda {
namespace bc = backend::cuda;

void flash_attention(const FlashAttentionArgs& a, CUstream stream) {
  if (!flash_attention_supports(a.head_dim))
    fail("flash_attention: head_dim ", a.head_dim, " is not one of 16, 32, 64, 128, 256");
  if (a.kv_heads <= 0 || a.heads % a.kv_heads) fail("flash_attention: heads ", a.heads, " not a multiple of kv_heads ", a.kv_heads);
  if (a.q_stride % 4) fail("flash_attention: q_stride ", a.q_stride, " must be a multiple of 4 (16-byte loads)");
  if (a.num_tiles <= 0) return;
  if (a.kv_fp8 && a.kv_int8) fail("flash_attention: the KV cache is fp8 or int8, not both");
  if (a.kv_int8 && !kv_int8_block_size_ok(a.block_size))
    fail("flash_attention: an int8 KV cache needs a block size that is a multiple of 4, got ", a.block_size);
  const std::string name = "flash_attention_d" + std::to_string(a.head_dim) + (a.kv_fp8 ? "_kvfp8" : a.kv_int8 ? "_kvint8" : "");
  CUfunction f = bc::cached_kernel(name, [&] { return flash_attention_source(a.head_dim, a.kv_fp8, a.kv_int8); }, "flash_attention");
  const unsigned smem = static_cast<unsigned>((64 + 4 * 64) * a.head_dim * 2);  // Q tile + K/V tiles, bf16
  hw::cuda::check(cuFuncSetAttribute(f, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, static_cast<int>(smem)),
                  "cuFuncSetAttribute(flash_attention shared memory)");
  CUdeviceptr q = a.q, k = a.k_cache, v = a.v_cache, tiles = a.tiles, pos = a.positions, bt = a.block_tables, out = a.out;
  long long qs = a.q_stride;
  int nt = static_cast<int>(a.num_tiles), ts = static_cast<int>(a.table_stride), bs = static_cast<int>(a.block_size),
      H = static_cast<int>(a.heads), KVH = static_cast<int>(a.kv_heads), win = static_cast<int>(a.window);
  float sl2 = a.scale * 1.4426950408889634f;
  void* args[] = {&q, &qs, &k, &v, &tiles, &nt, &pos, &bt, &ts, &bs, &H, &KVH, &win, &sl2, &out};
  bc::launch(f, {static_cast<unsigned>(a.num_tiles), static_cast<unsigned>(a.heads)}, {128}, smem, stream, args,
             "flash_attention");
}

}  // namespace synaptix::kernels::cuda
