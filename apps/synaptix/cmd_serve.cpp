// synaptix serve: the OpenAI-compatible server over the continuous-batching engine. SIGTERM or SIGINT
// drains: new requests get 503, running ones finish, then the process exits.
#include <pthread.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "synaptix/command.h"
#include "synaptix/core/error.h"
#include "synaptix/engine/serving_engine.h"
#include "synaptix/executor_factory.h"
#include "synaptix/flag_checks.h"
#include "synaptix/model/chat_template.h"
#include "synaptix/model/model.h"
#include "synaptix/model/tokenizer.h"
#include "synaptix/recipe_model.h"
#include "synaptix/serve/http_server.h"

namespace synaptix::app {
namespace {

struct Options {
  std::string model, recipe, target = "cpu", host = "127.0.0.1", name;
  int port = 8080, http_threads = 256, drain_timeout_s = 60, max_body_mb = 16;
  double request_timeout_s = 10.0;
  int64_t kv_blocks = 0, block_size = 16, max_running = 64, max_batched_tokens = 512, max_queue = 1024;
  int64_t steps_per_launch = 0;  // 0: the executor's (the recipe's plan on a device; none on the CPU)
  double kv_memory_gb = 4.0;
  bool no_prefix_cache = false;
};

// KV bytes of one block (K and V of every layer) in the recipe's KV format: a narrower format admits more
// blocks, so more sequences, in the same --kv-memory-gb.
int64_t kv_block_bytes(const model::Spec& s, int64_t block_size, kernels::KvFormat f) {
  return s.num_layers * kernels::kv_bytes_per_token_layer(f, s.num_kv_heads, s.head_dim) * block_size;
}

int run(const Options& o) {
  // The recipe's weight formats, if it has any, are applied at load (recipe_model.h).
  RecipeModel rm = load_model_for_recipe(o.model, o.recipe);
  const auto& m = rm.model;
  auto tok = model::Tokenizer::load(o.model);
  std::optional<model::ChatTemplate> chat;
  if (!tok.chat_template().empty()) chat.emplace(tok.chat_template());

  // Enough blocks for max_running full-context sequences, bounded by the KV memory budget.
  const model::Spec& s = m->spec;
  int64_t blocks = o.kv_blocks;
  const kernels::KvFormat kv_format = recipe_kv_format(rm.executor_recipe);
  if (blocks <= 0) {
    const int64_t per_seq = (s.max_position_embeddings + o.block_size - 1) / o.block_size;
    const int64_t budget =
        static_cast<int64_t>(o.kv_memory_gb * 1e9) / kv_block_bytes(s, o.block_size, kv_format);
    blocks = std::max<int64_t>(per_seq, std::min(per_seq * o.max_running, budget));
  }
  auto bundle = make_executor(*m, parse_target(o.target), engine::KvConfig{blocks, o.block_size}, rm.executor_recipe);

  engine::ServingConfig cfg;
  cfg.scheduler.block_size = o.block_size;
  cfg.scheduler.max_running = o.max_running;
  cfg.scheduler.max_batched_tokens = o.max_batched_tokens;
  cfg.scheduler.prefix_caching = !o.no_prefix_cache;
  cfg.max_in_flight = o.max_queue;
  // Greedy decodes run as gpu-bench times them: pipelined, several steps per launch (where the executor's
  // enqueue overlaps the host).
  cfg.greedy_steps_per_launch = o.steps_per_launch > 0 ? o.steps_per_launch : bundle.greedy_steps_per_launch;
  std::vector<int64_t> eos = s.eos_token_ids;
  if (auto e = tok.eos_id(); e && std::find(eos.begin(), eos.end(), *e) == eos.end()) eos.push_back(*e);

  // Signals are taken by a dedicated thread (sigwait), so every other thread must have them blocked.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  engine::ServingEngine engine(*bundle.executor, cfg, eos);
  serve::ServerOptions so;
  so.host = o.host;
  so.port = o.port;
  so.http_threads = o.http_threads;
  so.max_body_bytes = static_cast<size_t>(o.max_body_mb) << 20;
  so.request_timeout = std::chrono::milliseconds(static_cast<int64_t>(o.request_timeout_s * 1000.0));
  so.model_name = o.name.empty() ? std::filesystem::path(o.model).filename().string() : o.name;
  if (so.model_name.empty()) so.model_name = std::filesystem::path(o.model).parent_path().filename().string();
  serve::OpenAiServer server(engine, tok, std::move(chat), so);
  const int port = server.bind();
  std::fprintf(stderr, "serving %s as \"%s\" on http://%s:%d (%lld KV blocks of %lld, %s KV at %lld bytes/token, max %lld running, %lld tokens/step)\n",
               o.model.c_str(), so.model_name.c_str(), o.host.c_str(), port, static_cast<long long>(blocks),
               static_cast<long long>(o.block_size), kernels::kv_format_name(kv_format),
               static_cast<long long>(kv_block_bytes(s, 1, kv_format)), static_cast<long long>(o.max_running),
               static_cast<long long>(o.max_batched_tokens));

  std::atomic<bool> served{false};
  std::thread signals([&] {
    int sig = 0;
    sigwait(&set, &sig);
    if (served.load()) return;  // woken by main after the server stopped on its own
    std::fprintf(stderr, "signal %d: draining %lld requests in flight\n", sig,
                 static_cast<long long>(engine.in_flight()));
    server.drain_and_stop(std::chrono::seconds(o.drain_timeout_s));
  });
  server.serve();
  served.store(true);
  pthread_kill(signals.native_handle(), SIGTERM);
  signals.join();
  std::fprintf(stderr, "server stopped\n");
  return 0;
}

const RegisterCommand reg{{
    "serve",
    "OpenAI-compatible HTTP server (/v1/completions, /v1/chat/completions, /v1/models, /health, /metrics)",
    [](CLI::App& sub) -> std::function<int()> {
      auto o = std::make_shared<Options>();
      sub.add_option("--model", o->model, "Hugging Face model directory")->required();
      sub.add_option("--recipe", o->recipe, "Recipe with tuned kernels");
      sub.add_option("--target", o->target, "cpu | cuda | cuda:N")->default_val("cpu");
      sub.add_option("--host", o->host, "Address to listen on")->default_val("127.0.0.1");
      sub.add_option("--port", o->port, "Port (0: any free port)")->default_val(8080)->check(in_range(0, 65535));
      sub.add_option("--served-model-name", o->name, "Model id clients use (default: the directory name)");
      sub.add_option("--kv-blocks", o->kv_blocks, "KV cache blocks (0: from --max-running and --kv-memory-gb)")
          ->check(in_range(0, double(int64_t{1} << 24)));
      sub.add_option("--kv-memory-gb", o->kv_memory_gb, "KV memory budget when --kv-blocks is 0")
          ->default_val(4.0)->check(positive(4096));
      sub.add_option("--block-size", o->block_size, "Positions per KV block")->default_val(16)->check(in_range(1, 1024));
      sub.add_option("--max-running", o->max_running, "Sequences batched together at most")
          ->default_val(64)->check(in_range(1, 65536));
      sub.add_option("--max-batched-tokens", o->max_batched_tokens, "Tokens per step (decode + prefill chunks)")
          ->default_val(512)->check(in_range(1, double(1 << 20)));
      sub.add_option("--max-queue", o->max_queue, "Requests in flight before 429")
          ->default_val(1024)->check(in_range(1, double(1 << 20)));
      sub.add_option("--http-threads", o->http_threads,
                     "HTTP handler threads: connections served at once (more get 503)")
          ->default_val(256)->check(in_range(2, serve::kMaxHttpThreads));
      sub.add_option("--max-body-mb", o->max_body_mb, "Largest request body in MiB (larger: 413)")
          ->default_val(16)->check(in_range(1, 1024));
      sub.add_option("--request-timeout", o->request_timeout_s,
                     "Seconds a client has to send a whole request (slower ones are cut off)")
          ->default_val(10.0)->check(positive(3600));
      sub.add_option("--drain-timeout", o->drain_timeout_s, "Seconds to let requests finish on SIGTERM")
          ->default_val(60)->check(in_range(0, kMaxSeconds));
      sub.add_flag("--no-prefix-cache", o->no_prefix_cache, "Disable prefix caching");
      sub.add_option("--steps-per-launch", o->steps_per_launch,
                     "greedy decode steps per device launch while every running request decodes greedily "
                     "(default: the recipe's plan on a GPU; the CPU runs one step at a time)")
          ->check(in_range(1, 64));
      return [o] { return run(*o); };
    }}};

}  // namespace
}  // namespace synaptix::app
