// The server against hostile clients, end to end on loopback: bodies nested a million levels deep, bodies
// past the size limit (declared or chunked), hundreds of clients sending a byte at a time, more connections
// than handler threads, clients that leave while their request runs (streaming or not), and chat templates
// that fail. The server must answer 4xx/503, keep serving /health and honest requests, free the KV blocks
// of abandoned requests within a second, and never crash.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <thread>

#include "server_harness.h"

using namespace synaptix;
using namespace std::chrono_literals;
using json = nlohmann::json;
using synaptix::testing::Harness;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// A raw loopback connection, for what an HTTP client library will not send.
int connect_to(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

bool send_all(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    const ssize_t n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

// Reads until the peer closes or `limit` passes.
std::string read_until_close(int fd, std::chrono::milliseconds limit) {
  std::string out;
  const auto end = Clock::now() + limit;
  char buf[4096];
  while (Clock::now() < end) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

int status_of(const std::string& response) {
  // "HTTP/1.1 413 Payload Too Large"
  if (response.rfind("HTTP/1.", 0) != 0 || response.size() < 12) return 0;
  return std::atoi(response.substr(9, 3).c_str());
}

std::string completion_request(const std::string& body) {
  return "POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

// One sample of a gauge or counter from /metrics (-1: absent or no answer).
int64_t metric(const Harness& h, const std::string& name) {
  auto res = h.client().Get("/metrics");
  if (!res || res->status != 200) return -1;
  const size_t at = res->body.find("\n" + name + " ");
  return at == std::string::npos ? -1 : std::atoll(res->body.c_str() + at + name.size() + 2);
}

bool healthy(const Harness& h) {
  auto res = h.client().Get("/health");
  return res && res->status == 200;
}

std::vector<int32_t> prompt_ids(int i, int len) {
  std::vector<int32_t> p;
  for (int k = 0; k < len; ++k) p.push_back(static_cast<int32_t>(3 + (i * 37 + k * 11) % 500));
  return p;
}

}  // namespace

TEST(HostileClients, BodiesNestedAMillionLevelsDeepAre400) {
  Harness h;
  const std::string nest = std::string(1'000'000, '[') + std::string(1'000'000, ']');
  const struct {
    const char* path;
    std::string body;
  } cases[] = {
      {"/v1/completions", R"({"model":"llama","prompt":"hi","max_tokens":)" + nest + "}"},
      {"/v1/completions", R"({"model":"llama","prompt":"hi","stream":)" + nest + "}"},
      {"/v1/chat/completions", R"({"model":"llama","messages":[{"role":"user","content":"hi","x":)" + nest + "}]}"},
  };
  for (const auto& c : cases) {
    auto res = h.client().Post(c.path, c.body, "application/json");
    ASSERT_TRUE(res) << "no answer: the server died";
    EXPECT_EQ(res->status, 400);
    EXPECT_NE(res->body.find("deeper than 64 levels"), std::string::npos) << res->body;
  }
  // Nesting within the limit in an extra key is served.
  auto ok = h.client().Post("/v1/completions",
                            R"({"model":"llama","prompt":"hi","max_tokens":2,"user_data":)" +
                                std::string(60, '[') + std::string(60, ']') + "}",
                            "application/json");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200) << ok->body;
  EXPECT_TRUE(healthy(h));
}

TEST(HostileClients, OversizedBodiesAre413WithoutBeingRead) {
  Harness h(256, 1024, 32, [](serve::ServerOptions& o) { o.max_body_bytes = 1u << 20; });
  // Declared too large: refused on the headers alone.
  {
    const int fd = connect_to(h.port);
    ASSERT_GE(fd, 0);
    ASSERT_TRUE(send_all(fd, "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                             "Content-Length: 200000000\r\n\r\n{"));
    const std::string r = read_until_close(fd, 3s);
    ::close(fd);
    EXPECT_EQ(status_of(r), 413) << r;
    EXPECT_NE(r.find("larger than the limit of 1048576 bytes"), std::string::npos) << r;
  }
  // Headers past their 64 KiB budget (many small lines, each under httplib's own line limit): refused, closed.
  {
    const int fd = connect_to(h.port);
    ASSERT_GE(fd, 0);
    std::string headers = "GET /health HTTP/1.1\r\nHost: x\r\n";
    for (int i = 0; i < 4000; ++i) headers += "X-Filler-" + std::to_string(i) + ": " + std::string(40, 'f') + "\r\n";
    send_all(fd, headers);  // ~230 KB; the server may stop reading before the end
    const std::string r = read_until_close(fd, 3s);
    ::close(fd);
    EXPECT_EQ(status_of(r), 400) << r.substr(0, 300);
  }
  // Chunked, 200 MB offered: the server stops at the limit and answers 413 while the client still sends.
  {
    const int fd = connect_to(h.port);
    ASSERT_GE(fd, 0);
    ASSERT_TRUE(send_all(fd, "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                             "Transfer-Encoding: chunked\r\n\r\n"));
    std::atomic<size_t> sent{0};
    std::thread writer([&] {
      const std::string chunk = "10000\r\n" + std::string(0x10000, ' ') + "\r\n";
      while (sent.load() < 200'000'000 && send_all(fd, chunk)) sent += 0x10000;
    });
    const std::string r = read_until_close(fd, 8s);
    ::shutdown(fd, SHUT_RDWR);
    writer.join();
    ::close(fd);
    EXPECT_EQ(status_of(r), 413) << r.substr(0, 300);
    EXPECT_LT(sent.load(), 100'000'000u) << "the server read on far past its limit";
  }
  EXPECT_TRUE(healthy(h));
}

TEST(HostileClients, ThreeHundredSlowClientsDoNotStarveHealthOrRequests) {
  Harness h;  // 256 handler threads
  std::vector<int> slow;
  for (int i = 0; i < 300; ++i) {
    const int fd = connect_to(h.port);
    ASSERT_GE(fd, 0);
    send_all(fd, "POST /v1/completions HTTP/1.1\r\nHost: x\r\nX-Slow: ");
    slow.push_back(fd);
  }
  std::atomic<bool> stop{false};
  std::thread dribbler([&] {  // one more header byte per client every 100 ms
    while (!stop.load()) {
      for (int fd : slow) ::send(fd, "a", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
      std::this_thread::sleep_for(100ms);
    }
  });
  // Checks start after evict_after (100 ms): a connection younger than that is not cut for a new one, so
  // in the attack's first instant /health would get a quick 503 instead.
  const auto start = Clock::now();
  int checks = 0;
  double worst = 0;
  bool completion_ok = false;
  while (seconds_since(start) < 3.0) {
    std::this_thread::sleep_for(250ms);
    httplib::Client c("127.0.0.1", h.port);
    c.set_connection_timeout(1);
    c.set_read_timeout(1);
    const auto t0 = Clock::now();
    auto res = c.Get("/health");
    const double took = seconds_since(t0);
    worst = std::max(worst, took);
    ++checks;
    EXPECT_TRUE(res && res->status == 200) << "check " << checks << " after " << seconds_since(start)
                                           << " s: " << (res ? std::to_string(res->status) : "no answer");
    EXPECT_LT(took, 1.0);
    if (!completion_ok) {
      auto r = c.Post("/v1/completions", json{{"model", "llama"}, {"prompt", prompt_ids(1, 8)}, {"max_tokens", 4}}.dump(),
                      "application/json");
      completion_ok = r && r->status == 200;
    }
  }
  stop = true;
  dribbler.join();
  for (int fd : slow) ::close(fd);
  EXPECT_GE(checks, 8);
  EXPECT_TRUE(completion_ok) << "an honest completion request was not served during the attack";
  EXPECT_GT(metric(h, "synaptix_http_connections_evicted_total"), 0);
  std::printf("slow-client attack: %d health checks, slowest %.3f s\n", checks, worst);
}

TEST(HostileClients, ARequestNotWhollySentByTheDeadlineIsCutOff) {
  Harness h(256, 1024, 32, [](serve::ServerOptions& o) { o.request_timeout = 1s; });
  const int fd = connect_to(h.port);
  ASSERT_GE(fd, 0);
  const auto start = Clock::now();
  ASSERT_TRUE(send_all(fd, "GET /health HTTP/1.1\r\nX-Slow: "));
  bool closed = false;
  while (!closed && seconds_since(start) < 5.0) {
    if (::send(fd, "a", 1, MSG_NOSIGNAL) <= 0) closed = true;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) > 0) {
      char c;
      if (::recv(fd, &c, 1, 0) <= 0) closed = true;
    }
  }
  const double took = seconds_since(start);
  ::close(fd);
  EXPECT_TRUE(closed);
  std::printf("a request sent a byte per 100 ms was cut off after %.2f s (deadline 1 s)\n", took);
  EXPECT_GT(took, 0.8);
  EXPECT_LT(took, 1.6);
  EXPECT_TRUE(healthy(h));
}

TEST(HostileClients, ConnectionsBeyondTheHandlerThreadsGet503) {
  Harness h(256, 1024, 32, [](serve::ServerOptions& o) { o.http_threads = 3; });
  // Three streams hold every thread while they run.
  std::vector<std::thread> streams;
  std::atomic<int> streamed{0};
  for (int i = 0; i < 3; ++i) {
    streams.emplace_back([&, i] {
      auto c = h.client();
      auto r = c.Post("/v1/completions",
                      json{{"model", "llama"}, {"prompt", prompt_ids(i, 8)}, {"max_tokens", 200}, {"ignore_eos", true},
                           {"n", 16}, {"stream", true}}.dump(), "application/json");
      if (r && r->status == 200) ++streamed;
    });
  }
  const auto start = Clock::now();
  while (h.engine->snapshot().in_flight < 48 && seconds_since(start) < 10) std::this_thread::sleep_for(5ms);
  ASSERT_EQ(h.engine->snapshot().in_flight, 48);
  const int fd = connect_to(h.port);
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(send_all(fd, "GET /health HTTP/1.1\r\nHost: x\r\n\r\n"));
  const std::string busy = read_until_close(fd, 2s);
  EXPECT_EQ(status_of(busy), 503) << "a refused connection must still get its 503: " << busy;
  EXPECT_NE(busy.find("busy"), std::string::npos) << busy;
  // The refused socket is closed about a second later (not left open): data sent then is reset.
  std::this_thread::sleep_for(1500ms);
  bool reset = !send_all(fd, "x");
  std::this_thread::sleep_for(100ms);
  reset = reset || !send_all(fd, "y");
  ::close(fd);
  EXPECT_TRUE(reset) << "the server kept the refused connection open";
  for (auto& t : streams) t.join();
  EXPECT_EQ(streamed.load(), 3);
  EXPECT_TRUE(healthy(h));
  EXPECT_GE(metric(h, "synaptix_http_connections_refused_total"), 1);
}

TEST(HostileClients, AbandonedRequestsFreeTheirKvBlocksWithinASecond) {
  // Four sequences at a time, so the 10 requests (16 choices each) are far from done when their clients go.
  Harness h(/*kv_blocks=*/256, /*max_queue=*/1024, /*max_running=*/4);
  const int64_t baseline = metric(h, "synaptix_kv_blocks_used");
  ASSERT_EQ(baseline, 0);
  std::vector<int> clients;
  for (int i = 0; i < 10; ++i) {
    const int fd = connect_to(h.port);
    ASSERT_GE(fd, 0);
    const json body = {{"model", "llama"}, {"prompt", prompt_ids(i, 20)}, {"max_tokens", 200}, {"n", 16},
                       {"ignore_eos", true}, {"stream", i % 2 == 1}};  // half of them not streaming
    ASSERT_TRUE(send_all(fd, completion_request(body.dump())));
    clients.push_back(fd);
  }
  const auto start = Clock::now();
  int64_t used = 0;
  while ((used = metric(h, "synaptix_kv_blocks_used")) <= baseline && seconds_since(start) < 10) {
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_GT(used, baseline);
  ASSERT_EQ(h.engine->snapshot().in_flight, 160) << "the requests finished before their clients left";
  for (int fd : clients) ::close(fd);
  const auto gone = Clock::now();
  while ((used = metric(h, "synaptix_kv_blocks_used")) != baseline && seconds_since(gone) < 5) {
    std::this_thread::sleep_for(10ms);
  }
  const double took = seconds_since(gone);
  EXPECT_EQ(used, baseline);
  EXPECT_LT(took, 1.0) << "KV blocks of abandoned requests were held for " << took << " s";
  EXPECT_TRUE(h.wait_until_idle(5s));
  EXPECT_EQ(metric(h, "synaptix_requests_cancelled_total"), 10);
}

TEST(HostileClients, ChatTemplateErrorsAre400WithTheTemplatesMessage) {
  Harness h(256, 1024, 32, {}, std::string("{{ raise_exception('Conversation roles must alternate user/assistant') }}"));
  for (const bool stream : {false, true}) {
    auto res = h.client().Post(
        "/v1/chat/completions",
        json{{"model", "llama"}, {"messages", {{{"role", "user"}, {"content", "hi"}}}}, {"stream", stream}}.dump(),
        "application/json");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 400) << res->body;
    EXPECT_NE(res->body.find("Conversation roles must alternate user/assistant"), std::string::npos) << res->body;
  }
  EXPECT_TRUE(healthy(h));
}
