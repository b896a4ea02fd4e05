#include "synaptix/eval/trace_synth.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "synaptix/core/error.h"

namespace synaptix::eval {

namespace {

struct Gen {
  std::mt19937_64 rng;
  const SynthOptions& o;

  int64_t lognormal(double median, double sigma, int64_t lo, int64_t hi) {
    std::lognormal_distribution<double> d(std::log(median), sigma);
    return std::clamp<int64_t>(std::llround(d(rng)), lo, hi);
  }
  int64_t uniform(int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); }
  double exponential(double rate) { return std::exponential_distribution<double>(rate)(rng); }
  double uniform_real(double lo, double hi) { return std::uniform_real_distribution<double>(lo, hi)(rng); }

  // Applies the caps: a group's shared prefix is held to half the prompt cap (the same for every request of
  // the group, so they still share it) and the prompt is clipped, keeping at least one token after the prefix.
  void add(std::vector<TraceRecord>& out, double t, int64_t prefix, const std::string& group, int64_t rest,
           int64_t output) {
    TraceRecord r;
    r.id = o.kind + "-" + std::to_string(out.size());
    r.arrival_s = t;
    if (o.max_prompt_tokens > 0) prefix = std::min(prefix, o.max_prompt_tokens / 2);
    int64_t total = prefix + rest;
    if (o.max_prompt_tokens > 0) total = std::min(total, o.max_prompt_tokens);
    r.prompt_tokens = total;
    r.max_tokens = o.max_output_tokens > 0 ? std::min(output, o.max_output_tokens) : output;
    if (!group.empty() && prefix > 0) {
      r.prefix_group = group;
      r.prefix_tokens = prefix;
    }
    out.push_back(std::move(r));
  }
};

}  // namespace

const std::vector<std::string>& synth_kinds() {
  static const std::vector<std::string> k = {"chat", "agent", "long-context", "batch"};
  return k;
}

std::vector<TraceRecord> synthesize_trace(const SynthOptions& o) {
  if (std::find(synth_kinds().begin(), synth_kinds().end(), o.kind) == synth_kinds().end()) {
    fail("trace synth: unknown kind \"", o.kind, "\" (expected chat, agent, long-context or batch)");
  }
  if (o.num_requests < 1) fail("trace synth: the number of requests must be >= 1, got ", o.num_requests);
  if (o.rate < 0) fail("trace synth: rate must be >= 0, got ", o.rate);
  if (o.max_prompt_tokens < 0 || o.max_prompt_tokens == 1) {
    fail("trace synth: max prompt tokens must be >= 2 (or 0 for no cap), got ", o.max_prompt_tokens);
  }
  if (o.max_output_tokens < 0) fail("trace synth: max output tokens must be >= 0, got ", o.max_output_tokens);
  Gen g{std::mt19937_64(o.seed), o};
  std::vector<TraceRecord> out;
  const size_t n = static_cast<size_t>(o.num_requests);
  double t = 0.0;
  if (o.kind == "chat") {
    const double rate = o.rate > 0 ? o.rate : 2.0;
    while (out.size() < n) {
      t += g.exponential(rate);
      const int64_t sys = g.uniform(0, 3);
      const int64_t user = g.lognormal(120, 0.9, 4, 4000);
      g.add(out, t, 160, "system-" + std::to_string(sys), user, g.lognormal(200, 0.7, 8, 1024));
    }
  } else if (o.kind == "agent") {
    const double rate = o.rate > 0 ? o.rate : 0.5;
    int64_t session = 0;
    while (out.size() < n) {
      t += g.exponential(rate);
      const int64_t prefix = g.uniform(1000, 3000);
      const int64_t calls = g.uniform(4, 10);
      double tc = t;
      for (int64_t c = 0; c < calls && out.size() < n; ++c) {
        g.add(out, tc, prefix, "session-" + std::to_string(session), g.lognormal(150, 0.8, 4, 2000),
              g.lognormal(60, 0.6, 4, 512));
        tc += g.uniform_real(0.05, 0.5);
      }
      ++session;
    }
  } else if (o.kind == "long-context") {
    const double rate = o.rate > 0 ? o.rate : 0.2;
    while (out.size() < n) {
      t += g.exponential(rate);
      g.add(out, t, 0, "", g.uniform(8000, 32000), g.lognormal(250, 0.5, 16, 1024));
    }
  } else {  // batch
    while (out.size() < n) {
      const int64_t total = g.lognormal(600, 0.6, 16, 8000);
      g.add(out, 0.0, 48, "instruction", std::max<int64_t>(1, total - 48), g.lognormal(300, 0.5, 16, 2048));
    }
  }
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.arrival_s < b.arrival_s; });
  return out;
}

}  // namespace synaptix::eval
