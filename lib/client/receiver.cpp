#include "client/receiver.hpp"

#include <algorithm>
#include <chrono>

namespace dws::client {

namespace {

constexpr auto kFirstBackoff = std::chrono::milliseconds(100);
constexpr auto kMaxBackoff = std::chrono::milliseconds(5000);
// How often stop() repeats the cancel: a cancel that lands between taking a
// connection and the request entering the socket would otherwise miss it.
constexpr auto kCancelRepeat = std::chrono::milliseconds(20);

}  // namespace

Receiver::Receiver(Cycle cycle) : cycle_(std::move(cycle)) {}

Receiver::~Receiver() { stop(); }

void Receiver::start() {
  std::lock_guard lock(mu_);
  if (thread_.joinable()) return;
  stopping_ = false;
  exited_ = false;
  cancel_.reset();
  thread_ = std::thread([this] { run(); });
}

void Receiver::stop() {
  std::unique_lock lock(mu_);
  if (!thread_.joinable()) return;
  stopping_ = true;
  cv_.notify_all();
  while (!exited_) {
    lock.unlock();
    cancel_.cancel();
    lock.lock();
    cv_.wait_for(lock, kCancelRepeat, [this] { return exited_; });
  }
  if (!thread_.joinable()) return;  // a concurrent stop() joined it
  std::thread t = std::move(thread_);
  lock.unlock();
  t.join();
}

Status Receiver::last_error() const {
  std::lock_guard lock(mu_);
  return last_error_;
}

void Receiver::run() {
  auto backoff = kFirstBackoff;
  std::unique_lock lock(mu_);
  while (!stopping_) {
    lock.unlock();
    Status s = cycle_(cancel_);
    lock.lock();
    if (stopping_) break;
    last_error_ = s;
    if (s.ok()) {
      backoff = kFirstBackoff;
      continue;
    }
    cv_.wait_for(lock, backoff, [this] { return stopping_; });
    backoff = std::min(backoff * 2, kMaxBackoff);
  }
  exited_ = true;
  cv_.notify_all();
}

}  // namespace dws::client
