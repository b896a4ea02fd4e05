// synaptix generate: stream a completion of a prompt (or a one-turn chat) to stdout; timings to stderr.
#include <cstdio>
#include <string>
#include <nlohmann/json.hpp>

#include "synaptix/command.h"
#include "synaptix/flag_checks.h"
#include "synaptix/engine/generator.h"
#include "synaptix/engine/stop_matcher.h"
#include "synaptix/executor_factory.h"
#include "synaptix/model/model.h"
#include "synaptix/model/tokenizer.h"
#include "synaptix/prompt_builder.h"
#include "synaptix/recipe_model.h"

namespace synaptix::app {
namespace {

struct Options {
  std::string model, prompt, target = "cpu", recipe, system;
  bool chat = false, ignore_eos = false;
  int64_t max_tokens = 128;
  int64_t steps_per_launch = 0;  // 0: the recipe's (CUDA), else GenerateOptions' default
  engine::SamplingParams sampling;
  std::vector<std::string> stop;
};

int run(const Options& o) {
  // The recipe's weight formats, if it has any, are applied at load (recipe_model.h).
  RecipeModel rm = load_model_for_recipe(o.model, o.recipe);
  const auto& m = rm.model;
  auto tok = model::Tokenizer::load(o.model);
  std::vector<int32_t> ids;
  if (o.chat) {
    nlohmann::json msgs = nlohmann::json::array();
    if (!o.system.empty()) msgs.push_back({{"role", "system"}, {"content", o.system}});
    msgs.push_back({{"role", "user"}, {"content", o.prompt}});
    ids = encode_chat(tok, msgs);
  } else {
    ids = encode_prompt(tok, o.prompt);
  }
  engine::KvConfig kv;
  kv.num_blocks = (static_cast<int64_t>(ids.size()) + o.max_tokens + kv.block_size) / kv.block_size + 1;
  auto bundle = make_executor(*m, parse_target(o.target), kv, rm.executor_recipe);

  engine::GenerateOptions g;
  g.max_tokens = o.max_tokens;
  if (o.steps_per_launch > 0) g.greedy_steps_per_launch = o.steps_per_launch;
  else if (bundle.greedy_steps_per_launch > 0) g.greedy_steps_per_launch = bundle.greedy_steps_per_launch;
  g.sampling = o.sampling;
  if (!o.ignore_eos) {
    g.eos_ids = m->spec.eos_token_ids;
    if (auto e = tok.eos_id()) g.eos_ids.push_back(*e);
  }
  model::DecodeStream stream(tok, /*skip_special_tokens=*/true);
  engine::StopMatcher stops(o.stop);
  auto st = engine::generate(*bundle.executor, ids, g, [&](int32_t t) {
    std::string text = stops.push(stream.push(t));
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
    return !stops.stopped();
  });
  std::string tail = stops.push(stream.flush());
  tail += stops.flush();
  std::fwrite(tail.data(), 1, tail.size(), stdout);
  std::printf("\n");
  std::fflush(stdout);  // the text before the figures, also when both go to one pipe
  std::fprintf(stderr, "prompt: %lld tokens, %.1f tok/s | decode: %lld tokens, %.1f tok/s | finish: %s\n",
               static_cast<long long>(st.prompt_tokens),
               st.prefill_seconds > 0 ? static_cast<double>(st.prompt_tokens) / st.prefill_seconds : 0.0,
               static_cast<long long>(st.generated_tokens),
               st.decode_seconds > 0 ? static_cast<double>(st.generated_tokens) / st.decode_seconds : 0.0,
               st.finish_reason.c_str());
  return 0;
}

const RegisterCommand reg{{"generate", "Generate text from a prompt", [](CLI::App& sub) {
  auto o = std::make_shared<Options>();
  sub.add_option("--model", o->model, "Hugging Face model directory")->required();
  sub.add_option("--prompt", o->prompt, "prompt text")->required();
  sub.add_flag("--chat", o->chat, "render the prompt as a user turn through the chat template");
  sub.add_option("--system", o->system, "system message (with --chat)");
  sub.add_option("--max-tokens", o->max_tokens, "tokens to generate")->check(in_range(1, kMaxTokens));
  sub.add_option("--steps-per-launch", o->steps_per_launch,
                 "greedy decode steps per device launch where the executor pipelines (tokens arrive in groups "
                 "of this many; 1: one at a time; default: the recipe's, else " +
                     std::to_string(engine::GenerateOptions{}.greedy_steps_per_launch) + ")")
      ->check(in_range(1, 64));
  sub.add_option("--temperature", o->sampling.temperature, "0 = greedy")->check(in_range(0, 100));
  sub.add_option("--top-k", o->sampling.top_k)->check(in_range(0, double(1 << 24)));
  sub.add_option("--top-p", o->sampling.top_p)->check(positive(1));
  sub.add_option("--min-p", o->sampling.min_p)->check(in_range(0, 1));
  sub.add_option("--repetition-penalty", o->sampling.repetition_penalty)->check(positive(100));
  sub.add_option("--frequency-penalty", o->sampling.frequency_penalty)->check(in_range(-2, 2));
  sub.add_option("--presence-penalty", o->sampling.presence_penalty)->check(in_range(-2, 2));
  sub.add_option("--seed", o->sampling.seed);
  sub.add_option("--stop", o->stop, "stop string (repeatable)");
  sub.add_flag("--ignore-eos", o->ignore_eos, "keep generating past EOS");
  sub.add_option("--target", o->target, "cpu | cuda:N");
  sub.add_option("--recipe", o->recipe, "tuned recipe to run with");
  return [o] { return run(*o); };
}}};

}  // namespace
}  // namespace synaptix::app
