#include "synaptix/agents/quant/quant_search.h"

#include <algorithm>
#include <limits>

#include "synaptix/core/error.h"
#include "synaptix/engine/cpu_executor.h"
#include "synaptix/eval/token_agreement.h"
#include "synaptix/quant/block_dtype.h"
#include "synaptix/quant/weight_quantize.h"

namespace synaptix::agents {

KlScorer::KlScorer(const model::Model& m, std::vector<int32_t> ids, eval::PerplexityOptions po, int64_t first_window,
                   int64_t windows, const kernels::KernelSet* ks)
    : m_(m), ids_(std::move(ids)), po_(po), first_(first_window), windows_(windows) {
  const int64_t have = eval::window_count(static_cast<int64_t>(ids_.size()), po_);
  if (first_ + windows_ > have)
    fail("calibration text: windows ", first_, "..", first_ + windows_ - 1, " of ", po_.ctx,
         " tokens asked for, the text has ", have);
  ex_ = engine::make_cpu_executor(m_, eval::window_kv(po_), ks);
}

void KlScorer::run(std::vector<eval::ScoredWindow>& out, eval::PerplexityResult& ppl) {
  out.resize(static_cast<size_t>(windows_));
  for (int64_t w = 0; w < windows_; ++w) {
    eval::score_window(*ex_, ids_, first_ + w, po_, out[static_cast<size_t>(w)]);
    eval::accumulate(ppl, out[static_cast<size_t>(w)], m_.spec.vocab_size, nullptr);
  }
}

void KlScorer::save_reference() {
  reference_ppl_ = {};
  run(reference_, reference_ppl_);
}

eval::ComparisonFigures KlScorer::compare() {
  if (reference_.empty()) save_reference();
  std::vector<eval::ScoredWindow> now;
  eval::PerplexityResult ppl;
  run(now, ppl);
  const int64_t V = m_.spec.vocab_size;
  eval::TokenAgreement agree;
  for (size_t w = 0; w < now.size(); ++w)
    for (size_t i = 0; i < now[w].targets.size(); ++i)
      agree.add(std::span<const float>(reference_[w].logits.data() + i * V, static_cast<size_t>(V)),
                std::span<const float>(now[w].logits.data() + i * V, static_cast<size_t>(V)));
  eval::ComparisonFigures f;
  f.mean_kl = agree.mean_kl();
  f.p99_kl = agree.p99_kl();
  f.same_top1 = agree.same_top1_rate();
  f.perplexity_ratio = ppl.perplexity() / reference_ppl_.perplexity();
  return f;
}

QuantizedTensors::QuantizedTensors(model::Model& m, model::TensorQuantizer quantizer)
    : m_(m), quantizer_(std::move(quantizer)), slots_(model::quantizable_matrices(m)) {
  for (const auto& [name, slot] : slots_) loaded_[name] = *slot;
}

bool QuantizedTensors::applicable(const std::vector<std::string>& names, DType format) const {
  const quant::WeightFormat& f = *quant::weight_format(format);
  for (const auto& n : names) {
    const int64_t k = loaded_.at(n)->shape[1];
    if (f.group && k % f.group != 0) return false;
  }
  return true;
}

int64_t QuantizedTensors::bytes(const std::vector<std::string>& names, DType format) const {
  int64_t b = 0;
  for (const auto& n : names) {
    const model::TensorRef& t = *loaded_.at(n);
    b += t.shape[0] * quant::row_bytes(format, t.shape[1]);
  }
  return b;
}

void QuantizedTensors::set(const std::vector<std::string>& names, DType format) {
  for (const auto& n : names) {
    const model::TensorRef** slot = slots_.at(n);
    if (format == DType::F32) {
      *slot = loaded_.at(n);
      continue;
    }
    auto& made = made_[{n, format}];
    if (!made) {
      const model::TensorRef& src = *loaded_.at(n);
      const int64_t rows = src.shape[0], k = src.shape[1];
      const quant::WeightFormat& f = *quant::weight_format(format);
      const std::vector<float> w = model::matrix_f32(src);
      made = std::make_unique<model::OwnedTensor>();
      made->bytes.resize(static_cast<size_t>(rows * quant::row_bytes(format, k)));
      if (quantizer_) quantizer_(n, f, w.data(), rows, k, made->bytes.data());
      else quant::quantize_rows(f, w.data(), rows, k, made->bytes.data());
      made->ref = src;
      made->ref.dtype = format;
      made->ref.data = made->bytes.data();
      made->ref.nbytes = made->bytes.size();
    }
    *slot = &made->ref;
  }
}

const model::OwnedTensor* QuantizedTensors::made(const std::string& name, DType format) const {
  auto it = made_.find({name, format});
  return it == made_.end() ? nullptr : it->second.get();
}

std::vector<std::vector<std::string>> layer_groups(const model::Model& m) {
  std::vector<std::vector<std::string>> groups(m.layers.size());
  for (const auto& [name, slot] : model::quantizable_matrices(const_cast<model::Model&>(m))) {
    const size_t l = std::stoul(name.substr(std::string("model.layers.").size()));
    groups[l].push_back(name);
  }
  return groups;
}

SensitivityTable layer_sensitivity(QuantizedTensors& q, KlScorer& s, const std::vector<std::vector<std::string>>& groups,
                                   const std::vector<DType>& formats, void (*progress)(int64_t, int64_t)) {
  SensitivityTable t(groups.size(), std::vector<SensitivityCell>(formats.size()));
  const int64_t total = static_cast<int64_t>(groups.size() * formats.size());
  int64_t done = 0;
  for (size_t g = 0; g < groups.size(); ++g)
    for (size_t f = 0; f < formats.size(); ++f) {
      SensitivityCell& c = t[g][f];
      c.applicable = q.applicable(groups[g], formats[f]);
      if (c.applicable) {
        c.bytes = q.bytes(groups[g], formats[f]);
        q.set(groups[g], formats[f]);
        c.mean_kl = *s.compare().mean_kl;
        q.set(groups[g], DType::F32);
      }
      if (progress) progress(++done, total);
    }
  return t;
}

std::vector<int> assign_formats(const SensitivityTable& t, int64_t budget_bytes, double kl_per_group) {
  std::vector<int> pick(t.size(), -1);
  // Formats of each group by bytes, most first.
  std::vector<std::vector<int>> order(t.size());
  for (size_t g = 0; g < t.size(); ++g) {
    for (size_t f = 0; f < t[g].size(); ++f)
      if (t[g][f].applicable) order[g].push_back(static_cast<int>(f));
    std::sort(order[g].begin(), order[g].end(), [&](int a, int b) { return t[g][a].bytes > t[g][b].bytes; });
  }
  if (budget_bytes <= 0) {
    for (size_t g = 0; g < t.size(); ++g)
      for (int f : order[g])
        if (t[g][f].mean_kl <= kl_per_group) pick[g] = f;  // the last that passes is the smallest
    return pick;
  }
  std::vector<size_t> at(t.size(), 0);
  int64_t total = 0;
  for (size_t g = 0; g < t.size(); ++g)
    if (!order[g].empty()) pick[g] = order[g][0], total += t[g][pick[g]].bytes;
  while (total > budget_bytes) {
    double best = std::numeric_limits<double>::infinity();
    size_t best_g = t.size();
    for (size_t g = 0; g < t.size(); ++g) {
      if (at[g] + 1 >= order[g].size()) continue;
      const SensitivityCell &now = t[g][order[g][at[g]]], &next = t[g][order[g][at[g] + 1]];
      const double saved = static_cast<double>(now.bytes - next.bytes);
      if (saved <= 0) continue;
      const double cost = std::max(0.0, next.mean_kl - now.mean_kl) / saved;
      if (cost < best) best = cost, best_g = g;
    }
    if (best_g == t.size()) break;  // nothing smaller left: the budget cannot be met
    const SensitivityCell& now = t[best_g][order[best_g][at[best_g]]];
    ++at[best_g];
    pick[best_g] = order[best_g][at[best_g]];
    total += t[best_g][pick[best_g]].bytes - now.bytes;
  }
  return pick;
}

}  // namespace synaptix::agents
