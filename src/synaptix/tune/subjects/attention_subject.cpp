// attention: causal decode attention of m query tokens over a paged f32 KV cache (scattered blocks),
// against kernels::attention_decode_reference per token; the default is the untuned executor's path,
// attention_decode_default run over the tokens on the pool (a prefill chunk: attention_prefill_tile over tiles of
// its tokens per KV head, as the executor runs it). Decode buckets (m <= 64) are m sequences of ctx positions,
// each token at the end of its own; a prefill chunk is m tokens at the end of one sequence of ctx positions.
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <optional>
#include <sstream>

#include "synaptix/backend/pool_runtime.h"
#include "synaptix/core/error.h"
#include "synaptix/kernels/attention/decode_default.h"
#include "synaptix/kernels/attention/prefill_default.h"
#include "synaptix/kernels/attention/reference.h"
#include "synaptix/tune/fused_kernels.h"
#include "synaptix/tune/subjects.h"

namespace synaptix::tune {
namespace {

constexpr int64_t kBlock = 16;
constexpr int64_t kVerifyCtx = 300;  // not a multiple of the block size: partial last blocks

// One batch: its KV cache, block tables, positions, queries and output.
struct Batch {
  std::vector<float> k, v, q, out;
  std::vector<std::vector<int32_t>> tables;
  std::vector<const int32_t*> table_ptrs;
  std::vector<int64_t> pos;
};

class AttentionSubject final : public Subject {
 public:
  AttentionSubject(const graph::Op& op, const std::string& module, ThreadPool& pool)
      : op_(op), pool_(pool), rt_(backend::pool_runtime(pool)) {
    if (op.kv_heads <= 0 || op.n % op.kv_heads != 0 || op.k <= 0)
      fail("attention op ", op.signature(), ": heads must be a positive multiple of kv_heads");
    if (!module.empty()) kernel_.emplace(module, kAttentionSymbol);
  }

  std::string verify(std::mt19937_64& rng) override {
    const int64_t ctx = std::max<int64_t>(1, std::min(op_.ctx > 0 ? op_.ctx : kVerifyCtx, kVerifyCtx));
    for (int64_t m : verify_ms(op_))
      for (int64_t window : {int64_t{0}, ctx / 3 + 1}) {
        Batch b = make_batch(m, ctx, true, rng);
        std::fill(b.out.begin(), b.out.end(), std::numeric_limits<float>::quiet_NaN());
        call(b, m, window);
        const int64_t qd = op_.n * op_.k;
        std::vector<float> want(static_cast<size_t>(qd));
        for (int64_t t = 0; t < m; ++t) {
          kernels::PagedKv kv{b.k.data(), b.v.data(), kBlock, op_.kv_heads, op_.k, b.table_ptrs[t]};
          kernels::attention_decode_reference(b.q.data() + t * qd, op_.n, kv, b.pos[t], window, scale(), want.data());
          for (int64_t i = 0; i < qd; ++i) {
            const float g = b.out[static_cast<size_t>(t * qd + i)], e = want[static_cast<size_t>(i)];
            if (std::isnan(g))
              return "output left unwritten (NaN poison survived) at m=" + std::to_string(m) + ", token " +
                     std::to_string(t);
            if (!std::isfinite(g) || std::fabs(g - e) > 1e-4 * std::fabs(e) + 2e-5) {
              std::ostringstream os;
              os << "wrong result at m=" << m << " window=" << window << ": token " << t << " (pos " << b.pos[t]
                 << ") head " << i / op_.k << " dim " << i % op_.k << " = " << g << ", reference " << e;
              return os.str();
            }
          }
        }
      }
    return "";
  }

  int64_t set_bytes() const override {
    return 2 * sequences(op_.m) * op_.ctx * op_.kv_heads * op_.k * 4 + 2 * op_.m * op_.n * op_.k * 4;
  }
  void make_sets(int copies, std::mt19937_64& rng) override {
    for (int c = 0; c < copies; ++c) sets_.push_back(make_batch(op_.m, std::max<int64_t>(op_.ctx, op_.m), false, rng));
  }
  size_t sets() const override { return sets_.size(); }
  void run(size_t i) override { call(sets_[i], op_.m, 0); }

 private:
  float scale() const { return 1.0f / std::sqrt(static_cast<float>(op_.k)); }
  int64_t sequences(int64_t m) const { return m > 64 ? 1 : m; }

  // random_pos: each token at a random position of its sequence (verify); else at its end (timing).
  Batch make_batch(int64_t m, int64_t ctx, bool random_pos, std::mt19937_64& rng) const {
    Batch b;
    const int64_t seqs = sequences(m), per = (ctx + kBlock - 1) / kBlock, kvd = op_.kv_heads * op_.k;
    std::vector<int32_t> blocks(static_cast<size_t>(seqs * per));
    std::iota(blocks.begin(), blocks.end(), 0);
    std::shuffle(blocks.begin(), blocks.end(), rng);
    for (int64_t s = 0; s < seqs; ++s)
      b.tables.emplace_back(blocks.begin() + s * per, blocks.begin() + (s + 1) * per);
    b.k = random_floats(seqs * per * kBlock * kvd, rng);
    b.v = random_floats(seqs * per * kBlock * kvd, rng);
    b.q = random_floats(m * op_.n * op_.k, rng);
    b.out.resize(b.q.size());
    for (int64_t t = 0; t < m; ++t) {
      const int64_t s = seqs == 1 ? 0 : t;
      b.table_ptrs.push_back(b.tables[static_cast<size_t>(s)].data());
      if (random_pos) b.pos.push_back(static_cast<int64_t>(rng() % static_cast<uint64_t>(ctx)));
      else b.pos.push_back(seqs == 1 ? std::max<int64_t>(0, ctx - m + t) : ctx - 1);
    }
    return b;
  }

  void call(Batch& b, int64_t m, int64_t window) {
    if (kernel_)
      return kernel_->fn()(&rt_, b.q.data(), b.k.data(), b.v.data(), kBlock, b.table_ptrs.data(), b.pos.data(), window,
                           scale(), b.out.data(), m);
    const int64_t qd = op_.n * op_.k;
    const kernels::PagedKv shape{b.k.data(), b.v.data(), kBlock, op_.kv_heads, op_.k, nullptr};
    if (sequences(m) == 1 && kernels::attention_prefill_applies(op_.n, shape, 0.0f)) {
      // A prefill chunk, as the executor runs it: tiles of tokens per KV head.
      const int64_t tiles = (m + kernels::kPrefillTileTokens - 1) / kernels::kPrefillTileTokens;
      pool_.parallel_for(static_cast<size_t>(tiles * op_.kv_heads), [&](size_t lo, size_t hi) {
        for (size_t u = lo; u < hi; ++u) {
          const int64_t t0 = static_cast<int64_t>(u) / op_.kv_heads * kernels::kPrefillTileTokens;
          kernels::PagedKv kv = shape;
          kv.block_table = b.table_ptrs[0];
          kernels::attention_prefill_tile(b.q.data() + t0 * qd, qd, std::min(kernels::kPrefillTileTokens, m - t0),
                                          b.pos.data() + t0, op_.n, kv, static_cast<int64_t>(u) % op_.kv_heads, window,
                                          scale(), b.out.data() + t0 * qd);
        }
      });
      return;
    }
    pool_.parallel_for(static_cast<size_t>(m), [&](size_t lo, size_t hi) {
      for (size_t t = lo; t < hi; ++t) {
        kernels::PagedKv kv{b.k.data(), b.v.data(), kBlock, op_.kv_heads, op_.k, b.table_ptrs[t]};
        kernels::attention_decode_default(b.q.data() + static_cast<int64_t>(t) * qd, op_.n, kv, b.pos[t], window,
                                          scale(), b.out.data() + static_cast<int64_t>(t) * qd);
      }
    });
  }

  graph::Op op_;
  ThreadPool& pool_;
  synaptix_runtime rt_;
  std::optional<AttentionKernel> kernel_;
  std::vector<Batch> sets_;
};

}  // namespace

std::unique_ptr<Subject> make_attention_subject(const graph::Op& op, const std::string& module, ThreadPool& pool) {
  return std::make_unique<AttentionSubject>(op, module, pool);
}

}  // namespace synaptix::tune
