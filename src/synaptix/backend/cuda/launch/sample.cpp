#include "synaptix/backend/cuda/launch/sample.h"

#include <cmath>
#include <string>

#include "synaptix/backend/cuda/module.h"
#include "synaptix/core/error.h"

namespace synaptix::kernels::cuda {
namespace bc = backend::cuda;

void sample_rows(CUdeviceptr logits, CUdeviceptr ids, int64_t rows, int64_t vocab, const DeviceSampling& p,
                 CUstream stream) {
  if (rows <= 0 || rows > 65535 || vocab <= 0 || vocab >= (int64_t{1} << 24))
    fail("sample_rows: bad shape rows=", rows, " vocab=", vocab, " (expected 1..65535 rows, vocab below 2^24)");
  if (!(p.temperature > 0.0f) || !std::isfinite(p.temperature))
    fail("sample_rows: temperature ", p.temperature, " must be finite and > 0 (greedy is argmax_rows)");
  if (p.top_k < 0) fail("sample_rows: top_k ", p.top_k, " must be >= 0 (0: off)");
  if (std::isnan(p.top_p) || std::isnan(p.min_p)) fail("sample_rows: top_p ", p.top_p, " / min_p ", p.min_p, " is NaN");
  CUfunction f = bc::cached_kernel("sample_rows", sample_source, "sample_rows");
  int v = static_cast<int>(vocab), k = p.top_k;
  float t = p.temperature, tp = p.top_p, mp = p.min_p;
  unsigned long long seed = p.seed, step = p.step;
  void* args[] = {&logits, &ids, &v, &t, &k, &tp, &mp, &seed, &step};
  bc::launch(f, {static_cast<unsigned>(kSampleCluster), static_cast<unsigned>(rows)}, {kSampleThreads}, 0, stream, args,
             "sample_rows");
}

}  // namespace synaptix::kernels::cuda
