#include "synaptix/eval/replay.h"

#include <gtest/gtest.h>

#include "synaptix/core/error.h"
#include "synaptix/eval/latency_stats.h"
#include "synaptix/eval/replay_sse.h"

using namespace synaptix;
using namespace synaptix::eval;

TEST(LatencyStats, PercentilesInterpolateLikeNumpy) {
  // numpy.percentile([1, 2, 3, 4], [50, 90, 0, 100]) = 2.5, 3.7, 1, 4
  const std::vector<double> s = {4, 1, 3, 2};
  EXPECT_DOUBLE_EQ(percentile(s, 50), 2.5);
  EXPECT_NEAR(percentile(s, 90), 3.7, 1e-12);
  EXPECT_DOUBLE_EQ(percentile(s, 0), 1);
  EXPECT_DOUBLE_EQ(percentile(s, 100), 4);
  EXPECT_THROW(percentile({}, 50), Error);
  EXPECT_THROW(percentile(s, 101), Error);
  auto sum = summarize(s);
  EXPECT_EQ(sum.count, 4);
  EXPECT_DOUBLE_EQ(sum.mean, 2.5);
  EXPECT_EQ(summarize({}).count, 0);
}

TEST(SseParser, SplitsEventsAcrossArbitraryPieces) {
  const std::string stream =
      ": keep-alive\n\ndata: {\"a\":1}\n\ndata: line1\r\ndata: line2\r\n\r\nevent: x\ndata:[DONE]\n\n";
  for (size_t piece = 1; piece <= stream.size(); ++piece) {
    SseParser p;
    std::vector<std::string> got;
    for (size_t i = 0; i < stream.size(); i += piece) {
      auto ev = p.feed(stream.data() + i, std::min(piece, stream.size() - i));
      got.insert(got.end(), ev.begin(), ev.end());
    }
    ASSERT_EQ(got.size(), 3u) << "piece " << piece;
    EXPECT_EQ(got[0], "{\"a\":1}");
    EXPECT_EQ(got[1], "line1\nline2");
    EXPECT_EQ(got[2], "[DONE]");
  }
}

TEST(Replay, MadeUpPromptsShareGroupPrefixes) {
  ReplayOptions o;
  o.token_id_lo = 3;
  o.token_id_hi = 50;
  TraceRecord a, b, c;
  a.prompt_tokens = 40;
  a.prefix_group = "g";
  a.prefix_tokens = 25;
  b = a;
  b.prompt_tokens = 30;
  c = a;
  c.prefix_group = "h";
  auto pa = made_up_prompt(a, 0, o), pb = made_up_prompt(b, 1, o), pc = made_up_prompt(c, 2, o);
  ASSERT_EQ(pa.size(), 40u);
  ASSERT_EQ(pb.size(), 30u);
  EXPECT_TRUE(std::equal(pa.begin(), pa.begin() + 25, pb.begin()));
  EXPECT_FALSE(std::equal(pa.begin() + 25, pa.begin() + 30, pb.begin() + 25));
  EXPECT_FALSE(std::equal(pa.begin(), pa.begin() + 25, pc.begin()));
  for (int32_t t : pa) {
    EXPECT_GE(t, 3);
    EXPECT_LT(t, 50);
  }
}

TEST(Replay, SummaryComputesTpotAndGoodput) {
  std::vector<RequestOutcome> outs(3);
  outs[0] = {true, 200, "", 0.0, 0.1, 1.1, {0.2, 0.3, 0.5}, 10, 11};  // TPOT (1.1-0.1)/10 = 100 ms
  outs[1] = {true, 200, "", 0.5, 0.4, 0.6, {0.2}, 10, 2};              // TPOT 200 ms
  outs[2] = {false, 429, "HTTP 429", 1.0, 0, 0, {}, 0, 0};
  ReplayOptions o;
  o.slo_ttft_ms = 200;
  o.slo_tpot_ms = 150;
  auto r = summarize_outcomes(outs, 2.0, o);
  EXPECT_EQ(r.succeeded, 2);
  EXPECT_EQ(r.failed, 1);
  EXPECT_EQ(r.output_tokens, 13);
  EXPECT_DOUBLE_EQ(r.output_token_throughput, 6.5);
  EXPECT_EQ(r.slo_met, 1);
  EXPECT_DOUBLE_EQ(r.goodput, 0.5);
  EXPECT_NEAR(r.tpot_ms.p50, 150.0, 1e-9);
  EXPECT_EQ(r.itl_ms.count, 4);
  EXPECT_EQ(r.errors.size(), 1u);
}
