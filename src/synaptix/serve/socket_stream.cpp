#include "synaptix/serve/socket_stream.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace synaptix::serve {

namespace {

constexpr auto kSlice = std::chrono::milliseconds(100);  // how often a blocked read looks at `stopping`

void ip_and_port(const sockaddr_storage& addr, std::string& ip, int& port) {
  char text[INET6_ADDRSTRLEN] = {};
  if (addr.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&addr);
    inet_ntop(AF_INET, &a->sin_addr, text, sizeof text);
    port = ntohs(a->sin_port);
  } else if (addr.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&addr);
    inet_ntop(AF_INET6, &a->sin6_addr, text, sizeof text);
    port = ntohs(a->sin6_port);
  }
  ip = text;
}

}  // namespace

DeadlineSocketStream::DeadlineSocketStream(int fd, std::chrono::milliseconds write_timeout,
                                           std::function<bool()> stopping)
    : fd_(fd), write_timeout_(write_timeout), stopping_(std::move(stopping)), deadline_(Clock::now()) {}

void DeadlineSocketStream::begin_request(Clock::time_point deadline, size_t budget) {
  deadline_ = deadline;
  set_budget(budget);
}

void DeadlineSocketStream::set_budget(size_t budget) {
  budget_ = budget;
  taken_ = 0;
}

bool DeadlineSocketStream::wait(short events, Clock::time_point until, bool reading) const {
  for (;;) {
    if (reading && stopping_ && stopping_()) return false;
    const auto now = Clock::now();
    if (now >= until) return false;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - now);
    pollfd p{fd_, events, 0};
    const int r = ::poll(&p, 1, static_cast<int>(std::max<int64_t>(1, std::min(left, kSlice).count())));
    if (r > 0) return true;  // ready, or an error/hang-up that the next call reports
    if (r < 0 && errno != EINTR) return false;
  }
}

bool DeadlineSocketStream::wait_for_request() {
  return buf_pos_ < buf_len_ || wait(POLLIN, deadline_, true);
}

bool DeadlineSocketStream::peer_alive() const {
  if (buf_pos_ < buf_len_) return true;
  char c;
  const ssize_t r = ::recv(fd_, &c, 1, MSG_PEEK | MSG_DONTWAIT);
  if (r > 0) return true;
  if (r == 0) return false;  // end of stream: the client closed its side
  return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
}

bool DeadlineSocketStream::is_readable() const { return buf_pos_ < buf_len_ || wait(POLLIN, deadline_, true); }

bool DeadlineSocketStream::is_writable() const {
  return peer_alive() && wait(POLLOUT, Clock::now() + write_timeout_, false);
}

ssize_t DeadlineSocketStream::read(char* ptr, size_t size) {
  if (taken_ >= budget_) {  // the request is larger than its budget
    broken_ = true;
    return -1;
  }
  if (buf_pos_ == buf_len_) {
    for (;;) {
      if (!wait(POLLIN, deadline_, true)) {
        broken_ = true;
        return -1;
      }
      const ssize_t n = ::recv(fd_, buf_.data(), buf_.size(), MSG_DONTWAIT);
      if (n > 0) {
        buf_pos_ = 0;
        buf_len_ = static_cast<size_t>(n);
        break;
      }
      if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        broken_ = true;
        return n == 0 ? 0 : -1;
      }
    }
  }
  const size_t n = std::min({size, buf_len_ - buf_pos_, budget_ - taken_});
  std::memcpy(ptr, buf_.data() + buf_pos_, n);
  buf_pos_ += n;
  taken_ += n;
  return static_cast<ssize_t>(n);
}

ssize_t DeadlineSocketStream::write(const char* ptr, size_t size) {
  const auto until = Clock::now() + write_timeout_;
  size_t done = 0;
  while (done < size) {
    if (!wait(POLLOUT, until, false)) return done > 0 ? static_cast<ssize_t>(done) : -1;
    const ssize_t n = ::send(fd_, ptr + done, size - done, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) continue;
      return done > 0 ? static_cast<ssize_t>(done) : -1;
    }
    done += static_cast<size_t>(n);
  }
  return static_cast<ssize_t>(done);
}

void DeadlineSocketStream::get_remote_ip_and_port(std::string& ip, int& port) const {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  if (::getpeername(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) ip_and_port(addr, ip, port);
}

void DeadlineSocketStream::get_local_ip_and_port(std::string& ip, int& port) const {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  if (::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) ip_and_port(addr, ip, port);
}

}  // namespace synaptix::serve
