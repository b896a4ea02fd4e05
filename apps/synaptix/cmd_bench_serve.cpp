// synaptix bench-serve: replay a workload trace against an OpenAI-compatible server and report latency
// percentiles, throughput and goodput under an SLO. (`synaptix bench serve` is the same command.)
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "synaptix/command.h"
#include "synaptix/flag_checks.h"
#include "synaptix/eval/replay.h"
#include "synaptix/eval/trace.h"

namespace synaptix::app {
namespace {

struct Options {
  eval::ReplayOptions replay;
  std::string trace;
  bool json = false, respect_eos = false;
};

const RegisterCommand reg{{
    "bench-serve",
    "Replay a trace against an OpenAI-compatible server: TTFT, TPOT, ITL, E2E p50/p95/p99, throughput, goodput",
    [](CLI::App& sub) -> std::function<int()> {
      auto o = std::make_shared<Options>();
      auto& r = o->replay;
      sub.add_option("--url", r.url, "Server base URL, e.g. http://127.0.0.1:8080")->required();
      sub.add_option("--trace", o->trace, "Trace file (JSONL, see `synaptix trace`)")->required();
      auto* rate = sub.add_option("--rate", r.rate, "Poisson arrivals at R req/s (default: the trace's arrival times)")
                       ->check(positive(1e6));
      sub.add_option("--concurrency", r.concurrency, "Closed loop with C requests in flight")
          ->excludes(rate)
          ->check(in_range(1, kMaxThreads));
      sub.add_option("--model", r.model, "Model name to send (default: the first of GET /v1/models)");
      sub.add_option("--time-scale", r.time_scale, "Multiply trace arrival times by this")
          ->default_val(1.0)
          ->check(positive(1e6));
      sub.add_option("--max-requests", r.max_requests, "Replay only the first N requests (0: all)")
          ->check(in_range(0, kMaxTokens));
      sub.add_option("--slo-ttft-ms", r.slo_ttft_ms, "Goodput SLO: time to first token bound (ms, 0: none)")
          ->check(in_range(0, kMaxSeconds * 1e3));
      sub.add_option("--slo-tpot-ms", r.slo_tpot_ms, "Goodput SLO: time per output token bound (ms, 0: none)")
          ->check(in_range(0, kMaxSeconds * 1e3));
      sub.add_option("--slo-e2e-ms", r.slo_e2e_ms, "Goodput SLO: end-to-end latency bound (ms, 0: none)")
          ->check(in_range(0, kMaxSeconds * 1e3));
      sub.add_option("--token-id-max", r.token_id_hi,
                     "Made-up prompt token ids are drawn from [1, N) (keep N within the model's vocabulary)")
          ->default_val(500)
          ->check(in_range(2, 2147483647));
      sub.add_option("--seed", r.seed, "Seed for made-up prompts and Poisson arrivals")->default_val(0);
      sub.add_option("--timeout", r.request_timeout_s, "Per-request timeout (s)")
          ->default_val(300.0)
          ->check(positive(kMaxSeconds));
      sub.add_flag("--respect-eos", o->respect_eos, "Let the model stop at end-of-sequence (default: ignore_eos)");
      sub.add_flag("--json", o->json, "Print the report as JSON");
      return [o]() -> int {
        o->replay.ignore_eos = !o->respect_eos;
        auto trace = eval::read_trace(o->trace);
        auto report = eval::replay(trace, o->replay);
        if (o->json) {
          std::cout << eval::to_json(report).dump(2) << "\n";
        } else {
          std::cout << eval::format_report(report);
        }
        return report.succeeded > 0 ? 0 : 1;
      };
    }}};

}  // namespace
}  // namespace synaptix::app
