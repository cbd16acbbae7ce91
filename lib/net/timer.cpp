#include "net/timer.hpp"

#include <asio/executor_work_guard.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>

#include <cstdio>
#include <exception>

namespace dws::net {

struct Timer::Periodic {
  Periodic(asio::io_context& io, std::chrono::milliseconds p, std::function<void()> t)
      : timer(io), period(p), task(std::move(t)) {}
  asio::steady_timer timer;
  std::chrono::milliseconds period;
  std::function<void()> task;
  std::chrono::steady_clock::time_point next;
};

namespace {
// Keeps io_context::run() from returning while no timer is pending.
using WorkGuard = asio::executor_work_guard<asio::io_context::executor_type>;
}  // namespace

Timer::Timer() = default;

Timer::~Timer() { stop(); }

void Timer::every(std::chrono::milliseconds period, std::function<void()> task) {
  auto p = std::make_shared<Periodic>(io_, period, std::move(task));
  p->next = std::chrono::steady_clock::now() + period;
  std::lock_guard lock(mu_);
  if (stopped_) return;
  tasks_.push_back(p);
  // Timers are only touched on the io thread once it runs.
  asio::post(io_, [this, p] { arm(p); });
}

void Timer::arm(const std::shared_ptr<Periodic>& p) {
  if (stopping_) return;
  p->timer.expires_at(p->next);
  p->timer.async_wait([this, p](const std::error_code& ec) {
    if (ec || stopping_) return;  // cancelled by stop()
    try {
      p->task();
    } catch (const std::exception& e) {
      // A periodic task must not take the whole thread down with it.
      std::fprintf(stderr, "dwhatsapp: periodic task failed: %s\n", e.what());
    }
    const auto now = std::chrono::steady_clock::now();
    p->next += p->period;
    if (p->next <= now) p->next = now + p->period;
    arm(p);
  });
}

void Timer::start() {
  std::lock_guard lock(mu_);
  if (started_ || stopped_) return;
  started_ = true;
  thread_ = std::thread([this] {
    WorkGuard guard(io_.get_executor());
    io_.run();
  });
}

void Timer::stop() {
  std::vector<std::shared_ptr<Periodic>> tasks;
  {
    std::lock_guard lock(mu_);
    if (stopped_) return;
    stopped_ = true;
    tasks.swap(tasks_);
  }
  stopping_ = true;
  // stop() makes run() return after the handler in progress; pending timers
  // are then destroyed with the io_context, never run.
  io_.stop();
  if (thread_.joinable()) thread_.join();
  // Run the cancelled waits here so that they release their tasks now
  // rather than when the io_context is destroyed.
  for (auto& p : tasks) p->timer.cancel();
  io_.restart();
  io_.poll();
}

}  // namespace dws::net
