#pragma once
// Launcher of the embedding lookup and the greedy step's argmax fused with the next step's embedding (the
// kernel, its arguments and its source: kernels/embedding/cuda/embedding_cuda.h): compiles and loads the kernel
// through the module cache on first use, then enqueues it on `stream`. Launchers keep their op's namespace; they
// sit in backend/ because they call the driver.
#include <cuda.h>

#include <cstdint>

#include "synaptix/kernels/embedding/cuda/embedding_cuda.h"

namespace synaptix::kernels::cuda {

// `ids`: the token ids, device memory or mapped pinned host memory.
// With `ss`, also writes each row's sum of squares to ss[i] (the first RMSNorm's statistic, see
// GemvInput::RmsNorm) and zeroes ss[n, n + ss_zero) (the accumulators the later layers add into).
void embedding(CUdeviceptr ids, CUdeviceptr table, CUdeviceptr out, int64_t n, int64_t dim, CUstream stream,
               CUdeviceptr ss = 0, int64_t ss_zero = 0, const StepMetaCopy& meta = {});
// A greedy step's end fused with the next step's start: row i's token is the argmax the LM head's GEMV left
// in words[i][kGemvArgmaxWords] (GemvOutput::ArgMax; the words are re-zeroed), written to ids[i] and, when
// given, host_ids[i] (mapped pinned memory); with `table`, then embedded as embedding() does (out, ss) for
// a following step that feeds it. One launch in place of an argmax pass over the logits and an embedding.
// x *= scale over n floats in place (gemma3's embedding scale; the table stays as stored: it is the tied head).
void scale_embeddings(CUdeviceptr x, int64_t n, float scale, CUstream stream);
void argmax_embedding(CUdeviceptr words, CUdeviceptr ids, CUdeviceptr host_ids, CUdeviceptr table, CUdeviceptr out,
                      int64_t rows, int64_t dim, CUstream stream, CUdeviceptr ss = 0, int64_t ss_zero = 0);

}  // namespace synaptix::kernels::cuda
