// The OpenAI server end to end on loopback (127.0.0.1, a free port) with a fixture model: outputs equal the
// model run alone, 200 concurrent streams, client disconnects free their KV blocks, KV exhaustion preempts
// and still completes, malformed requests get 4xx and never take the server down, drain on shutdown, and the
// replay benchmark against it. Every test bounds its time and stops its server.
#include "synaptix/serve/http_server.h"

#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <thread>

#include "synaptix/engine/cpu_executor.h"
#include "synaptix/engine/generator.h"
#include "synaptix/eval/replay.h"
#include "synaptix/eval/replay_sse.h"
#include "synaptix/eval/trace_synth.h"
#include "synaptix/model/model.h"
#include "server_harness.h"

using namespace synaptix;
using namespace std::chrono_literals;
using json = nlohmann::json;
using synaptix::testing::Harness;

namespace {

std::vector<int32_t> prompt_ids(int i, int len) {
  std::vector<int32_t> p;
  for (int k = 0; k < len; ++k) p.push_back(static_cast<int32_t>(3 + (i * 37 + k * 11) % 500));
  return p;
}

struct StreamResult {
  int status = 0;
  std::string text, finish_reason;
  int64_t events = 0, completion_tokens = -1;
  bool done = false;
  std::string transport_error;
};

StreamResult stream_completion(const Harness& h, const json& body, int64_t stop_after_events = -1) {
  StreamResult r;
  auto cli = h.client();
  httplib::Request req;
  req.method = "POST";
  req.path = "/v1/completions";
  req.set_header("Content-Type", "application/json");
  req.body = body.dump();
  eval::SseParser sse;
  req.content_receiver = [&](const char* d, size_t n, uint64_t, uint64_t) {
    for (const auto& ev : sse.feed(d, n)) {
      if (ev == "[DONE]") {
        r.done = true;
        continue;
      }
      auto j = json::parse(ev);
      if (j.contains("usage") && j["usage"].is_object()) r.completion_tokens = j["usage"]["completion_tokens"];
      if (j["choices"].empty()) continue;
      const auto& c = j["choices"][0];
      r.text += c["text"].get<std::string>();
      if (!c["finish_reason"].is_null()) r.finish_reason = c["finish_reason"];
      ++r.events;
      if (stop_after_events >= 0 && r.events >= stop_after_events) return false;  // hang up mid-stream
    }
    return true;
  };
  httplib::Response res;
  httplib::Error err;
  if (cli.send(req, res, err)) {
    r.status = res.status;
  } else {
    r.transport_error = httplib::to_string(err);
  }
  return r;
}

}  // namespace

TEST(Server, CompletionEqualsModelAloneAndReportsUsage) {
  Harness h;
  const auto p = prompt_ids(1, 20);
  auto res = h.client().Post("/v1/completions",
                             json{{"model", "llama"}, {"prompt", p}, {"max_tokens", 8}, {"temperature", 0},
                                  {"ignore_eos", true}, {"logprobs", 1}}.dump(),
                             "application/json");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  auto j = json::parse(res->body);
  EXPECT_EQ(j["object"], "text_completion");
  EXPECT_EQ(j["model"], "llama");
  EXPECT_EQ(j["choices"][0]["text"], h.text_of(h.alone(p, 8)));
  EXPECT_EQ(j["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(j["usage"]["prompt_tokens"], 20);
  EXPECT_EQ(j["usage"]["completion_tokens"], 8);
  EXPECT_EQ(j["usage"]["total_tokens"], 28);
  const auto& lp = j["choices"][0]["logprobs"];
  ASSERT_EQ(lp["token_logprobs"].size(), 8u);
  for (const auto& x : lp["token_logprobs"]) EXPECT_LE(x.get<double>(), 0.0);
}

TEST(Server, TextPromptChatStopAndN) {
  Harness h;
  // Text prompt: tokenized with the model's tokenizer, same output as the ids.
  const std::string text = "The quick brown fox jumps over the lazy dog.";
  const auto ids = h.tok.encode(text, true);
  auto res = h.client().Post("/v1/completions",
                             json{{"model", "llama"}, {"prompt", text}, {"max_tokens", 6}, {"temperature", 0},
                                  {"ignore_eos", true}, {"n", 3}, {"echo", true}}.dump(),
                             "application/json");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  auto j = json::parse(res->body);
  const std::string want = h.text_of(h.alone(ids, 6));
  ASSERT_EQ(j["choices"].size(), 3u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(j["choices"][i]["text"], text + want) << "greedy choices are equal";
  EXPECT_EQ(j["usage"]["completion_tokens"], 18);

  // A stop string taken from the reference output (a whole UTF-8 character other than the first): the text
  // ends just before its first occurrence, finish_reason "stop".
  std::vector<std::string> chars;
  for (size_t k = 0; k < want.size(); ++k) {
    if ((static_cast<unsigned char>(want[k]) & 0xC0) != 0x80 || chars.empty()) chars.emplace_back();
    chars.back() += want[k];
  }
  auto other = std::find_if(chars.begin(), chars.end(), [&](const std::string& c) { return c != chars[0]; });
  ASSERT_NE(other, chars.end()) << ::testing::PrintToString(want);
  const std::string stop = *other;
  res = h.client().Post("/v1/completions",
                        json{{"model", "llama"}, {"prompt", ids}, {"max_tokens", 6}, {"temperature", 0},
                             {"ignore_eos", true}, {"stop", stop}}.dump(),
                        "application/json");
  ASSERT_TRUE(res);
  j = json::parse(res->body);
  EXPECT_EQ(j["choices"][0]["text"], want.substr(0, want.find(stop)));
  EXPECT_EQ(j["choices"][0]["finish_reason"], "stop");

  // Chat: rendered with the model's template, streamed and not.
  const json chat = {{"model", "llama"}, {"messages", {{{"role", "user"}, {"content", "hello"}}}}, {"max_tokens", 5},
                     {"temperature", 0}, {"ignore_eos", true}};
  res = h.client().Post("/v1/chat/completions", chat.dump(), "application/json");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  j = json::parse(res->body);
  EXPECT_EQ(j["object"], "chat.completion");
  EXPECT_EQ(j["choices"][0]["message"]["role"], "assistant");
  const std::string chat_text = j["choices"][0]["message"]["content"];
  const std::string rendered = model::ChatTemplate(h.tok.chat_template())
                                   .render(chat["messages"], true, {{"bos_token", h.tok.bos_token()},
                                                                    {"eos_token", h.tok.eos_token()}});
  EXPECT_EQ(chat_text, h.text_of(h.alone(h.tok.encode(rendered, false), 5)));
  json sc = chat;
  sc["stream"] = true;
  std::string streamed;
  auto r2 = h.client().Post("/v1/chat/completions", sc.dump(), "application/json");
  ASSERT_TRUE(r2);
  eval::SseParser sse;
  bool done = false;
  for (const auto& ev : sse.feed(r2->body.data(), r2->body.size())) {
    if (ev == "[DONE]") {
      done = true;
      continue;
    }
    auto c = json::parse(ev);
    EXPECT_EQ(c["object"], "chat.completion.chunk");
    const auto& d = c["choices"][0]["delta"];
    if (d.contains("content")) streamed += d["content"].get<std::string>();
  }
  EXPECT_TRUE(done);
  EXPECT_EQ(streamed, chat_text);
}

TEST(Server, TwoHundredConcurrentStreamsAreCorrect) {
  Harness h(/*kv_blocks=*/512, /*max_queue=*/1024, /*max_running=*/64);
  constexpr int kClients = 200, kDistinct = 10;
  std::vector<std::string> want(kDistinct);
  for (int i = 0; i < kDistinct; ++i) want[i] = h.text_of(h.alone(prompt_ids(i, 6 + 3 * i), 4 + i % 3));
  std::vector<StreamResult> got(kClients);
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      const int i = c % kDistinct;
      got[c] = stream_completion(h, {{"model", "llama"}, {"prompt", prompt_ids(i, 6 + 3 * i)}, {"max_tokens", 4 + i % 3},
                                     {"temperature", 0}, {"ignore_eos", true}, {"stream", true},
                                     {"stream_options", {{"include_usage", true}}}});
    });
  }
  for (auto& t : clients) t.join();
  for (int c = 0; c < kClients; ++c) {
    EXPECT_EQ(got[c].status, 200) << "client " << c << ": " << got[c].transport_error;
    EXPECT_TRUE(got[c].done) << "client " << c;
    EXPECT_EQ(got[c].text, want[c % kDistinct]) << "client " << c;
    EXPECT_EQ(got[c].completion_tokens, 4 + (c % kDistinct) % 3) << "client " << c;
    EXPECT_EQ(got[c].finish_reason, "length");
  }
  EXPECT_TRUE(h.wait_until_idle(30s));
  auto m = h.client().Get("/metrics");
  ASSERT_TRUE(m);
  EXPECT_NE(m->body.find("synaptix_requests_total{endpoint=\"completions\",status=\"200\"} 200"), std::string::npos);
  EXPECT_NE(m->body.find("synaptix_time_to_first_token_seconds_count 200"), std::string::npos);
  EXPECT_NE(m->body.find("synaptix_kv_blocks_used 0"), std::string::npos);
}

TEST(Server, ClientsThatDisconnectMidStreamLeakNoBlocks) {
  Harness h;
  std::vector<std::thread> clients;
  std::atomic<int> hung_up{0};
  for (int c = 0; c < 12; ++c) {
    clients.emplace_back([&, c] {
      auto r = stream_completion(h, {{"model", "llama"}, {"prompt", prompt_ids(c, 30)}, {"max_tokens", 200},
                                     {"temperature", 0}, {"ignore_eos", true}, {"stream", true}},
                                 /*stop_after_events=*/2 + c % 3);
      if (!r.done) ++hung_up;
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(hung_up.load(), 12);
  EXPECT_TRUE(h.wait_until_idle(30s)) << "in flight " << h.engine->snapshot().in_flight << ", KV blocks used "
                                      << h.engine->snapshot().kv_blocks_used;
  auto m = h.client().Get("/metrics");
  ASSERT_TRUE(m);
  EXPECT_NE(m->body.find("synaptix_requests_cancelled_total 12"), std::string::npos) << m->body;
  // The server still answers.
  auto r = stream_completion(h, {{"model", "llama"}, {"prompt", prompt_ids(1, 5)}, {"max_tokens", 3},
                                 {"temperature", 0}, {"ignore_eos", true}, {"stream", true}});
  EXPECT_TRUE(r.done);
}

TEST(Server, KvExhaustionPreemptsAndCompletesEveryRequest) {
  Harness h(/*kv_blocks=*/12, /*max_queue=*/1024, /*max_running=*/16);  // 96 positions for ~40 requests
  constexpr int kClients = 40;
  std::vector<StreamResult> got(kClients);
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      got[c] = stream_completion(h, {{"model", "llama"}, {"prompt", prompt_ids(c, 20 + c % 30)}, {"max_tokens", 12},
                                     {"temperature", 0}, {"ignore_eos", true}, {"stream", true}});
    });
  }
  for (auto& t : clients) t.join();
  for (int c = 0; c < kClients; ++c) {
    EXPECT_TRUE(got[c].done) << "client " << c;
    EXPECT_EQ(got[c].text, h.text_of(h.alone(prompt_ids(c, 20 + c % 30), 12))) << "client " << c;
  }
  EXPECT_GT(h.engine->snapshot().preemptions, 0);
  EXPECT_TRUE(h.wait_until_idle(30s));
}

TEST(Server, MalformedRequestsGet4xxAndNeverTakeItDown) {
  Harness h(/*kv_blocks=*/256, /*max_queue=*/1);
  auto post = [&](const std::string& path, const std::string& body) {
    auto r = h.client().Post(path, body, "application/json");
    EXPECT_TRUE(r) << body;
    if (!r) return std::pair<int, json>{0, json()};
    return std::pair<int, json>{r->status, json::parse(r->body, nullptr, false)};
  };
  const std::vector<std::pair<std::string, int>> cases = {
      {"{", 400},
      {"null", 400},
      {"\xff\xfe", 400},
      {R"({"model":"nope","prompt":"x"})", 404},
      {R"({"model":"llama","prompt":{"a":1}})", 400},
      {R"({"model":"llama","prompt":[1,2],"max_tokens":-1})", 400},
      {R"({"model":"llama","prompt":[1,2],"max_tokens":1000000})", 400},
      {R"({"model":"llama","prompt":[100000]})", 400},
      {R"({"model":"llama","prompt":"x","temperature":[]})", 400},
      {R"({"model":"llama","prompt":[1.5]})", 400},
      {R"({"model":"llama","prompt":[)" + std::string(400, '9') + "]}", 400},  // a number no int holds
  };
  for (const auto& [body, want] : cases) {
    auto [status, j] = post("/v1/completions", body);
    EXPECT_EQ(status, want) << body;
    EXPECT_TRUE(j.is_object() && j["error"]["message"].is_string()) << body;
  }
  // A prompt longer than the context (256 positions).
  auto [st, j] = post("/v1/completions", json{{"model", "llama"}, {"prompt", prompt_ids(0, 300)}}.dump());
  EXPECT_EQ(st, 400);
  EXPECT_EQ(j["error"]["code"], "context_length_exceeded");
  std::tie(st, j) = post("/v1/chat/completions", R"({"model":"llama","messages":[{"role":1}]})");
  EXPECT_EQ(st, 400);
  auto nf = h.client().Get("/v1/nothing");
  ASSERT_TRUE(nf);
  EXPECT_EQ(nf->status, 404);
  EXPECT_TRUE(json::parse(nf->body)["error"].is_object());
  // Raw garbage and a truncated request on a socket.
  for (const std::string& raw : {std::string("GARBAGE\r\n\r\n"), std::string("POST /v1/completions HTTP/1.1\r\nContent-Length: 100\r\n\r\n{")}) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(h.port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    ASSERT_EQ(write(fd, raw.data(), raw.size()), static_cast<ssize_t>(raw.size()));
    close(fd);
  }
  // Overload: with a queue limit of 1, a burst of concurrent requests gets 429s beside the 200s, never
  // anything else.
  std::atomic<int> ok200{0}, got429{0}, other{0};
  std::vector<std::thread> burst;
  for (int k = 0; k < 40; ++k) {
    burst.emplace_back([&] {
      auto r = h.client().Post("/v1/completions", R"({"model":"llama","prompt":[1,2,3],"max_tokens":50,"ignore_eos":true})",
                               "application/json");
      if (r && r->status == 200) {
        ++ok200;
      } else if (r && r->status == 429 && json::parse(r->body)["error"]["type"] == "rate_limit_exceeded") {
        ++got429;
      } else {
        ++other;
      }
    });
  }
  for (auto& t : burst) t.join();
  EXPECT_GE(ok200.load(), 1);
  EXPECT_GE(got429.load(), 1);
  EXPECT_EQ(other.load(), 0);
  ASSERT_TRUE(h.wait_until_idle(30s));
  auto health = h.client().Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  auto models = h.client().Get("/v1/models");
  ASSERT_TRUE(models);
  EXPECT_EQ(json::parse(models->body)["data"][0]["id"], "llama");
  auto m = h.client().Get("/metrics");
  ASSERT_TRUE(m);
  for (const char* name : {"synaptix_request_errors_total", "synaptix_requests_running", "synaptix_requests_waiting",
                           "synaptix_kv_blocks_free", "synaptix_prefix_cache_hit_rate",
                           "synaptix_inter_token_latency_seconds_bucket", "synaptix_e2e_request_latency_seconds_sum"}) {
    EXPECT_NE(m->body.find(name), std::string::npos) << name;
  }
}

TEST(Server, DrainFinishesRunningRequestsThenStops) {
  Harness h;
  StreamResult running;
  std::thread t([&] {
    running = stream_completion(h, {{"model", "llama"}, {"prompt", prompt_ids(2, 10)}, {"max_tokens", 60},
                                    {"temperature", 0}, {"ignore_eos", true}, {"stream", true}});
  });
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (h.engine->snapshot().in_flight == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(1ms);
  }
  if (h.engine->snapshot().in_flight == 0) {
    t.join();
    FAIL() << "the request never started";
  }
  std::thread drain([&] { h.server->drain_and_stop(30s); });
  while (h.engine->accepting()) std::this_thread::sleep_for(1ms);
  auto refused = h.client().Post("/v1/completions", R"({"model":"llama","prompt":[1],"max_tokens":1})", "application/json");
  if (refused) {
    EXPECT_EQ(refused->status, 503);  // or the listener is already closed
  }
  t.join();
  drain.join();
  EXPECT_TRUE(running.done);
  EXPECT_EQ(running.text, h.text_of(h.alone(prompt_ids(2, 10), 60)));
}

TEST(Server, ReplayBenchmarkAgainstIt) {
  Harness h;
  eval::SynthOptions so;
  so.kind = "agent";
  so.num_requests = 16;
  so.max_prompt_tokens = 60;
  so.max_output_tokens = 6;
  so.rate = 50;
  auto trace = eval::synthesize_trace(so);
  eval::ReplayOptions ro;
  ro.url = h.url();
  ro.time_scale = 0.1;
  ro.slo_ttft_ms = 60000;
  auto rep = eval::replay(trace, ro);
  EXPECT_EQ(rep.model, "llama");
  EXPECT_EQ(rep.succeeded, 16) << (rep.errors.empty() ? "" : rep.errors[0]);
  int64_t want_out = 0, want_in = 0;
  for (const auto& r : trace) {
    want_out += r.max_tokens;
    want_in += r.prompt_tokens;
  }
  EXPECT_EQ(rep.output_tokens, want_out);
  EXPECT_EQ(rep.prompt_tokens, want_in);
  EXPECT_EQ(rep.ttft_ms.count, 16);
  EXPECT_EQ(rep.slo_met, 16);
  EXPECT_GT(h.engine->snapshot().prompt_tokens_cached, 0) << "agent sessions share prefixes";
  ro.concurrency = 4;
  ro.url = h.url();
  rep = eval::replay(trace, ro);
  EXPECT_EQ(rep.succeeded, 16);
}
