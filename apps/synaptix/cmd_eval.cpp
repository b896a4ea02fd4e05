// synaptix eval: quality. `perplexity` scores a text (llama-perplexity's windows) and can save or compare
// the scored logits (KL, same top-1); `golden` runs a golden set (eval/sets) greedily through the engine and
// the chat template `serve` uses; `compare` runs an incumbent and a candidate on the same tokens and items
// and applies a quality gate (eval/gates), exiting 0 only when every criterion passes.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "synaptix/command.h"
#include "synaptix/core/error.h"
#include "synaptix/core/mapped_file.h"
#include "synaptix/eval/golden_runner.h"
#include "synaptix/eval/logits_file.h"
#include "synaptix/eval/paired_stats.h"
#include "synaptix/eval/perplexity.h"
#include "synaptix/eval/quality_gate.h"
#include "synaptix/eval/token_agreement.h"
#include "synaptix/eval_subject.h"
#include "synaptix/text_comparison.h"

namespace synaptix::app {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

struct Options {
  std::string model, recipe, target = "cpu", text, save_logits, reference_logits, out, gate = "8bit";
  std::string incumbent, candidate;
  std::vector<std::string> sets;
  int64_t ctx = 512, max_windows = 0, limit = 0;
};

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

eval::PerplexityOptions perplexity_options(const Options& o) {
  eval::PerplexityOptions po;
  po.ctx = o.ctx;
  po.max_windows = o.max_windows;
  return po;
}

void progress(int64_t w, int64_t n) { std::fprintf(stderr, "\rwindow %lld/%lld", static_cast<long long>(w + 1), static_cast<long long>(n)); }

int run_perplexity(const Options& o) {
  if (!o.save_logits.empty() && !o.reference_logits.empty())
    fail("--save-logits and --reference-logits: give one (save a reference run, then compare against it)");
  Subject s(subject_from_flags(o.model, o.recipe, o.target));
  auto po = perplexity_options(o);
  const auto ids = text_ids(s, o.text, po);
  const int64_t windows = eval::window_count(static_cast<int64_t>(ids.size()), po);
  s.build_executor(po.ctx);
  const int64_t V = s.model->spec.vocab_size, per = eval::scored_per_window(po);

  std::vector<int32_t> targets;  // every scored target, for the logits file's hash
  for (int64_t w = 0; w < windows; ++w)
    for (int64_t i = w * po.ctx + po.ctx / 2 + 1; i < (w + 1) * po.ctx; ++i) targets.push_back(ids[static_cast<size_t>(i)]);
  const eval::LogitsHeader header{V, windows * per, po.ctx, eval::targets_sha256(targets), o.model};
  std::optional<eval::LogitsWriter> writer;
  std::optional<eval::LogitsReader> reference;
  if (!o.save_logits.empty()) writer.emplace(o.save_logits, header);
  if (!o.reference_logits.empty()) {
    reference.emplace(o.reference_logits);
    const auto& h = reference->header();
    if (h.vocab != V || h.tokens != header.tokens || h.ctx != po.ctx || h.targets_sha256 != header.targets_sha256)
      fail(o.reference_logits, ": scored ", h.tokens, " tokens of vocabulary ", h.vocab, " at ctx ", h.ctx,
           " (targets ", h.targets_sha256.substr(0, 12), "); this run scores ", header.tokens, " of ", V, " at ctx ",
           po.ctx, " (targets ", header.targets_sha256.substr(0, 12), "): expected the same text, tokenizer, --ctx and --max-windows");
  }

  eval::PerplexityResult r;
  eval::TokenAgreement agree;
  eval::ScoredWindow sw;
  for (int64_t w = 0; w < windows; ++w) {
    progress(w, windows);
    eval::score_window(s.executor(), ids, w, po, sw);
    eval::accumulate(r, sw, V, &s.tok);
    if (writer) writer->append(sw.logits);
    if (reference)
      for (int64_t i = 0; i < per; ++i)
        agree.add(reference->row(w * per + i), std::span<const float>(sw.logits.data() + i * V, static_cast<size_t>(V)));
  }
  std::fprintf(stderr, "\n");
  if (writer) writer->close();
  json out = perplexity_json(r);
  out["model"] = o.model;
  out["ctx"] = po.ctx;
  out["text_tokens"] = ids.size();
  if (reference) {
    out["mean_kl"] = agree.mean_kl();
    out["p99_kl"] = agree.p99_kl();
    out["same_top1"] = agree.same_top1_rate();
  }
  std::printf("%s\n", dump(out).c_str());
  return 0;
}

struct SetRun {
  std::string name, path;
  std::vector<eval::GoldenItem> items;
};

SetRun load_set(const std::string& path, int64_t limit) {
  SetRun s{fs::path(path).stem().string(), path, eval::load_golden_set(path)};
  if (limit > 0 && static_cast<int64_t>(s.items.size()) > limit) s.items.resize(static_cast<size_t>(limit));
  return s;
}

// Encodes every item's prompt and builds the executor for the longest.
std::vector<std::vector<int32_t>> prepare(Subject& s, const std::vector<SetRun>& sets, int64_t extra_positions) {
  std::vector<std::vector<int32_t>> prompts;
  int64_t positions = extra_positions;
  for (const auto& set : sets)
    for (const auto& it : set.items) {
      if (!it.prompt && s.tok.chat_template().empty())
        fail(set.path, ":", it.line, ": the item gives \"messages\", but ", s.spec.model,
             " has no chat template (expected \"prompt\" text for this model)");
      prompts.push_back(s.encode(it.prompt ? &*it.prompt : nullptr, it.messages));
      const int64_t need = eval::item_positions(s.tok, it, static_cast<int64_t>(prompts.back().size()));
      if (need > s.model->spec.max_position_embeddings)
        fail("item ", it.id, " (line ", it.line, ") needs ", need, " positions, more than the model's context of ",
             s.model->spec.max_position_embeddings);
      positions = std::max(positions, need);
    }
  s.build_executor(positions);
  return prompts;
}

json score_json(const std::string& name, const eval::SetScore& sc) {
  return {{"set", name}, {"correct", sc.correct}, {"items", sc.items}, {"score", sc.score()},
          {"ci95", {sc.ci95.lo, sc.ci95.hi}}};
}

int run_golden(const Options& o) {
  Subject s(subject_from_flags(o.model, o.recipe, o.target));
  std::vector<SetRun> sets;
  for (const auto& p : o.sets) sets.push_back(load_set(p, o.limit));
  const auto prompts = prepare(s, sets, 0);
  std::ofstream file;
  if (!o.out.empty()) {
    file.open(o.out, std::ios::trunc);
    if (!file) fail(o.out, ": cannot open for writing");
  }
  size_t k = 0;
  for (const auto& set : sets) {
    std::vector<eval::ItemResult> results;
    for (const auto& it : set.items) {
      results.push_back(eval::run_golden_item(s.executor(), s.tok, it, prompts[k++], s.eos_ids()));
      json line = eval::to_json(results.back());
      line["set"] = set.name;
      if (file.is_open()) file << dump(line) << "\n";
      else std::printf("%s\n", dump(line).c_str());
      std::fflush(stdout);
    }
    std::printf("%s\n", dump(score_json(set.name, eval::score_set(results))).c_str());
  }
  return 0;
}

int run_compare(const Options& o) {
  if (o.text.empty() && o.sets.empty()) fail("eval compare: nothing to compare (give --text and/or --set)");
  const eval::QualityGate gate = eval::load_gate(gate_path(o.gate));
  Subject a(parse_subject(o.incumbent, "--incumbent", o.model)), b(parse_subject(o.candidate, "--candidate", o.model));
  std::fprintf(stderr, "incumbent: %s\ncandidate: %s\ngate: %s\n", a.spec.describe().c_str(), b.spec.describe().c_str(),
               gate.name.c_str());
  std::vector<SetRun> sets;
  for (const auto& p : o.sets) sets.push_back(load_set(p, o.limit));
  auto po = perplexity_options(o);
  const auto pa = prepare(a, sets, o.text.empty() ? 0 : po.ctx);
  const auto pb = prepare(b, sets, o.text.empty() ? 0 : po.ctx);

  eval::ComparisonFigures f;
  json report = {{"incumbent", a.spec.describe()}, {"candidate", b.spec.describe()}, {"gate", gate.name}};
  if (!o.text.empty()) {
    const TextComparison c = compare_on_text(a, b, o.text, po, progress);
    std::fprintf(stderr, "\n");
    add_to(f, c);
    report["perplexity"] = c.report;
  }
  size_t k = 0;
  for (const auto& set : sets) {
    eval::TaskComparison t{set.name, {}, {}};
    std::vector<eval::ItemResult> ra, rb;
    std::vector<double> ca, cb;
    for (const auto& it : set.items) {
      ra.push_back(eval::run_golden_item(a.executor(), a.tok, it, pa[k], a.eos_ids()));
      rb.push_back(eval::run_golden_item(b.executor(), b.tok, it, pb[k], b.eos_ids()));
      ++k;
      t.incumbent_correct.push_back(ra.back().correct);
      t.candidate_correct.push_back(rb.back().correct);
      ca.push_back(ra.back().correct);
      cb.push_back(rb.back().correct);
    }
    const auto diff = eval::paired_bootstrap(ca, cb);
    report["tasks"].push_back({{"incumbent", score_json(set.name, eval::score_set(ra))},
                               {"candidate", score_json(set.name, eval::score_set(rb))},
                               {"difference_ci95", {diff.lo, diff.hi}}});
    f.tasks.push_back(std::move(t));
  }
  const eval::GateVerdict v = eval::apply_gate(gate, f);
  report["pass"] = v.pass;
  std::printf("%s\n", dump(report).c_str());
  for (const auto& c : v.criteria) std::printf("%s\n", c.line.c_str());
  std::printf("verdict: %s\n", v.pass ? "PASS" : (v.criteria.empty() ? "FAIL (the gate checked nothing)" : "FAIL"));
  return v.pass ? 0 : 2;
}

void subject_flags(CLI::App* c, Options& o) {
  c->add_option("--model", o.model, "Hugging Face model directory or GGUF file")->required();
  c->add_option("--recipe", o.recipe, "tuned recipe to run with");
  c->add_option("--target", o.target, "cpu | cuda | cuda:N");
}

void text_flags(CLI::App* c, Options& o) {
  c->add_option("--ctx", o.ctx, "tokens per window (the second half of each is scored)")
      ->check(CLI::Range(int64_t{4}, int64_t{1} << 20))->capture_default_str();
  c->add_option("--max-windows", o.max_windows, "score at most this many windows (0: all)")->check(CLI::NonNegativeNumber);
}

const RegisterCommand reg{{"eval", "Quality: perplexity, golden sets, and gated comparisons of two runs", [](CLI::App& sub) {
  auto o = std::make_shared<Options>();
  sub.require_subcommand(1);
  auto* ppl = sub.add_subcommand("perplexity", "Perplexity, bits per byte, and KL / same top-1 against saved logits");
  subject_flags(ppl, *o);
  ppl->add_option("--text", o->text, "UTF-8 text file (e.g. wiki.test.raw)")->required()->check(CLI::ExistingFile);
  text_flags(ppl, *o);
  ppl->add_option("--save-logits", o->save_logits, "write the scored logits (4 x vocab bytes a token) for a later KL run");
  ppl->add_option("--reference-logits", o->reference_logits, "compare with logits saved by --save-logits: mean/p99 KL, same top-1")
      ->check(CLI::ExistingFile);

  auto* golden = sub.add_subcommand("golden", "Run golden sets (eval/sets/*.jsonl): per-item JSONL, then each set's score with a 95% CI");
  subject_flags(golden, *o);
  golden->add_option("--set", o->sets, "golden set JSONL (repeatable)")->required()->check(CLI::ExistingFile);
  golden->add_option("--limit", o->limit, "first N items of each set (0: all)")->check(CLI::NonNegativeNumber);
  golden->add_option("--out", o->out, "write the per-item JSONL here instead of stdout");

  auto* cmp = sub.add_subcommand(
      "compare",
      "Incumbent vs candidate on the same text and items, judged by a gate; exit 0 only on pass.\n"
      "A side is key=value,...: model=PATH, recipe=FILE, target=cpu|cuda:N, kv=f32|bf16|int8|fp8-e4m3, products=2|1,\n"
      "activations=bf16|fp8 (W8A8, CUDA, fp8-e4m3-pc weights)\n"
      "(kv and products: the CUDA executor's KV cache dtype and bf16 products per GEMM; the CPU is f32 only;\n"
      "a recipe's \"precision\" section sets them too).");
  cmp->add_option("--incumbent", o->incumbent, "the run to beat (key=value,...)")->required();
  cmp->add_option("--candidate", o->candidate, "the proposed run (key=value,...)")->required();
  cmp->add_option("--model", o->model, "model for sides without model=");
  cmp->add_option("--text", o->text, "text for perplexity, KL and same top-1")->check(CLI::ExistingFile);
  text_flags(cmp, *o);
  cmp->add_option("--set", o->sets, "golden set JSONL (repeatable)")->check(CLI::ExistingFile);
  cmp->add_option("--limit", o->limit, "first N items of each set (0: all)")->check(CLI::NonNegativeNumber);
  cmp->add_option("--gate", o->gate, "gate JSON file, or a shipped gate by name (8bit, 4bit)")->capture_default_str();
  return [o, ppl, golden] {
    if (ppl->parsed()) return run_perplexity(*o);
    if (golden->parsed()) return run_golden(*o);
    return run_compare(*o);
  };
}}};

}  // namespace
}  // namespace synaptix::app
