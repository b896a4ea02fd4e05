#include "synaptix/kernels/attention/cuda/flash_attention_cuda.h"

#include <sstream>

#include "synaptix/backend/cuda/device_prelude.h"
#include "synaptix/backend/cuda/module.h"
#include "synaptix/core/error.h"
#include "synaptix/hw/cuda/driver.h"
#include "synaptix/kernels/cuda_sources.h"

namespace synaptix::kernels::cuda {
namespace bc = backend::cuda;
namespace {

// Shared memory holds Q [64][D], then two stages of K [64][D] and V [64][D], all bf16, each row's 16-byte
// chunks XOR-swizzled by the row so that ldmatrix reads of 8 rows at one column hit 8 different bank groups.
const std::string kBody(kernels::cuda_source("kernels/attention/cuda/flash_attention.cu"));

int64_t smem_bytes(int64_t d) { return (64 + 4 * 64) * d * 2; }

}  // namespace

bool flash_attention_supports(int64_t d) { return d == 16 || d == 32 || d == 64 || d == 128 || d == 256; }

std::string flash_attention_source(int64_t d) {
  if (!flash_attention_supports(d)) fail("flash_attention: head_dim ", d, " is not one of 16, 32, 64, 128, 256");
  std::ostringstream os;
  os << bc::kDevicePrelude << "#define D " << d << "\n" << kBody;
  return os.str();
}

void flash_attention(const FlashAttentionArgs& a, CUstream stream) {
  if (!flash_attention_supports(a.head_dim))
    fail("flash_attention: head_dim ", a.head_dim, " is not one of 16, 32, 64, 128, 256");
  if (a.kv_heads <= 0 || a.heads % a.kv_heads) fail("flash_attention: heads ", a.heads, " not a multiple of kv_heads ", a.kv_heads);
  if (a.q_stride % 4) fail("flash_attention: q_stride ", a.q_stride, " must be a multiple of 4 (16-byte loads)");
  if (a.num_tiles <= 0) return;
  const std::string name = "flash_attention_d" + std::to_string(a.head_dim);
  CUfunction f = bc::cached_kernel(name, [&] { return flash_attention_source(a.head_dim); }, "flash_attention");
  const unsigned smem = static_cast<unsigned>(smem_bytes(a.head_dim));
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
