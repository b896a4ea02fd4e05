#pragma once
// Synthetic workload traces of four kinds. Each is a documented set of distributions (seeded, so a trace is
// reproducible from its options). Lengths are token counts; LogNormal(median m, sigma s) means
// exp(N(ln m, s)), rounded and clipped to [min, max]. Caps (`max_prompt_tokens`, `max_output_tokens`) fit a
// kind to a small model's context: lengths above a cap are clipped to it, and shared prefixes are held to
// half the prompt cap (the same for every request of a group, so they are still shared).
//
//   chat          Poisson arrivals, 2 req/s. Prompt = one of 4 system prompts (prefix group, 160 tokens)
//                 + user turn LogNormal(120, 0.9) in [4, 4000]. Output LogNormal(200, 0.7) in [8, 1024].
//   agent         Bursty arrivals: sessions start as Poisson at 0.5/s and each fires a burst of 4..10 calls
//                 0.05..0.5 s apart (uniform). Prompt = the session's tool/context prefix (prefix group per
//                 session, Uniform[1000, 3000]) + LogNormal(150, 0.8) in [4, 2000]. Output LogNormal(60, 0.6)
//                 in [4, 512]. Prefill-heavy with a high prefix-sharing rate.
//   long-context  Poisson arrivals, 0.2 req/s. Prompt Uniform[8000, 32000] (a document each, no sharing).
//                 Output LogNormal(250, 0.5) in [16, 1024].
//   batch         All requests arrive at t = 0 (offline). Prompt LogNormal(600, 0.6) in [16, 8000], output
//                 LogNormal(300, 0.5) in [16, 2048]. One shared instruction prefix of 48 tokens on all.
#include <cstdint>
#include <string>
#include <vector>

#include "synaptix/eval/trace.h"

namespace synaptix::eval {

struct SynthOptions {
  std::string kind;           // chat | agent | long-context | batch
  int64_t num_requests = 100;
  uint64_t seed = 0;
  double rate = 0.0;               // > 0: overrides the kind's mean arrival rate (requests or sessions per s)
  int64_t max_prompt_tokens = 0;   // > 0: cap (prefixes are scaled down to fit as well)
  int64_t max_output_tokens = 0;   // > 0: cap
};

const std::vector<std::string>& synth_kinds();
// Throws synaptix::Error for an unknown kind or out-of-range options.
std::vector<TraceRecord> synthesize_trace(const SynthOptions& o);

}  // namespace synaptix::eval
