#pragma once
// The OpenAI server on loopback (127.0.0.1, a free port) over the fixture Llama model, for the server tests:
// a real engine, executor and tokenizer; options and the chat template can be changed per test.
#include <httplib.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "synaptix/engine/cpu_executor.h"
#include "synaptix/engine/generator.h"
#include "synaptix/model/model.h"
#include "synaptix/serve/http_server.h"

namespace synaptix::testing {

const std::string kModelDir = std::string(SYNAPTIX_SHARED_DIR) + "/fixtures/models/llama";

struct Harness {
  std::unique_ptr<model::Model> model;
  model::Tokenizer tok;
  std::unique_ptr<engine::Executor> ex;
  std::unique_ptr<engine::ServingEngine> engine;
  std::unique_ptr<serve::OpenAiServer> server;
  std::thread thread;
  int port = 0;

  explicit Harness(int64_t kv_blocks = 256, int64_t max_queue = 1024, int64_t max_running = 32,
                   const std::function<void(serve::ServerOptions&)>& options = {},
                   std::optional<std::string> chat_template = std::nullopt)
      : model(model::load_model(kModelDir)), tok(model::Tokenizer::load(kModelDir)) {
    ex = engine::make_cpu_executor(*model, engine::KvConfig{kv_blocks, 8});
    engine::ServingConfig cfg;
    cfg.scheduler = {.block_size = 8, .max_running = max_running, .max_batched_tokens = 128, .prefix_caching = true};
    cfg.max_in_flight = max_queue;
    engine = std::make_unique<engine::ServingEngine>(*ex, cfg, model->spec.eos_token_ids);
    serve::ServerOptions so;
    so.port = 0;
    so.model_name = "llama";
    so.heartbeat = std::chrono::milliseconds(100);
    if (options) options(so);
    std::optional<model::ChatTemplate> chat;
    if (chat_template) {
      chat.emplace(*chat_template);
    } else if (!tok.chat_template().empty()) {
      chat.emplace(tok.chat_template());
    }
    server = std::make_unique<serve::OpenAiServer>(*engine, tok, std::move(chat), so);
    port = server->bind();
    thread = std::thread([this] { server->serve(); });
  }
  ~Harness() {
    server->stop();
    thread.join();
  }
  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port);
    c.set_read_timeout(60);
    c.set_connection_timeout(10);
    return c;
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port); }

  // The reference: this prompt alone, greedy, through engine::generate on a fresh executor.
  std::vector<int32_t> alone(const std::vector<int32_t>& prompt, int64_t max_tokens) const {
    auto solo = engine::make_cpu_executor(*model, engine::KvConfig{0, 16});
    engine::GenerateOptions o;
    o.max_tokens = max_tokens;
    std::vector<int32_t> out;
    engine::generate(*solo, prompt, o, [&](int32_t t) {
      out.push_back(t);
      return true;
    });
    return out;
  }
  std::string text_of(const std::vector<int32_t>& ids) const { return tok.decode(ids, true); }

  bool wait_until_idle(std::chrono::seconds limit) const {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
      auto s = engine->snapshot();
      if (s.in_flight == 0 && s.kv_blocks_used == 0) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }
};

}  // namespace synaptix::testing
