#pragma once
// Replays a workload trace against any OpenAI-compatible server (POST /v1/completions, streaming) and
// measures what a user sees: time to first token, time per output token, inter-token latency, end-to-end
// latency, throughput, and goodput (requests per second that met the SLO).
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "synaptix/eval/latency_stats.h"
#include "synaptix/eval/trace.h"

namespace synaptix::eval {

struct ReplayOptions {
  std::string url;            // http://host:port
  std::string model;          // "": the first model GET /v1/models lists
  double rate = 0.0;          // > 0: Poisson arrivals at this many requests/s instead of the trace's times
  int64_t concurrency = 0;    // > 0: closed loop, this many requests in flight, ignoring arrival times
  double time_scale = 1.0;    // trace arrival times are multiplied by this
  int64_t max_requests = 0;   // > 0: only the first N records
  int32_t token_id_lo = 1, token_id_hi = 500;  // made-up prompt tokens (prompt_tokens records) are in [lo, hi)
  uint64_t seed = 0;
  bool ignore_eos = true;     // ask for exactly max_tokens (vLLM's `ignore_eos` extension)
  double request_timeout_s = 300.0;
  // SLO for goodput; 0 leaves a bound out.
  double slo_ttft_ms = 0, slo_tpot_ms = 0, slo_e2e_ms = 0;
};

struct RequestOutcome {
  bool ok = false;
  int http_status = 0;
  std::string error;
  double send_s = 0;   // from the start of the run
  double ttft_s = 0;   // first content event
  double e2e_s = 0;
  std::vector<double> itl_s;  // gaps between content events
  int64_t prompt_tokens = 0, output_tokens = 0;
};

struct ReplayReport {
  std::string url, model, mode;
  int64_t requests = 0, succeeded = 0, failed = 0;
  double duration_s = 0;
  int64_t prompt_tokens = 0, output_tokens = 0;
  double request_throughput = 0, output_token_throughput = 0, total_token_throughput = 0;
  LatencySummary ttft_ms, tpot_ms, itl_ms, e2e_ms;
  int64_t slo_met = 0;
  double goodput = 0;  // requests/s meeting the SLO
  double slo_ttft_ms = 0, slo_tpot_ms = 0, slo_e2e_ms = 0;
  std::vector<std::string> errors;  // first few distinct failures
};

// The token ids the replayer sends for a prompt_tokens record: a group's prefix is the same for every record
// of the group (seeded by the group name), the rest depends on the record index.
std::vector<int32_t> made_up_prompt(const TraceRecord& r, size_t index, const ReplayOptions& o);

ReplayReport replay(const std::vector<TraceRecord>& trace, const ReplayOptions& o);
ReplayReport summarize_outcomes(const std::vector<RequestOutcome>& outcomes, double duration_s,
                                const ReplayOptions& o);
nlohmann::json to_json(const ReplayReport& r);
std::string format_report(const ReplayReport& r);

}  // namespace synaptix::eval
