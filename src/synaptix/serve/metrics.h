#pragma once
// Server metrics in the Prometheus text format (version 0.0.4): request, token and error counters, latency
// histograms (TTFT, inter-token, end-to-end), and the engine's gauges (running and waiting requests, KV
// blocks used and free, prefix-cache hit rate). Thread-safe: handler threads record, /metrics renders.
#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "synaptix/engine/serving_engine.h"

namespace synaptix::serve {

class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);
  void observe(double v);
  // Appends the _bucket/_sum/_count lines of metric `name`.
  void render(const std::string& name, std::string& out) const;

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;  // per bucket (not cumulative); the last one is +Inf
  double sum_ = 0;
  uint64_t count_ = 0;
};

class ServerMetrics {
 public:
  ServerMetrics();
  // endpoint: "completions" | "chat_completions"; status: the HTTP status sent.
  void request_done(const std::string& endpoint, int status);
  void tokens(int64_t prompt, int64_t generated);
  void ttft(double seconds);
  void inter_token(double seconds);
  void e2e(double seconds);
  void cancelled();
  std::string render(const engine::EngineSnapshot& engine) const;

 private:
  mutable std::mutex mu_;
  std::map<std::pair<std::string, int>, uint64_t> requests_;
  uint64_t prompt_tokens_ = 0, generated_tokens_ = 0, cancelled_ = 0;
  Histogram ttft_, itl_, e2e_;
};

}  // namespace synaptix::serve
