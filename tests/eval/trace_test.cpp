#include "synaptix/eval/trace.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "synaptix/core/error.h"
#include "synaptix/eval/trace_stats.h"
#include "synaptix/eval/trace_synth.h"

using namespace synaptix;
using namespace synaptix::eval;

TEST(Trace, ParsesBothPromptFormsAndSortsByArrival) {
  auto t = parse_trace(
      "{\"id\":\"b\",\"arrival_s\":2.5,\"prompt\":\"hello\",\"max_tokens\":8}\n"
      "\n"
      "{\"arrival_s\":0.5,\"prompt_tokens\":100,\"max_tokens\":20,\"prefix_group\":\"g\",\"prefix_tokens\":30}\n",
      "t.jsonl");
  ASSERT_EQ(t.size(), 2u);
  EXPECT_EQ(t[0].arrival_s, 0.5);
  EXPECT_FALSE(t[0].prompt.has_value());
  EXPECT_EQ(t[0].prompt_tokens, 100);
  EXPECT_EQ(t[0].prefix_group, "g");
  EXPECT_EQ(t[0].prefix_tokens, 30);
  EXPECT_EQ(t[1].id, "b");
  EXPECT_EQ(*t[1].prompt, "hello");
  EXPECT_EQ(t[1].max_tokens, 8);
  // Round trip through the writer.
  auto again = parse_trace(trace_to_jsonl(t), "again");
  ASSERT_EQ(again.size(), 2u);
  EXPECT_EQ(trace_to_jsonl(again), trace_to_jsonl(t));
}

TEST(Trace, ErrorsNameTheLineAndField) {
  auto expect_error = [](const std::string& line, const std::string& needle) {
    try {
      parse_trace("{\"arrival_s\":0,\"prompt_tokens\":1,\"max_tokens\":1}\n" + line, "f.jsonl");
      ADD_FAILURE() << "accepted: " << line;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("f.jsonl:2"), std::string::npos) << e.what();
    }
  };
  expect_error("{not json", "invalid JSON");
  expect_error("[1,2]", "object");
  expect_error("{\"prompt_tokens\":5,\"max_tokens\":1}", "arrival_s");
  expect_error("{\"arrival_s\":-1,\"prompt_tokens\":5,\"max_tokens\":1}", "arrival_s");
  expect_error("{\"arrival_s\":0,\"max_tokens\":1}", "exactly one");
  expect_error("{\"arrival_s\":0,\"prompt\":\"x\",\"prompt_tokens\":3,\"max_tokens\":1}", "exactly one");
  expect_error("{\"arrival_s\":0,\"prompt_tokens\":5}", "max_tokens");
  expect_error("{\"arrival_s\":0,\"prompt_tokens\":5,\"max_tokens\":0}", "max_tokens");
  expect_error("{\"arrival_s\":0,\"prompt_tokens\":5.5,\"max_tokens\":1}", "prompt_tokens");
  expect_error("{\"arrival_s\":0,\"prompt_tokens\":5,\"max_tokens\":1,\"prefix_group\":\"g\",\"prefix_tokens\":6}",
               "prefix_tokens");
  expect_error("{\"arrival_s\":0,\"prompt_tokens\":5,\"max_tokens\":1,\"prefix_tokens\":2}", "prefix_group");
}

TEST(Trace, ReadMissingFileThrows) { EXPECT_THROW(read_trace("/nonexistent/trace.jsonl"), Error); }

TEST(TraceStats, HandComputedValues) {
  // Arrivals 0, 1, 2, 6: gaps 1, 1, 4 (mean 2, std sqrt(2)) -> CV 0.7071. Windows are half-open, [t, t+1),
  // so no window holds two arrivals: peak 1.
  std::vector<TraceRecord> t(4);
  const double at[] = {0, 1, 2, 6};
  const int64_t p[] = {100, 200, 300, 400}, m[] = {10, 20, 30, 40};
  for (int i = 0; i < 4; ++i) {
    t[i].arrival_s = at[i];
    t[i].prompt_tokens = p[i];
    t[i].max_tokens = m[i];
  }
  t[1].prefix_group = t[2].prefix_group = t[3].prefix_group = "g";
  t[1].prefix_tokens = 50;
  t[2].prefix_tokens = 50;
  t[3].prefix_tokens = 50;
  auto s = trace_stats(t);
  EXPECT_EQ(s.requests, 4);
  EXPECT_DOUBLE_EQ(s.duration_s, 6.0);
  EXPECT_DOUBLE_EQ(s.prefill_decode_ratio, 1000.0 / 100.0);
  EXPECT_DOUBLE_EQ(s.prefix_sharing_rate, 100.0 / 1000.0);  // two later members reuse 50 each
  EXPECT_EQ(s.prefix_groups, 1);
  EXPECT_NEAR(s.interarrival_cv, std::sqrt(2.0) / 2.0, 1e-12);
  EXPECT_DOUBLE_EQ(s.peak_rate_1s, 1.0);
  EXPECT_DOUBLE_EQ(s.prompt_tokens.p50, 250.0);
  EXPECT_DOUBLE_EQ(s.max_tokens.max, 40.0);
  EXPECT_NE(format_trace_stats(s).find("prefill:decode"), std::string::npos);
}

TEST(TraceSynth, KindsFollowTheirDocumentedShape) {
  for (const auto& kind : synth_kinds()) {
    SynthOptions o;
    o.kind = kind;
    o.num_requests = 400;
    o.seed = 11;
    auto t = synthesize_trace(o);
    ASSERT_EQ(t.size(), 400u) << kind;
    auto s = trace_stats(t);
    auto again = synthesize_trace(o);
    EXPECT_EQ(trace_to_jsonl(t), trace_to_jsonl(again)) << kind << ": not reproducible from its seed";
    if (kind == "chat") {
      EXPECT_NEAR(s.mean_rate, 2.0, 0.3);
      EXPECT_NEAR(s.interarrival_cv, 1.0, 0.15);  // Poisson
      EXPECT_NEAR(s.max_tokens.p50, 200, 30);
      EXPECT_EQ(s.prefix_groups, 4);
      EXPECT_GT(s.prefix_sharing_rate, 0.3);
    } else if (kind == "agent") {
      EXPECT_GT(s.interarrival_cv, 1.3);  // bursty
      EXPECT_GT(s.prefix_sharing_rate, 0.7);
      EXPECT_GT(s.prefill_decode_ratio, 15.0);
    } else if (kind == "long-context") {
      EXPECT_GE(s.prompt_tokens.min, 8000);
      EXPECT_LE(s.prompt_tokens.max, 32000);
      EXPECT_EQ(s.prefix_groups, 0);
    } else {
      EXPECT_EQ(s.duration_s, 0.0);
      EXPECT_NEAR(s.prompt_tokens.p50, 600, 80);
      EXPECT_NEAR(s.max_tokens.p50, 300, 40);
    }
  }
}

TEST(TraceSynth, CapsScaleToASmallContext) {
  SynthOptions o;
  o.kind = "agent";
  o.num_requests = 100;
  o.max_prompt_tokens = 100;
  o.max_output_tokens = 16;
  for (const auto& r : synthesize_trace(o)) {
    EXPECT_LE(r.prompt_tokens, 100);
    EXPECT_LE(r.max_tokens, 16);
    EXPECT_LT(r.prefix_tokens, r.prompt_tokens);
    EXPECT_GE(r.prefix_tokens, 1);
  }
  o.kind = "nope";
  EXPECT_THROW(synthesize_trace(o), Error);
}
