#include "synaptix/eval/trace_stats.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>

#include <nlohmann/json.hpp>

namespace synaptix::eval {

TraceStats trace_stats(const std::vector<TraceRecord>& recs) {
  TraceStats s;
  s.requests = static_cast<int64_t>(recs.size());
  if (recs.empty()) return s;
  std::vector<double> ptok, pchar, mtok, arrivals;
  std::set<std::string> seen_groups;
  int64_t shared = 0;
  for (const auto& r : recs) {
    arrivals.push_back(r.arrival_s);
    mtok.push_back(static_cast<double>(r.max_tokens));
    if (r.prompt) {
      ++s.text_prompts;
      pchar.push_back(static_cast<double>(r.prompt->size()));
      continue;
    }
    ++s.token_prompts;
    ptok.push_back(static_cast<double>(r.prompt_tokens));
    s.total_prompt_tokens += r.prompt_tokens;
    s.total_max_tokens += r.max_tokens;
    if (!r.prefix_group.empty()) {
      // The first request of a group computes its prefix; later ones can reuse it.
      if (!seen_groups.insert(r.prefix_group).second) shared += r.prefix_tokens;
    }
  }
  s.prefix_groups = static_cast<int64_t>(seen_groups.size());
  s.prompt_tokens = summarize(ptok);
  s.prompt_chars = summarize(pchar);
  s.max_tokens = summarize(mtok);
  if (s.total_max_tokens > 0) {
    s.prefill_decode_ratio = static_cast<double>(s.total_prompt_tokens) / static_cast<double>(s.total_max_tokens);
  }
  if (s.total_prompt_tokens > 0) {
    s.prefix_sharing_rate = static_cast<double>(shared) / static_cast<double>(s.total_prompt_tokens);
  }
  std::sort(arrivals.begin(), arrivals.end());
  s.duration_s = arrivals.back() - arrivals.front();
  if (s.duration_s > 0) s.mean_rate = static_cast<double>(recs.size()) / s.duration_s;
  if (arrivals.size() >= 3) {
    std::vector<double> gaps;
    for (size_t i = 1; i < arrivals.size(); ++i) gaps.push_back(arrivals[i] - arrivals[i - 1]);
    double mean = 0, var = 0;
    for (double g : gaps) mean += g;
    mean /= static_cast<double>(gaps.size());
    for (double g : gaps) var += (g - mean) * (g - mean);
    var /= static_cast<double>(gaps.size());
    s.interarrival_cv = mean > 0 ? std::sqrt(var) / mean : 0.0;
  }
  size_t lo = 0;
  for (size_t hi = 0; hi < arrivals.size(); ++hi) {
    while (arrivals[hi] - arrivals[lo] >= 1.0) ++lo;
    s.peak_rate_1s = std::max(s.peak_rate_1s, static_cast<double>(hi - lo + 1));
  }
  return s;
}

nlohmann::json to_json(const TraceStats& s) {
  return {{"requests", s.requests},
          {"token_prompts", s.token_prompts},
          {"text_prompts", s.text_prompts},
          {"duration_s", s.duration_s},
          {"mean_rate", s.mean_rate},
          {"prompt_tokens", to_json(s.prompt_tokens)},
          {"prompt_chars", to_json(s.prompt_chars)},
          {"max_tokens", to_json(s.max_tokens)},
          {"total_prompt_tokens", s.total_prompt_tokens},
          {"total_max_tokens", s.total_max_tokens},
          {"prefill_decode_ratio", s.prefill_decode_ratio},
          {"prefix_sharing_rate", s.prefix_sharing_rate},
          {"prefix_groups", s.prefix_groups},
          {"interarrival_cv", s.interarrival_cv},
          {"peak_rate_1s", s.peak_rate_1s}};
}

std::string format_trace_stats(const TraceStats& s) {
  char buf[2048];
  std::string out;
  auto row = [&](const char* name, const LatencySummary& l) {
    if (l.count == 0) return;
    std::snprintf(buf, sizeof buf, "  %-15s n=%-6lld p50 %-8.0f p90 %-8.0f p99 %-8.0f mean %-8.1f max %.0f\n", name,
                  static_cast<long long>(l.count), l.p50, l.p90, l.p99, l.mean, l.max);
    out += buf;
  };
  std::snprintf(buf, sizeof buf, "requests            %lld (%lld token-count prompts, %lld text prompts)\n",
                static_cast<long long>(s.requests), static_cast<long long>(s.token_prompts),
                static_cast<long long>(s.text_prompts));
  out += buf;
  std::snprintf(buf, sizeof buf, "duration            %.2f s, mean rate %.3f req/s, peak %.0f req in 1 s\n",
                s.duration_s, s.mean_rate, s.peak_rate_1s);
  out += buf;
  out += "lengths\n";
  row("prompt tokens", s.prompt_tokens);
  row("prompt chars", s.prompt_chars);
  row("max tokens", s.max_tokens);
  std::snprintf(buf, sizeof buf,
                "prefill:decode      %.2f : 1 (%lld prompt tokens, %lld output tokens at most)\n"
                "prefix sharing      %.1f%% of prompt tokens repeat an earlier prefix (%lld groups)\n"
                "burstiness          inter-arrival CV %.2f (1 = Poisson, > 1 bursty)\n",
                s.prefill_decode_ratio, static_cast<long long>(s.total_prompt_tokens),
                static_cast<long long>(s.total_max_tokens), 100.0 * s.prefix_sharing_rate,
                static_cast<long long>(s.prefix_groups), s.interarrival_cv);
  out += buf;
  return out;
}

}  // namespace synaptix::eval
