#pragma once
// The op graph of one forward step, derived from a model::Spec alone (no weights) through its forward plan
// (forward_plan.h: the one description of the family's forward): every op with its exact shapes and dtypes,
// for a decode step of a batch bucket or a prefill chunk, at a sequence-length bucket.
// Kernels are tuned per distinct op signature; a bucket's kernel serves every batch size inside the bucket.
#include <cstdint>
#include <string>
#include <vector>

#include "synaptix/core/dtype.h"
#include "synaptix/model/spec.h"

namespace synaptix::graph {

enum class OpKind {
  Embedding,    // rows=m tokens, n=hidden
  AddRmsNorm,   // residual += x; y = rmsnorm(residual) * gamma: m rows of n
  RmsNorm,      // m rows of n (final norm, qk-norm per head)
  Linear,       // y[m, n] = x[m, k] W[n, k]^T (+ bias)
  Rope,         // m tokens, n heads of k=head_dim
  Attention,    // m query tokens, n heads, kv_heads, k=head_dim, over ctx positions
  GateUpSilu,   // y[m, n] = silu(x Wg^T) * (x Wu^T), Wg/Wu [n, k]
  MoeRouter,    // top-k of m rows of n expert logits
  MoeExpert,    // linear per expert: m = tokens routed to one expert (expected), count = experts x layers
  Argmax,       // m rows of n logits
  LmHeadArgmax, // greedy: ids[m] = argmax_n x[m, k] W[n, k]^T, the logits never stored
};
const char* op_kind_name(OpKind k);

struct Op {
  std::string name;  // e.g. "layers.*.self_attn.q_proj"
  OpKind kind = OpKind::Linear;
  int64_t m = 0, n = 0, k = 0;
  int64_t m_lo = 0;      // the smallest m of the bucket this op stands for (m is the largest)
  int64_t ctx = 0;       // Attention: KV positions attended to
  int64_t kv_heads = 0;  // Attention
  DType x_dtype = DType::F32, w_dtype = DType::F32, y_dtype = DType::F32;
  bool bias = false;
  int64_t count = 1;  // instances per step (e.g. once per layer)

  // Identifies the op for tuning: kind, shapes and dtypes, e.g. "linear m=1 n=2048 k=2048 w=bf16".
  // m_lo is included for ops whose kernel must serve a range of m.
  std::string signature() const;
  // Bytes this op must move at least (weights + activations) and FLOPs it performs, per instance.
  double min_bytes() const;
  double flops() const;
};

struct Bucket {
  std::string name;  // decode "1", "2-4", "5-16", "17-64"; prefill "65-128", "129-256", ...
  int64_t lo = 1, hi = 1;
};

enum class Phase { Decode, Prefill };

struct OpGraph {
  Phase phase = Phase::Decode;
  Bucket batch;        // decode: the batch bucket; prefill: the chunk-token bucket
  int64_t seq_len = 0;  // the sequence bucket (KV length the attention is sized for)
  std::vector<Op> ops;
};

// Decode batch buckets: 1, 2-4, 5-16, 17-64.
const std::vector<Bucket>& decode_buckets();
// Sequence buckets: 128, 512, 2048, 8192, ... up to max_position_embeddings (which is always the last).
std::vector<int64_t> sequence_buckets(const model::Spec& s);
// The prefill chunk sizes 65..chunk_tokens in buckets that double from 65-128 on (65-128, 129-256, ...; the
// last ends at chunk_tokens), each tuned at its largest size: the fastest GEMM for a 128-row prompt and for a
// 256-row chunk differ (an OpenBLAS GEMM loses at 128 rows and wins at 256 on a 2-core Xeon), so one bucket
// for both would serve one of them with the other's kernel.
std::vector<Bucket> prefill_buckets(int64_t chunk_tokens);
// The bucket name of a kernel serving rows m_lo..m_hi: a decode bucket's name up to 64 rows, else the range.
std::string rows_bucket_name(int64_t m_lo, int64_t m_hi);
// Whether `name` selects a bucket of prefill rows (a range above 64, or "prefill": all of them).
bool is_prefill_bucket_name(const std::string& name);

OpGraph decode_graph(const model::Spec& s, const Bucket& batch, int64_t seq_len);
// One prefill bucket's step (linear ops sized by its largest chunk).
OpGraph prefill_graph(const model::Spec& s, const Bucket& chunk, int64_t seq_len);
// The prefill step of one bucket 65..chunk_tokens (not split).
OpGraph prefill_graph(const model::Spec& s, int64_t chunk_tokens, int64_t seq_len);
// Every decode bucket at every sequence bucket, then every prefill bucket at every sequence bucket.
std::vector<OpGraph> all_graphs(const model::Spec& s, int64_t prefill_chunk_tokens = 256);

// Distinct ops (by signature) of the given kinds across graphs, in first-seen order.
std::vector<Op> distinct_ops(const std::vector<OpGraph>& graphs, const std::vector<OpKind>& kinds);

}  // namespace synaptix::graph
