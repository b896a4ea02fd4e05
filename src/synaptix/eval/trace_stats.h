#pragma once
// What a trace asks of a server: length distributions, the prefill:decode token ratio, how much of the
// prompt is a prefix already sent by an earlier request of its group (what a prefix cache can save), and how
// bursty the arrivals are.
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "synaptix/eval/latency_stats.h"
#include "synaptix/eval/trace.h"

namespace synaptix::eval {

struct TraceStats {
  int64_t requests = 0;
  int64_t token_prompts = 0, text_prompts = 0;
  double duration_s = 0;            // last arrival - first arrival
  double mean_rate = 0;             // requests / duration (0 for a single instant)
  LatencySummary prompt_tokens;     // over prompt_tokens records
  LatencySummary prompt_chars;      // over text records (tokens unknown without a tokenizer)
  LatencySummary max_tokens;
  int64_t total_prompt_tokens = 0, total_max_tokens = 0;  // token-count records only for the prompt side
  double prefill_decode_ratio = 0;  // total prompt tokens / total max_tokens (token-count records)
  double prefix_sharing_rate = 0;   // shared-prefix tokens already seen earlier / total prompt tokens
  int64_t prefix_groups = 0;
  double interarrival_cv = 0;       // std/mean of inter-arrival gaps: 1 for Poisson, > 1 bursty
  double peak_rate_1s = 0;          // most arrivals in any 1 s window
};

TraceStats trace_stats(const std::vector<TraceRecord>& records);
nlohmann::json to_json(const TraceStats& s);
std::string format_trace_stats(const TraceStats& s);  // a human-readable table

}  // namespace synaptix::eval
