#include "synaptix/eval/perplexity.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "synaptix/core/error.h"
#include "synaptix/eval/token_agreement.h"
#include "synaptix/model/tokenizer.h"

namespace synaptix::eval {

int64_t scored_per_window(const PerplexityOptions& o) { return o.ctx - 1 - o.ctx / 2; }

int64_t window_count(int64_t n_tokens, const PerplexityOptions& o) {
  if (o.ctx < 4) fail("--ctx ", o.ctx, ": expected at least 4 tokens per window");
  const int64_t n = n_tokens / o.ctx;
  if (n == 0) fail("the text has ", n_tokens, " tokens, fewer than one window of --ctx ", o.ctx);
  return o.max_windows > 0 ? std::min(n, o.max_windows) : n;
}

engine::KvConfig window_kv(const PerplexityOptions& o) {
  engine::KvConfig kv;
  kv.num_blocks = (o.ctx + kv.block_size - 1) / kv.block_size;
  return kv;
}

void score_window(engine::Executor& ex, std::span<const int32_t> ids, int64_t window, const PerplexityOptions& o,
                  ScoredWindow& out) {
  if (o.ctx > ex.spec().max_position_embeddings)
    fail("--ctx ", o.ctx, " exceeds the model's context of ", ex.spec().max_position_embeddings, " tokens");
  if (ex.num_blocks() * ex.block_size() < o.ctx)
    fail("the executor's KV cache holds ", ex.num_blocks() * ex.block_size(), " positions, fewer than --ctx ", o.ctx);
  const auto start = static_cast<size_t>(window * o.ctx);
  if (start + static_cast<size_t>(o.ctx) > ids.size()) fail("window ", window, " runs past the text's end");
  std::vector<int32_t> w(ids.begin() + static_cast<std::ptrdiff_t>(start),
                         ids.begin() + static_cast<std::ptrdiff_t>(start) + o.ctx);
  if (o.window_bos) w[0] = *o.window_bos;
  std::vector<int32_t> table(static_cast<size_t>(ex.num_blocks()));
  for (size_t i = 0; i < table.size(); ++i) table[i] = static_cast<int32_t>(i);

  // The unscored first half fills the KV cache (one logits row, dropped); the scored half runs in steps of
  // rows_per_step rows so the logits buffer stays rows x vocab.
  const int64_t first = o.ctx / 2, V = ex.spec().vocab_size;
  std::vector<float> logits;
  engine::SeqChunk head{std::span<const int32_t>(w.data(), static_cast<size_t>(first)), 0, table, false};
  ex.step({&head, 1}, logits);
  out.targets.assign(w.begin() + first + 1, w.end());
  out.logits.clear();
  out.logits.reserve(out.targets.size() * static_cast<size_t>(V));
  for (int64_t pos = first; pos < o.ctx - 1;) {
    const int64_t rows = std::min(o.rows_per_step, o.ctx - 1 - pos);
    engine::SeqChunk c{std::span<const int32_t>(w.data() + pos, static_cast<size_t>(rows)), pos, table, true};
    ex.step({&c, 1}, logits);
    out.logits.insert(out.logits.end(), logits.begin(), logits.begin() + rows * V);
    pos += rows;
  }
}

double PerplexityResult::perplexity() const { return std::exp(mean_nll()); }

double PerplexityResult::bits_per_byte() const {
  return bytes_scored ? nll_sum / std::numbers::ln2 / static_cast<double>(bytes_scored) : 0;
}

void accumulate(PerplexityResult& r, const ScoredWindow& w, int64_t vocab, const model::Tokenizer* tok) {
  for (size_t i = 0; i < w.targets.size(); ++i)
    r.nll_sum += token_nll(std::span<const float>(w.logits.data() + i * static_cast<size_t>(vocab),
                                                  static_cast<size_t>(vocab)),
                           w.targets[i]);
  r.tokens_scored += static_cast<int64_t>(w.targets.size());
  if (tok) r.bytes_scored += static_cast<int64_t>(tok->decode(w.targets, /*skip_special_tokens=*/false).size());
  ++r.windows;
}

}  // namespace synaptix::eval
