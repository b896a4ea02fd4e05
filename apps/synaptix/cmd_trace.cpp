// synaptix trace synth|stats: make synthetic workload traces (JSONL) and describe a trace.
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "synaptix/command.h"
#include "synaptix/flag_checks.h"
#include "synaptix/eval/trace.h"
#include "synaptix/eval/trace_stats.h"
#include "synaptix/eval/trace_synth.h"

namespace synaptix::app {
namespace {

struct Options {
  eval::SynthOptions synth;
  std::string out, file;
  bool json = false;
};

const RegisterCommand reg{{
    "trace",
    "Workload traces: `trace synth --kind chat|agent|long-context|batch`, `trace stats FILE`",
    [](CLI::App& sub) -> std::function<int()> {
      auto o = std::make_shared<Options>();
      sub.require_subcommand(1);
      CLI::App* synth = sub.add_subcommand("synth", "Write a synthetic trace (distributions: see eval/trace_synth.h)");
      synth->add_option("--kind", o->synth.kind, "chat | agent | long-context | batch")->required();
      synth->add_option("-n,--num-requests", o->synth.num_requests, "Requests in the trace")
          ->default_val(100)
          ->check(in_range(1, 1e7));
      synth->add_option("--seed", o->synth.seed, "Random seed")->default_val(0);
      synth->add_option("--rate", o->synth.rate, "Mean arrival rate (req/s; sessions/s for agent); 0: the kind's default")
          ->check(in_range(0, 1e6));
      synth->add_option("--max-prompt-tokens", o->synth.max_prompt_tokens, "Cap prompt lengths (0: none)")->check(in_range(0, kMaxTokens));
      synth->add_option("--max-output-tokens", o->synth.max_output_tokens, "Cap output lengths (0: none)")->check(in_range(0, kMaxTokens));
      synth->add_option("-o,--output", o->out, "Output file (default: stdout)");
      CLI::App* stats = sub.add_subcommand("stats", "Length percentiles, prefill:decode ratio, prefix sharing, burstiness");
      stats->add_option("file", o->file, "Trace (JSONL)")->required();
      stats->add_flag("--json", o->json, "Machine-readable output");
      return [o, synth, stats]() -> int {
        if (synth->parsed()) {
          auto t = eval::synthesize_trace(o->synth);
          if (o->out.empty()) {
            std::cout << eval::trace_to_jsonl(t);
          } else {
            eval::write_trace(o->out, t);
            std::fprintf(stderr, "wrote %zu requests to %s\n", t.size(), o->out.c_str());
          }
          return 0;
        }
        if (stats->parsed()) {
          auto s = eval::trace_stats(eval::read_trace(o->file));
          if (o->json) {
            std::cout << eval::to_json(s).dump(2) << "\n";
          } else {
            std::cout << eval::format_trace_stats(s);
          }
          return 0;
        }
        return 1;
      };
    }}};

}  // namespace
}  // namespace synaptix::app
