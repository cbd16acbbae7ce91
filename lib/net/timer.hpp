// One Asio io_context on one thread: periodic tasks (stabilize, fix fingers,
// later anti-entropy and flush) and the UDP discovery responder share it.
#pragma once

#include <asio/io_context.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace dws::net {

class Timer {
 public:
  Timer();
  ~Timer();  // stop()
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

  /// Runs `task` every `period` on the timer thread, first after one period.
  /// A run never overlaps the previous run of the same task: the next run is
  /// scheduled only when the current one returns (a late run is not repeated
  /// to catch up). May be called before or after start().
  void every(std::chrono::milliseconds period, std::function<void()> task);

  /// The io_context the thread runs, for other Asio objects (discovery).
  asio::io_context& context() { return io_; }

  /// Starts the thread. Idempotent.
  void start();
  /// Cancels every task, waits for a run in progress to return, joins the
  /// thread. Idempotent. REQUIRES: not called from the timer thread.
  void stop();

 private:
  struct Periodic;
  void arm(const std::shared_ptr<Periodic>& p);

  asio::io_context io_;
  std::mutex mu_;
  std::vector<std::shared_ptr<Periodic>> tasks_;
  std::thread thread_;
  bool started_ = false;
  bool stopped_ = false;
  std::atomic<bool> stopping_{false};
};

}  // namespace dws::net
