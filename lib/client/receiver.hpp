// The background receiver: one thread running receive cycles (a long poll
// at the user's primary, then the callbacks) until stopped, backing off
// after errors. Stopping does not wait out the long poll: it cancels the
// request in flight.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include "client/api_client.hpp"
#include "dwhatsapp/status.hpp"

namespace dws::client {

class Receiver {
 public:
  /// One receive cycle; requests that may block long go through `cancel`.
  using Cycle = std::function<Status(Cancel& cancel)>;

  explicit Receiver(Cycle cycle);
  /// Stops the thread if it runs.
  ~Receiver();
  Receiver(const Receiver&) = delete;
  Receiver& operator=(const Receiver&) = delete;

  void start();
  /// Cancels the request in flight and joins the thread. Bounded by the
  /// cycle's work after its long poll (short requests, each at most the
  /// request timeout, and the callbacks), never by the poll's wait.
  /// REQUIRES: not called from the receiver thread.
  void stop();
  /// The last cycle's error (Ok after a success).
  Status last_error() const;

 private:
  void run();

  Cycle cycle_;
  Cancel cancel_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool exited_ = false;
  Status last_error_;
  std::thread thread_;
};

}  // namespace dws::client
