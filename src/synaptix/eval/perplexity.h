#pragma once
// Perplexity by llama-perplexity's convention, so figures compare with llama.cpp's: the text's tokens are cut
// into non-overlapping windows of `ctx` tokens (a trailing partial window is dropped), each window is run
// from an empty KV cache (its first token replaced by BOS where the model adds one), and only the second
// half is scored: the logits at positions ctx/2 .. ctx-2 predict tokens ctx/2+1 .. ctx-1, so every scored
// token has at least ctx/2 tokens of context.
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "synaptix/engine/executor.h"

namespace synaptix::model { class Tokenizer; }

namespace synaptix::eval {

struct PerplexityOptions {
  int64_t ctx = 512;
  int64_t max_windows = 0;            // 0: every whole window of the text
  std::optional<int32_t> window_bos;  // replaces each window's first token (llama-perplexity with add_bos)
  int64_t rows_per_step = 128;        // scored positions per executor step (bounds the logits buffer)
};

// The windows a text of n tokens gives; throws when not even one fits.
int64_t window_count(int64_t n_tokens, const PerplexityOptions& o);
int64_t scored_per_window(const PerplexityOptions& o);  // ctx - 1 - ctx/2

// One window's scored rows: `logits` [scored, vocab] and the `targets` they predict. The executor's KV cache
// must hold ctx positions in blocks 0.. (window_blocks).
struct ScoredWindow {
  std::vector<int32_t> targets;
  std::vector<float> logits;
};
void score_window(engine::Executor& ex, std::span<const int32_t> ids, int64_t window, const PerplexityOptions& o,
                  ScoredWindow& out);
engine::KvConfig window_kv(const PerplexityOptions& o);

struct PerplexityResult {
  int64_t windows = 0, tokens_scored = 0, bytes_scored = 0;
  double nll_sum = 0;  // nats
  double mean_nll() const { return tokens_scored ? nll_sum / static_cast<double>(tokens_scored) : 0; }
  double perplexity() const;
  double bits_per_byte() const;  // 0 when no bytes were counted
};

// Adds a scored window's NLL (and, with a tokenizer, the UTF-8 bytes its targets decode to) to `r`.
void accumulate(PerplexityResult& r, const ScoredWindow& w, int64_t vocab, const model::Tokenizer* tok);

}  // namespace synaptix::eval
