#include "synaptix/serve/guarded_server.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string>

#include "synaptix/serve/connection_pool.h"
#include "synaptix/serve/socket_stream.h"

namespace synaptix::serve {

namespace {

using Clock = std::chrono::steady_clock;

struct Connection {
  DeadlineSocketStream* stream = nullptr;
  const HttpLimits* limits = nullptr;
  bool close_after = false;
};
thread_local Connection* t_conn = nullptr;

// Chunk framing around a body of the largest size allowed.
constexpr size_t kChunkOverhead = 64u << 10;

bool has_body(const httplib::Request& req) {
  return req.has_header("Transfer-Encoding") ||
         (req.has_header("Content-Length") && req.get_header_value("Content-Length") != "0");
}

// The answer to a connection no thread can take, written at once without blocking.
void send_busy(int fd) {
  static const std::string body =
      R"({"error":{"message":"the server is busy: every connection thread is working","type":"service_unavailable","param":null,"code":null}})";
  const std::string msg = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\n"
                          "Connection: close\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  (void)::send(fd, msg.data(), msg.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  ::shutdown(fd, SHUT_WR);
}

// After a response sent with request bytes still unread: stop sending, discard what still arrives for a
// short while, so that closing does not reset the connection before the client has read the response.
void linger_close(int fd) {
  ::shutdown(fd, SHUT_WR);
  const auto until = Clock::now() + std::chrono::milliseconds(500);
  size_t discarded = 0;
  char sink[16384];
  while (Clock::now() < until && discarded < (64u << 20)) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    const ssize_t n = ::recv(fd, sink, sizeof sink, MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) break;
    if (n > 0) discarded += static_cast<size_t>(n);
  }
  ::close(fd);
}

}  // namespace

GuardedServer::~GuardedServer() { close_refused(true); }

void GuardedServer::close_refused(bool all) {
  const auto now = Clock::now();
  while (!refused_fds_.empty() && (all || refused_fds_.size() >= kMaxRefusedOpen ||
                                   now - refused_fds_.front().second > std::chrono::seconds(1))) {
    ::close(refused_fds_.front().first);
    refused_fds_.pop_front();
  }
}

GuardedServer::GuardedServer(HttpLimits limits) : limits_(limits) {
  new_task_queue = [this] {
    return new ConnectionPool(limits_.threads, limits_.evict_after, &refused_, &evicted_,
                              [this] { close_refused(false); });
  };
  set_idle_interval(0, 200000);  // the listening thread wakes every 0.2 s without connections
  set_payload_max_length(limits_.max_body_bytes);
  const auto secs = [](std::chrono::milliseconds d) { return std::max<time_t>(1, static_cast<time_t>(d.count() / 1000)); };
  set_read_timeout(secs(limits_.request_timeout));
  set_write_timeout(secs(limits_.write_timeout));
  // The headers are in: a request without a body is wholly read, one with a body gets the body's budget.
  set_pre_routing_handler([](const httplib::Request& req, httplib::Response&) {
    if (t_conn) {
      if (has_body(req)) {
        t_conn->stream->set_budget(t_conn->limits->max_body_bytes + kChunkOverhead);
      } else {
        ConnectionPool::set_phase(ConnectionPool::Phase::Working);
      }
    }
    return HandlerResponse::Unhandled;
  });
}

void GuardedServer::request_read() { ConnectionPool::set_phase(ConnectionPool::Phase::Working); }

void GuardedServer::close_after_response() {
  if (t_conn) t_conn->close_after = true;
}

bool GuardedServer::peer_alive() { return t_conn && t_conn->stream->peer_alive(); }

bool GuardedServer::process_and_close_socket(socket_t sock) {
  if (ConnectionPool::refusing()) {
    // Runs on the listening thread. Closing now would reset the connection when the client's request
    // arrives, losing the 503 before the client reads it; refused sockets are closed a second later
    // instead, from here or when the listening thread is idle (at most kMaxRefusedOpen stay open meanwhile).
    send_busy(sock);
    close_refused(false);
    refused_fds_.emplace_back(sock, Clock::now());
    return false;
  }
  ConnectionPool::attach(sock);
  DeadlineSocketStream strm(sock, limits_.write_timeout, [this] { return svr_sock_ == INVALID_SOCKET; });
  Connection conn{&strm, &limits_, false};
  t_conn = &conn;
  bool ret = false;
  for (size_t left = keep_alive_max_count_; left > 0 && svr_sock_ != INVALID_SOCKET; --left) {
    ConnectionPool::set_phase(ConnectionPool::Phase::Reading);
    strm.begin_request(Clock::now() + limits_.request_timeout, limits_.max_header_bytes);
    if (!strm.wait_for_request()) break;
    bool closed = false;
    ret = process_request(strm, left == 1, closed, nullptr);
    if (!ret || closed || conn.close_after || strm.broken()) break;
  }
  t_conn = nullptr;
  ConnectionPool::detach();
  if (conn.close_after) {
    linger_close(sock);
  } else {
    ::shutdown(sock, SHUT_RDWR);
    ::close(sock);
  }
  return ret;
}

}  // namespace synaptix::serve
