#pragma once
// The HTTP server's handler threads, as a cpp-httplib task queue that never lets connections pile up
// waiting for a thread. Each thread serves one connection at a time and records what it is doing with it
// (still reading the request, or working on it). A new connection takes an idle thread; when none is idle,
// the connection that has spent the longest still sending its request (at least `evict_after`: a slow or
// idle client) is shut down to make room; when every thread is working on a request, the new connection is
// refused (its task runs at once with refusing() true, and answers 503).
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace synaptix::serve {

class ConnectionPool final : public httplib::TaskQueue {
 public:
  using Clock = std::chrono::steady_clock;
  enum class Phase { Free, Reading, Working };

  // The counters (may be null) are incremented for every refused and every evicted connection; `idle` (may
  // be empty) runs on the listening thread whenever it has waited a while without a new connection.
  ConnectionPool(size_t threads, std::chrono::milliseconds evict_after, std::atomic<uint64_t>* refused,
                 std::atomic<uint64_t>* evicted, std::function<void()> idle = {});
  ~ConnectionPool() override;

  void enqueue(std::function<void()> fn) override;
  void shutdown() override;
  void on_idle() override;

  // On the thread running a connection's task: what it is doing with its socket (no-ops elsewhere).
  static void attach(int fd);           // the connection starts; Reading
  static void set_phase(Phase phase);   // Reading restarts its clock
  static void detach();                 // before the socket is closed (no shutdown can reach it after)
  static bool refusing();               // this task runs only to refuse its connection

 private:
  struct Slot {
    int fd = -1;
    Phase phase = Phase::Free;
    Clock::time_point since;
    bool evicted = false;
  };
  void work(size_t index);

  std::chrono::milliseconds evict_after_;
  std::atomic<uint64_t>* refused_;
  std::atomic<uint64_t>* evicted_;
  std::function<void()> idle_hook_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  std::vector<Slot> slots_;
  size_t idle_ = 0, evicting_ = 0;  // threads waiting for work; evicted connections not yet given up
  bool shutdown_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace synaptix::serve
