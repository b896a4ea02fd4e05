#include "synaptix/backend/cuda/launch/argmax.h"

#include <string>

#include "synaptix/backend/cuda/module.h"
#include "synaptix/core/error.h"

namespace synaptix::kernels::cuda {
namespace bc = backend::cuda;

void argmax_rows(CUdeviceptr logits, CUdeviceptr ids, int64_t rows, int64_t vocab, CUstream stream,
                 CUdeviceptr scratch, int64_t capacity, CUdeviceptr host_ids) {
  if (rows <= 0 || vocab <= 0) fail("argmax_rows: bad shape rows=", rows, " vocab=", vocab);
  if (scratch && rows > capacity)
    fail("argmax_rows: ", rows, " rows exceed the scratch's capacity of ", capacity, " (argmax_scratch_bytes)");
  int v = static_cast<int>(vocab);
  if (scratch && vocab >= 64 * kArgmaxSplits) {
    CUfunction f = bc::cached_kernel("argmax_rows", argmax_source, "argmax_split");
    // Pairs of this call's rows at the front; the counters after the pairs of `capacity` rows, so a call
    // with more rows never writes pairs over the counters of a call with fewer.
    CUdeviceptr pv = scratch, pi = scratch + static_cast<CUdeviceptr>(rows * kArgmaxSplits) * 4;
    CUdeviceptr counters = scratch + static_cast<CUdeviceptr>(capacity * kArgmaxSplits) * 8;
    void* args[] = {&logits, &pv, &pi, &counters, &ids, &host_ids, &v};
    bc::launch(f, {static_cast<unsigned>(rows), static_cast<unsigned>(kArgmaxSplits)}, {256}, 0, stream, args,
               "argmax_split");
    return;
  }
  CUfunction f = bc::cached_kernel("argmax_rows", argmax_source, "argmax_rows");
  void* args[] = {&logits, &ids, &host_ids, &v};
  bc::launch(f, {static_cast<unsigned>(rows)}, {1024}, 0, stream, args, "argmax_rows");
}

}  // namespace synaptix::kernels::cuda
