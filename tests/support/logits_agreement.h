#pragma once
// How closely one executor's logits follow another's: the largest absolute difference over the largest
// reference logit, and the share of rows whose arg max agrees (the engine tests that compare a CUDA format or
// precision against the CPU executor on the same weights).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <span>
#include <vector>

#include "synaptix/engine/executor.h"

namespace synaptix::testing {

struct LogitsAgreement {
  double rel = 0, top1 = 0;
};

// `rows` rows of `vocab` logits each; a non-finite logit in `got` counts as an infinite difference.
inline LogitsAgreement compare_logits(const std::vector<float>& got, const std::vector<float>& want, int64_t rows,
                                      int64_t vocab) {
  double max_abs = 0, max_ref = 1e-30;
  int64_t agree = 0;
  for (int64_t t = 0; t < rows; ++t) {
    const float* a = got.data() + t * vocab;
    const float* b = want.data() + t * vocab;
    for (int64_t v = 0; v < vocab; ++v) {
      max_abs = std::max(max_abs, std::isfinite(a[v]) ? std::fabs(static_cast<double>(a[v]) - b[v]) : INFINITY);
      max_ref = std::max(max_ref, std::fabs(static_cast<double>(b[v])));
    }
    agree += (std::max_element(a, a + vocab) - a) == (std::max_element(b, b + vocab) - b);
  }
  return {max_abs / max_ref, static_cast<double>(agree) / static_cast<double>(rows)};
}

// One sequence's logits: a prefill of `prefill` tokens with every row's logits, then one decode step per
// remaining token of `ids` (the paths a KV cache format or precision changes: the prefill's and decode's).
inline std::vector<float> prefill_then_decode_logits(engine::Executor& ex, const std::vector<int32_t>& ids,
                                                     size_t prefill, const std::vector<int32_t>& table) {
  std::vector<float> all, logits;
  engine::SeqChunk c{std::span<const int32_t>(ids.data(), prefill), 0, table, true};
  ex.step({&c, 1}, all);
  for (size_t t = prefill; t < ids.size(); ++t) {
    engine::SeqChunk d{std::span<const int32_t>(ids.data() + t, 1), static_cast<int64_t>(t), table, false};
    ex.step({&d, 1}, logits);
    all.insert(all.end(), logits.begin(), logits.end());
  }
  return all;
}

}  // namespace synaptix::testing
