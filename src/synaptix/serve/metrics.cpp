#include "synaptix/serve/metrics.h"

#include <algorithm>
#include <charconv>
#include <cstdio>

namespace synaptix::serve {

namespace {

// Shortest text that reads back as the same double: 0.1 prints as "0.1".
std::string num(double v) {
  char b[64];
  auto r = std::to_chars(b, b + sizeof b, v);
  return std::string(b, r.ptr);
}

void help(std::string& out, const char* name, const char* type, const char* text) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += text;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

}  // namespace

Histogram::Histogram(std::vector<double> upper_bounds) : bounds_(std::move(upper_bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::observe(double v) {
  const size_t i = static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
  ++counts_[i];
  sum_ += v;
  ++count_;
}

void Histogram::render(const std::string& name, std::string& out) const {
  uint64_t cum = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    cum += counts_[i];
    out += name + "_bucket{le=\"" + num(bounds_[i]) + "\"} " + std::to_string(cum) + "\n";
  }
  out += name + "_bucket{le=\"+Inf\"} " + std::to_string(count_) + "\n";
  out += name + "_sum " + num(sum_) + "\n";
  out += name + "_count " + std::to_string(count_) + "\n";
}

ServerMetrics::ServerMetrics()
    : ttft_({0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80}),
      itl_({0.001, 0.0025, 0.005, 0.01, 0.015, 0.02, 0.025, 0.03, 0.04, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5,
            0.75, 1, 2.5}),
      e2e_({0.01, 0.05, 0.1, 0.3, 0.5, 0.8, 1, 1.5, 2, 2.5, 5, 10, 15, 20, 30, 40, 50, 60, 120, 240}) {}

void ServerMetrics::request_done(const std::string& endpoint, int status) {
  std::lock_guard lk(mu_);
  ++requests_[{endpoint, status}];
}

void ServerMetrics::tokens(int64_t prompt, int64_t generated) {
  std::lock_guard lk(mu_);
  prompt_tokens_ += static_cast<uint64_t>(prompt);
  generated_tokens_ += static_cast<uint64_t>(generated);
}

void ServerMetrics::ttft(double s) {
  std::lock_guard lk(mu_);
  ttft_.observe(s);
}

void ServerMetrics::inter_token(double s) {
  std::lock_guard lk(mu_);
  itl_.observe(s);
}

void ServerMetrics::e2e(double s) {
  std::lock_guard lk(mu_);
  e2e_.observe(s);
}

void ServerMetrics::cancelled() {
  std::lock_guard lk(mu_);
  ++cancelled_;
}

std::string ServerMetrics::render(const engine::EngineSnapshot& e) const {
  std::string out;
  std::lock_guard lk(mu_);
  help(out, "synaptix_requests_total", "counter", "HTTP generation requests by endpoint and status code.");
  uint64_t errors = 0;
  for (const auto& [k, v] : requests_) {
    out += "synaptix_requests_total{endpoint=\"" + k.first + "\",status=\"" + std::to_string(k.second) + "\"} " +
           std::to_string(v) + "\n";
    if (k.second >= 400) errors += v;
  }
  help(out, "synaptix_request_errors_total", "counter", "Generation requests answered with a 4xx or 5xx status.");
  out += "synaptix_request_errors_total " + std::to_string(errors) + "\n";
  help(out, "synaptix_requests_cancelled_total", "counter", "Requests whose client disconnected before the end.");
  out += "synaptix_requests_cancelled_total " + std::to_string(cancelled_) + "\n";
  help(out, "synaptix_prompt_tokens_total", "counter", "Prompt tokens of accepted requests (per choice).");
  out += "synaptix_prompt_tokens_total " + std::to_string(prompt_tokens_) + "\n";
  help(out, "synaptix_generation_tokens_total", "counter", "Tokens generated and sent to clients.");
  out += "synaptix_generation_tokens_total " + std::to_string(generated_tokens_) + "\n";
  help(out, "synaptix_time_to_first_token_seconds", "histogram", "Time from request arrival to its first token.");
  ttft_.render("synaptix_time_to_first_token_seconds", out);
  help(out, "synaptix_inter_token_latency_seconds", "histogram", "Time between successive tokens of a choice.");
  itl_.render("synaptix_inter_token_latency_seconds", out);
  help(out, "synaptix_e2e_request_latency_seconds", "histogram", "Time from request arrival to its last token.");
  e2e_.render("synaptix_e2e_request_latency_seconds", out);
  help(out, "synaptix_requests_running", "gauge", "Sequences being computed (admitted to the batch).");
  out += "synaptix_requests_running " + std::to_string(e.running) + "\n";
  help(out, "synaptix_requests_waiting", "gauge", "Sequences queued for admission (new or preempted).");
  out += "synaptix_requests_waiting " + std::to_string(e.waiting + std::max<int64_t>(0, e.in_flight - e.running - e.waiting)) + "\n";
  help(out, "synaptix_kv_blocks_used", "gauge", "KV cache blocks referenced by sequences.");
  out += "synaptix_kv_blocks_used " + std::to_string(e.kv_blocks_used) + "\n";
  help(out, "synaptix_kv_blocks_free", "gauge", "KV cache blocks available (free or evictable cached).");
  out += "synaptix_kv_blocks_free " + std::to_string(e.kv_blocks_free) + "\n";
  help(out, "synaptix_kv_blocks_cached", "gauge", "KV cache blocks holding prefix-cache content.");
  out += "synaptix_kv_blocks_cached " + std::to_string(e.kv_blocks_cached) + "\n";
  help(out, "synaptix_prefix_cache_queries_total", "counter", "Prompt tokens looked up in the prefix cache.");
  out += "synaptix_prefix_cache_queries_total " + std::to_string(e.prompt_tokens) + "\n";
  help(out, "synaptix_prefix_cache_hits_total", "counter", "Prompt tokens served from the prefix cache.");
  out += "synaptix_prefix_cache_hits_total " + std::to_string(e.prompt_tokens_cached) + "\n";
  help(out, "synaptix_prefix_cache_hit_rate", "gauge", "Prefix-cache hits / queries since start (0 before any).");
  const double rate = e.prompt_tokens > 0 ? static_cast<double>(e.prompt_tokens_cached) / static_cast<double>(e.prompt_tokens) : 0.0;
  out += "synaptix_prefix_cache_hit_rate " + num(rate) + "\n";
  help(out, "synaptix_preemptions_total", "counter", "Sequences preempted for KV blocks and later recomputed.");
  out += "synaptix_preemptions_total " + std::to_string(e.preemptions) + "\n";
  help(out, "synaptix_engine_steps_total", "counter", "Executor steps run by the engine loop.");
  out += "synaptix_engine_steps_total " + std::to_string(e.steps) + "\n";
  return out;
}

}  // namespace synaptix::serve
