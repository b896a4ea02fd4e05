#include "synaptix/serve/connection_pool.h"

#include <sys/socket.h>

namespace synaptix::serve {

namespace {
thread_local ConnectionPool* t_pool = nullptr;
thread_local size_t t_slot = 0;
thread_local bool t_refusing = false;
}  // namespace

ConnectionPool::ConnectionPool(size_t threads, std::chrono::milliseconds evict_after, std::atomic<uint64_t>* refused,
                               std::atomic<uint64_t>* evicted, std::function<void()> idle)
    : evict_after_(evict_after), refused_(refused), evicted_(evicted), idle_hook_(std::move(idle)), slots_(threads),
      idle_(threads) {
  threads_.reserve(threads);
  for (size_t i = 0; i < threads; ++i) threads_.emplace_back([this, i] { work(i); });
}

ConnectionPool::~ConnectionPool() { shutdown(); }

void ConnectionPool::enqueue(std::function<void()> fn) {
  std::unique_lock lk(mu_);
  bool take = jobs_.size() < idle_ + evicting_;
  if (!take) {
    const auto cutoff = Clock::now() - evict_after_;
    Slot* victim = nullptr;
    for (Slot& s : slots_) {
      if (s.fd >= 0 && s.phase == Phase::Reading && !s.evicted && s.since <= cutoff &&
          (!victim || s.since < victim->since)) {
        victim = &s;
      }
    }
    if (victim) {
      ::shutdown(victim->fd, SHUT_RDWR);  // its blocked read returns; the thread comes back for this job
      victim->evicted = true;
      ++evicting_;
      if (evicted_) evicted_->fetch_add(1);
      take = true;
    }
  }
  if (take) {
    jobs_.push_back(std::move(fn));
    lk.unlock();
    cv_.notify_one();
    return;
  }
  lk.unlock();
  if (refused_) refused_->fetch_add(1);
  t_refusing = true;
  fn();
  t_refusing = false;
}

void ConnectionPool::shutdown() {
  {
    std::lock_guard lk(mu_);
    if (shutdown_) return;
    shutdown_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
}

void ConnectionPool::on_idle() {
  if (idle_hook_) idle_hook_();
}

void ConnectionPool::work(size_t index) {
  t_pool = this;
  t_slot = index;
  std::unique_lock lk(mu_);
  for (;;) {
    cv_.wait(lk, [&] { return shutdown_ || !jobs_.empty(); });
    if (jobs_.empty()) return;  // shutting down with nothing left to serve
    auto fn = std::move(jobs_.front());
    jobs_.pop_front();
    --idle_;
    lk.unlock();
    fn();
    lk.lock();
    Slot& s = slots_[index];
    if (s.evicted) --evicting_;
    s = Slot{};
    ++idle_;
  }
}

void ConnectionPool::attach(int fd) {
  if (!t_pool) return;
  std::lock_guard lk(t_pool->mu_);
  Slot& s = t_pool->slots_[t_slot];
  s.fd = fd;
  s.phase = Phase::Reading;
  s.since = Clock::now();
}

void ConnectionPool::set_phase(Phase phase) {
  if (!t_pool) return;
  std::lock_guard lk(t_pool->mu_);
  Slot& s = t_pool->slots_[t_slot];
  s.phase = phase;
  if (phase == Phase::Reading) s.since = Clock::now();
}

void ConnectionPool::detach() {
  if (!t_pool) return;
  std::lock_guard lk(t_pool->mu_);
  Slot& s = t_pool->slots_[t_slot];
  s.fd = -1;
  s.phase = Phase::Free;
}

bool ConnectionPool::refusing() { return t_refusing; }

}  // namespace synaptix::serve
