// synaptix verify: runs a reference file's prompt through the model and compares every logit and the greedy
// continuation with what the reference implementation produced.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "synaptix/command.h"
#include "synaptix/flag_checks.h"
#include "synaptix/core/error.h"
#include "synaptix/engine/generator.h"
#include "synaptix/executor_factory.h"
#include "synaptix/model/model.h"

namespace synaptix::app {
namespace {

struct Options {
  std::string model, reference, target = "cpu", recipe;
  double tolerance = -1;  // max_rel_err bound; default per target
};

const model::TensorRef& need(const model::SafetensorsFile& f, const std::string& name, DType dt, size_t rank) {
  const model::TensorRef* t = f.find(name);
  if (!t) fail(f.path(), ": missing tensor \"", name, "\"");
  if (t->dtype != dt || t->shape.size() != rank)
    fail(f.path(), ": tensor \"", name, "\" is ", dtype_name(t->dtype), " ", t->shape_str(), ", expected ",
         dtype_name(dt), " of rank ", rank);
  return *t;
}

int run(const Options& o) {
  auto m = model::load_model(o.model);
  model::SafetensorsFile ref(o.reference);
  const auto& ids_t = need(ref, "input_ids", DType::I32, 1);
  const auto& logits_t = need(ref, "logits", DType::F32, 2);
  const auto& greedy_t = need(ref, "greedy_ids", DType::I32, 1);
  const int64_t T = ids_t.shape[0], V = m->spec.vocab_size;
  if (logits_t.shape[0] != T || logits_t.shape[1] != V)
    fail(o.reference, ": logits shape ", logits_t.shape_str(), " does not match [", T, ", ", V, "]");
  std::vector<int32_t> ids(static_cast<const int32_t*>(ids_t.data), static_cast<const int32_t*>(ids_t.data) + T);
  const auto* greedy = static_cast<const int32_t*>(greedy_t.data);
  const int64_t G = greedy_t.shape[0];

  const Target target = parse_target(o.target);
  engine::KvConfig kv;
  kv.num_blocks = (T + G + kv.block_size) / kv.block_size + 1;
  auto bundle = make_executor(*m, target, kv, o.recipe);
  engine::Executor& ex = *bundle.executor;

  std::vector<int32_t> table(static_cast<size_t>(kv.num_blocks));
  for (size_t i = 0; i < table.size(); ++i) table[i] = static_cast<int32_t>(i);
  std::vector<float> logits;
  engine::SeqChunk c{ids, 0, table, true};
  ex.step({&c, 1}, logits);

  const float* want = static_cast<const float*>(logits_t.data);
  double max_abs = 0, max_ref = 0;
  int64_t agree = 0;
  for (int64_t t = 0; t < T; ++t) {
    const float* a = logits.data() + t * V;
    const float* b = want + t * V;
    for (int64_t v = 0; v < V; ++v) {
      max_abs = std::max(max_abs, static_cast<double>(std::fabs(a[v] - b[v])));
      max_ref = std::max(max_ref, static_cast<double>(std::fabs(b[v])));
    }
    agree += (std::max_element(a, a + V) - a) == (std::max_element(b, b + V) - b);
  }
  const double rel = max_ref > 0 ? max_abs / max_ref : max_abs;

  // Greedy continuation in a fresh executor state (the prompt is re-run through generate()).
  engine::GenerateOptions g;
  g.max_tokens = G;
  std::vector<int32_t> got;
  auto fresh = make_executor(*m, target, kv, o.recipe);
  engine::generate(*fresh.executor, ids, g, [&](int32_t tok) {
    got.push_back(tok);
    return true;
  });
  int64_t match = 0;
  while (match < G && match < static_cast<int64_t>(got.size()) && got[match] == greedy[match]) ++match;

  const bool cuda = target.kind == "cuda";
  const double tol = o.tolerance > 0 ? o.tolerance : (cuda ? 2e-2 : 1e-3);
  const double top1 = static_cast<double>(agree) / static_cast<double>(T);
  // On the CPU (f32 math, as the reference) every greedy token must match; in bf16 on the GPU a near-tie may
  // flip one late token, so the bar there is top-1 agreement >= 0.99 over the reference positions.
  const bool pass = rel <= tol && (cuda ? top1 >= 0.99 : match == G);
  nlohmann::json out = {{"model", o.model},
                        {"target", o.target},
                        {"positions", T},
                        {"max_abs_err", max_abs},
                        {"max_rel_err", rel},
                        {"tolerance", tol},
                        {"top1_agreement", top1},
                        {"greedy_match", std::to_string(match) + "/" + std::to_string(G)},
                        {"pass", pass}};
  std::printf("%s\n", out.dump().c_str());
  return pass ? 0 : 2;
}

const RegisterCommand reg{{"verify", "Compare the model's logits and greedy tokens with a reference file",
                           [](CLI::App& sub) {
                             auto o = std::make_shared<Options>();
                             sub.add_option("--model", o->model, "Hugging Face model directory")->required();
                             sub.add_option("--reference", o->reference, "reference.safetensors (input_ids, logits, greedy_ids)")->required();
                             sub.add_option("--target", o->target, "cpu | cuda:N");
                             sub.add_option("--recipe", o->recipe, "tuned recipe to run with");
                             sub.add_option("--tolerance", o->tolerance, "bound on max_rel_err (default 1e-3 cpu, 2e-2 cuda)")
                                 ->check(positive(1e6));
                             return [o] { return run(*o); };
                           }}};

}  // namespace
}  // namespace synaptix::app
