// The command-line programs end to end: `synaptix serve` on a free loopback port, `trace synth|stats`,
// `bench-serve --json` against it, and SIGTERM draining a running stream before the process exits 0.
#include <httplib.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include <nlohmann/json.hpp>

#include "synaptix/eval/replay_sse.h"

using json = nlohmann::json;
using namespace std::chrono_literals;

extern char** environ;

namespace {

const std::string kModel = std::string(SYNAPTIX_SHARED_DIR) + "/fixtures/models/llama";

std::string run_capture(const std::string& cmd, int* rc) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  *rc = pclose(p);
  return out;
}

// `synaptix serve` as a child process; stderr is read until it names its port.
struct ServeProcess {
  pid_t pid = -1;
  int err_fd = -1;
  int port = 0;
  std::string log;

  ServeProcess() {
    int fds[2];
    if (pipe(fds) != 0) return;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    std::vector<std::string> args = {SYNAPTIX_BINARY, "serve", "--model", kModel, "--port", "0",
                                     "--kv-blocks", "64", "--http-threads", "16"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (posix_spawn(&pid, SYNAPTIX_BINARY, &fa, nullptr, argv.data(), environ) != 0) pid = -1;
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    err_fd = fds[0];
    const auto end = std::chrono::steady_clock::now() + 60s;
    while (pid > 0 && std::chrono::steady_clock::now() < end && (port = parse_port()) == 0) read_some(500);
  }
  // The port from the line "serving ... on http://127.0.0.1:PORT (...)", 0 until it has been printed.
  int parse_port() const {
    const std::string key = "on http://127.0.0.1:";
    const size_t at = log.find(key);
    if (at == std::string::npos) return 0;
    size_t k = at + key.size();
    int p = 0;
    while (k < log.size() && log[k] >= '0' && log[k] <= '9') p = p * 10 + (log[k++] - '0');
    return k < log.size() ? p : 0;  // the number is complete only once a character follows it
  }
  void read_some(int timeout_ms) {
    pollfd p{err_fd, POLLIN, 0};
    if (poll(&p, 1, timeout_ms) > 0) {
      char buf[1024];
      const ssize_t n = read(err_fd, buf, sizeof buf);
      if (n > 0) log.append(buf, static_cast<size_t>(n));
    }
  }
  // Waits for the exit; returns the status, or -1 after `limit` (then kills it).
  int wait_exit(std::chrono::seconds limit) {
    const auto end = std::chrono::steady_clock::now() + limit;
    int status = 0;
    while (std::chrono::steady_clock::now() < end) {
      read_some(50);
      if (waitpid(pid, &status, WNOHANG) == pid) {
        pid = -1;
        return status;
      }
    }
    return -1;
  }
  ~ServeProcess() {
    if (pid > 0) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
    if (err_fd >= 0) close(err_fd);
  }
};

}  // namespace

TEST(Cli, TraceSynthAndStats) {
  const std::string path = ::testing::TempDir() + "/cli_trace.jsonl";
  int rc = -1;
  run_capture(std::string(SYNAPTIX_BINARY) + " trace synth --kind batch -n 30 --seed 3 -o " + path + " 2>&1", &rc);
  ASSERT_EQ(rc, 0);
  const std::string out = run_capture(std::string(SYNAPTIX_BINARY) + " trace stats --json " + path, &rc);
  ASSERT_EQ(rc, 0) << out;
  const json s = json::parse(out);
  EXPECT_EQ(s["requests"], 30);
  EXPECT_EQ(s["duration_s"], 0.0);  // batch: everything at t = 0
  EXPECT_EQ(s["prefix_groups"], 1);
  run_capture(std::string(SYNAPTIX_BINARY) + " trace synth --kind nope 2>&1", &rc);
  EXPECT_NE(rc, 0);
}

TEST(Cli, ServeBenchAndSigtermDrain) {
  ServeProcess srv;
  ASSERT_GT(srv.port, 0) << srv.log;
  const std::string url = "http://127.0.0.1:" + std::to_string(srv.port);

  const std::string trace = ::testing::TempDir() + "/cli_bench.jsonl";
  int rc = -1;
  run_capture(std::string(SYNAPTIX_BINARY) + " trace synth --kind chat -n 8 --seed 5 --rate 20 --max-prompt-tokens 64 " +
                  "--max-output-tokens 6 -o " + trace + " 2>&1", &rc);
  ASSERT_EQ(rc, 0);
  const std::string out =
      run_capture(std::string(SYNAPTIX_BINARY) + " bench-serve --url " + url + " --trace " + trace +
                      " --concurrency 4 --slo-ttft-ms 60000 --json", &rc);
  ASSERT_EQ(rc, 0) << out;
  const json r = json::parse(out);
  EXPECT_EQ(r["succeeded"], 8);
  EXPECT_EQ(r["failed"], 0);
  EXPECT_EQ(r["slo_met"], 8);
  EXPECT_GT(r["ttft_ms"]["p50"].get<double>(), 0.0);
  EXPECT_LE(r["ttft_ms"]["p50"].get<double>(), r["ttft_ms"]["p99"].get<double>());

  // A long stream is running when SIGTERM arrives: it completes, then the process exits 0.
  std::string body;
  bool done = false;
  std::thread client([&] {
    httplib::Client cli("127.0.0.1", srv.port);
    cli.set_read_timeout(60);
    httplib::Request req;
    req.method = "POST";
    req.path = "/v1/completions";
    req.body = R"({"model":"llama","prompt":[5,6,7],"max_tokens":200,"ignore_eos":true,"stream":true})";
    req.set_header("Content-Type", "application/json");
    synaptix::eval::SseParser sse;
    int64_t events = 0;
    req.content_receiver = [&](const char* d, size_t n, uint64_t, uint64_t) {
      for (const auto& ev : sse.feed(d, n)) {
        if (ev == "[DONE]") {
          done = true;
        } else {
          ++events;
        }
        if (events == 1) {
          kill(srv.pid, SIGTERM);  // mid-stream
          std::this_thread::sleep_for(50ms);
        }
      }
      return true;
    };
    httplib::Response res;
    httplib::Error err;
    cli.send(req, res, err);
    body = std::to_string(events);
  });
  client.join();
  EXPECT_TRUE(done) << "stream cut by shutdown after " << body << " events";
  EXPECT_EQ(body, "201");  // 200 tokens and the closing event
  const int status = srv.wait_exit(60s);
  ASSERT_NE(status, -1) << "did not exit after SIGTERM; log:\n" << srv.log;
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << srv.log;
  EXPECT_NE(srv.log.find("draining"), std::string::npos) << srv.log;
}
