#include "synaptix/text_comparison.h"

#include <filesystem>
#include <span>

#include "synaptix/core/error.h"
#include "synaptix/core/mapped_file.h"
#include "synaptix/eval/token_agreement.h"

namespace synaptix::app {

std::vector<int32_t> text_ids(const Subject& s, const std::string& path, eval::PerplexityOptions& po) {
  const auto ids = s.tok.encode(read_text_file(path), /*add_special_tokens=*/true);
  if (auto bos = s.tok.bos_id(); bos && !ids.empty() && ids[0] == *bos) po.window_bos = *bos;
  return ids;
}

nlohmann::json perplexity_json(const eval::PerplexityResult& r) {
  return {{"perplexity", r.perplexity()}, {"mean_nll", r.mean_nll()},   {"bits_per_byte", r.bits_per_byte()},
          {"tokens_scored", r.tokens_scored}, {"bytes_scored", r.bytes_scored}, {"windows", r.windows}};
}

TextComparison compare_on_text(Subject& a, Subject& b, const std::string& text_path, eval::PerplexityOptions po,
                               void (*progress)(int64_t, int64_t)) {
  if (a.model->spec.vocab_size != b.model->spec.vocab_size)
    fail("the incumbent and the candidate have vocabularies of ", a.model->spec.vocab_size, " and ",
         b.model->spec.vocab_size, " tokens: KL and top-1 need the same tokenizer");
  const auto ids = text_ids(a, text_path, po);
  const int64_t windows = eval::window_count(static_cast<int64_t>(ids.size()), po), V = a.model->spec.vocab_size;
  eval::PerplexityResult ra, rb;
  eval::TokenAgreement agree;
  eval::ScoredWindow wa, wb;
  for (int64_t w = 0; w < windows; ++w) {
    if (progress) progress(w, windows);
    eval::score_window(a.executor(), ids, w, po, wa);
    eval::score_window(b.executor(), ids, w, po, wb);
    eval::accumulate(ra, wa, V, &a.tok);
    eval::accumulate(rb, wb, V, &b.tok);
    for (size_t i = 0; i < wa.targets.size(); ++i)
      agree.add(std::span<const float>(wa.logits.data() + i * V, static_cast<size_t>(V)),
                std::span<const float>(wb.logits.data() + i * V, static_cast<size_t>(V)));
  }
  TextComparison c;
  c.mean_kl = agree.mean_kl();
  c.p99_kl = agree.p99_kl();
  c.same_top1 = agree.same_top1_rate();
  c.perplexity_ratio = rb.perplexity() / ra.perplexity();
  c.report = {{"incumbent", perplexity_json(ra)}, {"candidate", perplexity_json(rb)}, {"ratio", c.perplexity_ratio},
              {"mean_kl", c.mean_kl}, {"p99_kl", c.p99_kl}, {"same_top1", c.same_top1}};
  return c;
}

void add_to(eval::ComparisonFigures& f, const TextComparison& c) {
  f.mean_kl = c.mean_kl;
  f.p99_kl = c.p99_kl;
  f.same_top1 = c.same_top1;
  f.perplexity_ratio = c.perplexity_ratio;
}

std::string gate_path(const std::string& g) {
  if (std::filesystem::exists(g)) return g;
  const std::string shipped = std::string(SYNAPTIX_SOURCE_DIR) + "/eval/gates/" + g + ".json";
  if (std::filesystem::exists(shipped)) return shipped;
  fail("gate ", g, ": no such file, and no shipped gate eval/gates/", g, ".json");
}

}  // namespace synaptix::app
