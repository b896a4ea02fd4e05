#pragma once
// The byte stream of one server connection, for cpp-httplib's request parser, with the bounds the parser
// lacks: a request must arrive whole before a deadline (a client sending a byte a second is cut off, not
// waited for) and within a byte budget (headers first, then the body), and the peer's departure can be
// checked without writing (a peeked end of stream).
#include <httplib.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <functional>

namespace synaptix::serve {

class DeadlineSocketStream final : public httplib::Stream {
 public:
  using Clock = std::chrono::steady_clock;
  // `stopping` is polled while reading: true ends every read (the server is shutting down).
  DeadlineSocketStream(int fd, std::chrono::milliseconds write_timeout, std::function<bool()> stopping);

  // A new request starts: reads fail after `deadline`, or after `budget` more bytes.
  void begin_request(Clock::time_point deadline, size_t budget);
  // A new byte budget from here on (the headers are in; the body may follow).
  void set_budget(size_t budget);
  // Blocks until the request's first byte is here. false: deadline, end of stream, error or stopping.
  bool wait_for_request();
  // The peer has not closed or reset the connection (data waiting to be read counts as alive).
  bool peer_alive() const;
  // A read failed (deadline, budget, end of stream or error): the connection cannot carry another request.
  bool broken() const { return broken_; }

  bool is_readable() const override;
  bool is_writable() const override;
  ssize_t read(char* ptr, size_t size) override;
  ssize_t write(const char* ptr, size_t size) override;
  void get_remote_ip_and_port(std::string& ip, int& port) const override;
  void get_local_ip_and_port(std::string& ip, int& port) const override;
  socket_t socket() const override { return fd_; }

 private:
  // poll() in short slices until `events` or `until`; reads also stop when `stopping` says so.
  bool wait(short events, Clock::time_point until, bool reading) const;

  int fd_;
  std::chrono::milliseconds write_timeout_;
  std::function<bool()> stopping_;
  Clock::time_point deadline_;
  size_t budget_ = 0, taken_ = 0;
  std::array<char, 4096> buf_{};
  size_t buf_pos_ = 0, buf_len_ = 0;
  bool broken_ = false;
};

}  // namespace synaptix::serve
