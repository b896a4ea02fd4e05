#include "synaptix/serve/openai_api.h"

#include <gtest/gtest.h>

#include "synaptix/serve/metrics.h"

using namespace synaptix::serve;
using json = nlohmann::json;

namespace {

int status_of(const std::string& body, bool chat = false) {
  try {
    parse_completion_request(parse_json_body(body), chat, "m");
  } catch (const ApiError& e) {
    const json b = e.body();
    EXPECT_TRUE(b["error"]["message"].is_string());
    EXPECT_TRUE(b["error"]["type"].is_string());
    return e.status();
  }
  return 200;
}

}  // namespace

TEST(OpenAiApi, ParsesCompletionFields) {
  auto p = parse_completion_request(
      json::parse(R"({"model":"m","prompt":[1,2,3],"max_tokens":5,"n":2,"stream":true,
                      "stream_options":{"include_usage":true},"stop":["a","bc"],"temperature":0.5,"top_p":0.9,
                      "seed":7,"logprobs":1,"ignore_eos":true})"),
      false, "m");
  EXPECT_EQ(p.prompt_ids, (std::vector<int32_t>{1, 2, 3}));
  EXPECT_FALSE(p.prompt_text.has_value());
  EXPECT_EQ(*p.max_tokens, 5);
  EXPECT_EQ(p.n, 2);
  EXPECT_TRUE(p.stream && p.include_usage && p.logprobs && p.ignore_eos);
  EXPECT_EQ(p.stop, (std::vector<std::string>{"a", "bc"}));
  EXPECT_FLOAT_EQ(p.temperature, 0.5f);
  EXPECT_FLOAT_EQ(p.top_p, 0.9f);
  EXPECT_EQ(*p.seed, 7u);
  auto d = parse_completion_request(json::parse(R"({"model":"m","prompt":"hi"})"), false, "m");
  EXPECT_EQ(*d.prompt_text, "hi");
  EXPECT_EQ(*d.max_tokens, 16) << "OpenAI's completions default";
  EXPECT_FLOAT_EQ(d.temperature, 1.0f);
  auto one = parse_completion_request(json::parse(R"({"model":"m","prompt":[[4,5]]})"), false, "m");
  EXPECT_EQ(one.prompt_ids, (std::vector<int32_t>{4, 5}));
}

TEST(OpenAiApi, ParsesChatMessagesAndContentParts) {
  auto p = parse_completion_request(
      json::parse(R"({"model":"m","messages":[{"role":"system","content":"be brief"},
                      {"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}],
                      "max_completion_tokens":9,"logprobs":true})"),
      true, "m");
  ASSERT_EQ(p.messages.size(), 2u);
  EXPECT_EQ(p.messages[1]["content"], "ab");
  EXPECT_EQ(*p.max_tokens, 9);
  EXPECT_TRUE(p.logprobs);
  EXPECT_FALSE(parse_completion_request(json::parse(R"({"model":"m","messages":[{"role":"user","content":"x"}]})"),
                                        true, "m")
                   .max_tokens.has_value());
}

TEST(OpenAiApi, BadInputIs4xx) {
  EXPECT_EQ(status_of("{"), 400);
  EXPECT_EQ(status_of("[]"), 400);
  EXPECT_EQ(status_of(R"({"prompt":"x"})"), 400);
  EXPECT_EQ(status_of(R"({"model":"other","prompt":"x"})"), 404);
  EXPECT_EQ(status_of(R"({"model":"m"})"), 400);
  EXPECT_EQ(status_of(R"({"model":"m","prompt":5})"), 400);
  EXPECT_EQ(status_of(R"({"model":"m","prompt":[1,-2]})"), 400);
  EXPECT_EQ(status_of(R"({"model":"m","prompt":["a","b"]})"), 400);
  EXPECT_EQ(status_of(R"({"model":"m","prompt":"x","max_tokens":0})"), 400);
  EXPECT_EQ(status_of(R"({"model":"m","prompt":"x","max_tokens":"5"})"), 400);
  EXPECT_EQ(status_of(R"({"model":"m","prompt":"x","max_tokens":1.5})"), 400);
  EXPECT_EQ(status_of(R"({"model":"m","prompt":"x","max_tokens":99999999999999999999})"), 400);
  EXPECT_EQ(status_of(R"({"model":"m","prompt":"x","n":0})"), 400);
  EXPECT_EQ(status_of(R"({"model":"m","prompt":"x","n":17})"), 400);
  EXPECT_EQ(status_of(R"({"model":"m","prompt":"x","temperature":3})"), 400);
  EXPECT_EQ(status_of(R"({"model":"m","prompt":"x","temperature":"hot"})"), 400);
  EXPECT_EQ(status_of(R"({"model":"m","prompt":"x","top_p":0})"), 400);
  EXPECT_EQ(status_of(R"({"model":"m","prompt":"x","stop":[1]})"), 400);
  EXPECT_EQ(status_of(R"({"model":"m","prompt":"x","stop":["a","b","c","d","e"]})"), 400);
  EXPECT_EQ(status_of(R"({"model":"m","prompt":"x","stream":"yes"})"), 400);
  EXPECT_EQ(status_of(R"({"model":"m","prompt":"x","logprobs":9})"), 400);
  EXPECT_EQ(status_of(R"({"model":"m","prompt":"x","seed":"s"})"), 400);
  EXPECT_EQ(status_of(R"({"model":"m","messages":[]})", true), 400);
  EXPECT_EQ(status_of(R"({"model":"m","messages":[{"content":"x"}]})", true), 400);
  EXPECT_EQ(status_of(R"({"model":"m","messages":[{"role":"user","content":5}]})", true), 400);
  EXPECT_EQ(status_of(R"({"model":"m","messages":"hi"})", true), 400);
  // Found by fuzz_request_body: a content part whose "type" is not a string escaped as a JSON type_error.
  EXPECT_EQ(status_of(R"({"model":"m","messages":[{"role":"user","content":[{"type":1e-400,"text":"x"}]}]})", true), 400);
  EXPECT_EQ(status_of(R"({"model":"m","messages":[{"role":"user","content":[{"type":["text"],"text":"x"}]}]})", true), 400);
  EXPECT_EQ(status_of(R"({"model":"m","prompt":"x"})", false), 200);
}

TEST(OpenAiApi, ErrorBodyHasOpenAiShape) {
  ApiError e(400, "'max_tokens' must be an integer", "max_tokens");
  const json b = e.body();
  EXPECT_EQ(b["error"]["message"], "'max_tokens' must be an integer");
  EXPECT_EQ(b["error"]["type"], "invalid_request_error");
  EXPECT_EQ(b["error"]["param"], "max_tokens");
  EXPECT_TRUE(b["error"]["code"].is_null());
}

TEST(Metrics, HistogramBucketsAreCumulative) {
  Histogram h({0.1, 1.0});
  h.observe(0.05);
  h.observe(0.1);  // le is inclusive
  h.observe(0.5);
  h.observe(7);
  std::string out;
  h.render("x", out);
  EXPECT_NE(out.find("x_bucket{le=\"0.1\"} 2\n"), std::string::npos) << out;
  EXPECT_NE(out.find("x_bucket{le=\"1\"} 3\n"), std::string::npos) << out;
  EXPECT_NE(out.find("x_bucket{le=\"+Inf\"} 4\n"), std::string::npos) << out;
  EXPECT_NE(out.find("x_sum 7.65\n"), std::string::npos) << out;
  EXPECT_NE(out.find("x_count 4\n"), std::string::npos) << out;
}
