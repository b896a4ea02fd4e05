#pragma once
// cpp-httplib's Server with the limits hostile clients need (the library parses requests; this runs its
// connections): handler threads from a ConnectionPool (no queue of waiting connections: slow clients are cut
// off or new connections refused with 503), each request read through a DeadlineSocketStream (whole request
// before a deadline, headers and body within byte budgets), keep-alive bounded, and a lingering close after
// a response sent before its request body was read (so the client sees a 413 rather than a reset).
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <utility>

namespace synaptix::serve {

struct HttpLimits {
  size_t threads = 256;                                  // connections served at once
  std::chrono::milliseconds request_timeout{10000};      // from waiting for a request to its last body byte
  std::chrono::milliseconds write_timeout{30000};        // one write making no progress
  std::chrono::milliseconds evict_after{100};            // reading this long: may be cut when threads run out
  size_t max_header_bytes = 64u << 10;                   // request line and headers
  size_t max_body_bytes = 16u << 20;                     // over it: 413
};

class GuardedServer final : public httplib::Server {
 public:
  explicit GuardedServer(HttpLimits limits);
  ~GuardedServer() override;
  const HttpLimits& limits() const { return limits_; }
  uint64_t refused() const { return refused_.load(); }
  uint64_t evicted() const { return evicted_.load(); }

  // Called by handlers on their connection's thread:
  // the request is wholly read (the connection stops being one that may be cut off for slowness);
  static void request_read();
  // the response goes out before the request was read to its end: close the connection after it.
  static void close_after_response();
  // the peer is still connected (false: it closed or reset; also false off a connection thread).
  static bool peer_alive();

 private:
  bool process_and_close_socket(socket_t sock) override;
  // Closes refused connections older than a second (all of them with `all`); listening thread only.
  void close_refused(bool all);

  static constexpr size_t kMaxRefusedOpen = 256;

  HttpLimits limits_;
  std::atomic<uint64_t> refused_{0}, evicted_{0};
  // Refused connections waiting to be closed (listening thread only), oldest first.
  std::deque<std::pair<int, std::chrono::steady_clock::time_point>> refused_fds_;
};

}  // namespace synaptix::serve
