#include "synaptix/backend/cuda/launch/embedding.h"

#include <algorithm>
#include <string>

#include "synaptix/backend/cuda/module.h"
#include "synaptix/core/error.h"
#include "synaptix/kernels/linear/cuda/gemv_bf16.h"

namespace synaptix::kernels::cuda {
namespace bc = backend::cuda;

static_assert(kGemvArgmaxWords == 32, "argmax_embedding reads a row's words one per lane of a warp");

namespace {
void launch_embedding(CUdeviceptr ids, CUdeviceptr words, CUdeviceptr ids_out, CUdeviceptr host_ids, CUdeviceptr table,
                      CUdeviceptr out, int64_t n, int64_t dim, CUstream stream, CUdeviceptr ss, int64_t ss_zero,
                      const StepMetaCopy& meta) {
  if (n <= 0 || dim <= 0) fail("embedding: bad shape n=", n, " dim=", dim);
  if ((meta.src == 0) != (meta.dst == 0)) fail("embedding: a metadata copy needs both its source and destination");
  for (int r = 0; r < StepMetaCopy::kRegions; ++r)
    if (meta.off[r] < 0 || meta.n[r] < 0) fail("embedding: metadata region ", r, " has a negative offset or length");
  if (meta.steps < 1 || meta.step_stride < 0 || (meta.steps > 1 && meta.step_stride == 0))
    fail("embedding: metadata of ", meta.steps, " steps ", meta.step_stride, " ints apart");
  if (meta.per_step_regions < 0 || meta.per_step_regions > StepMetaCopy::kRegions)
    fail("embedding: per_step_regions ", meta.per_step_regions, " outside 0..", StepMetaCopy::kRegions);
  CUfunction f = bc::cached_kernel("embedding", embedding_source, "embedding");
  int d = static_cast<int>(dim), z = static_cast<int>(ss_zero);
  StepMetaCopy mc = meta;
  void* args[] = {&ids, &words, &ids_out, &host_ids, &table, &out, &d, &ss, &z, &mc};
  bc::launch(f, {static_cast<unsigned>(n)}, {256}, 0, stream, args, words ? "argmax_embedding" : "embedding");
}
}  // namespace

void embedding(CUdeviceptr ids, CUdeviceptr table, CUdeviceptr out, int64_t n, int64_t dim, CUstream stream,
               CUdeviceptr ss, int64_t ss_zero, const StepMetaCopy& meta) {
  if (!ids || !table) fail("embedding: needs the token ids and the table");
  launch_embedding(ids, 0, 0, 0, table, out, n, dim, stream, ss, ss_zero, meta);
}

void argmax_embedding(CUdeviceptr words, CUdeviceptr ids, CUdeviceptr host_ids, CUdeviceptr table, CUdeviceptr out,
                      int64_t rows, int64_t dim, CUstream stream, CUdeviceptr ss, int64_t ss_zero) {
  if (!words || !ids) fail("argmax_embedding: needs the argmax words and the ids' destination");
  launch_embedding(0, words, ids, host_ids, table, out, rows, dim, stream, table ? ss : 0, ss_zero, {});
}

void scale_embeddings(CUdeviceptr x, int64_t n, float scale, CUstream stream) {
  if (n <= 0) fail("scale_embeddings: bad size n=", n);
  CUfunction f = bc::cached_kernel("embedding_scale", embedding_scale_source, "scale_f32");
  long long nn = n;
  void* args[] = {&x, &nn, &scale};
  const unsigned blocks = static_cast<unsigned>(std::min<int64_t>((n + 255) / 256, 4096));
  bc::launch(f, {blocks}, {256}, 0, stream, args, "scale_embeddings");
}

}  // namespace synaptix::kernels::cuda
