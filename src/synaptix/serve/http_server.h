#pragma once
// The OpenAI-compatible HTTP server (cpp-httplib): POST /v1/completions, POST /v1/chat/completions
// (stream: true as server-sent events), GET /v1/models, GET /health, GET /metrics. Handler threads submit to
// the serving engine and wait on their requests' token streams; a client that goes away is noticed within
// a tenth of a second (its end of stream, peeked while tokens are made) and its sequences are cancelled,
// freeing their KV blocks. Hostile input is bounded before it costs anything: request bodies by size (413)
// and JSON nesting (400), slow clients by a deadline, connections by the handler threads (see GuardedServer).
#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "synaptix/engine/serving_engine.h"
#include "synaptix/model/chat_template.h"
#include "synaptix/model/tokenizer.h"
#include "synaptix/serve/json_guard.h"
#include "synaptix/serve/metrics.h"

namespace synaptix::serve {

class GuardedServer;

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;  // 0: any free port (see port())
  std::string model_name;  // the id clients name in "model"
  int http_threads = 256;  // handler threads: each connection holds one; more connections get 503
  std::chrono::milliseconds heartbeat{1000};  // idle time before a keep-alive write (disconnect detection)
  size_t max_body_bytes = 16u << 20;  // larger request bodies get 413
  std::chrono::milliseconds request_timeout{10000};  // a request must arrive whole within this
  std::chrono::milliseconds evict_after{100};  // a client still sending after this may be cut for a new one
  JsonLimits json;  // nesting depth and value count of request bodies
};
inline constexpr int kMaxHttpThreads = 4096;

class OpenAiServer {
 public:
  // `chat_template` may be empty (no chat endpoint then: 400 on /v1/chat/completions). All references must
  // outlive the server.
  OpenAiServer(engine::ServingEngine& engine, const model::Tokenizer& tokenizer,
               std::optional<model::ChatTemplate> chat_template, ServerOptions opt);
  ~OpenAiServer();

  // Binds the listening socket (throws Error naming host:port on failure) and returns the port.
  int bind();
  int port() const { return port_; }
  // Serves until stop(); call bind() first.
  void serve();
  // Graceful shutdown: new generation requests get 503, those in flight run to completion (bounded by
  // `timeout`), then the listener stops and serve() returns.
  void drain_and_stop(std::chrono::seconds timeout);
  void stop();
  ServerMetrics& metrics() { return metrics_; }

 private:
  void routes();
  // Reads a POST body within max_body_bytes; false: an error response (413, 400) was set.
  bool read_body(const void* request, void* response, const void* content_reader, std::string& body);
  void handle_generation(const std::string& body, bool chat, void* response);

  engine::ServingEngine& engine_;
  const model::Tokenizer& tok_;
  std::optional<model::ChatTemplate> chat_;
  ServerOptions opt_;
  ServerMetrics metrics_;
  std::unique_ptr<GuardedServer> http_;
  int port_ = 0;
  int listen_fd_ = -1;
  std::atomic<int64_t> active_jobs_{0};
  std::atomic<uint64_t> next_id_{1};
  std::chrono::system_clock::time_point started_;
};

}  // namespace synaptix::serve
