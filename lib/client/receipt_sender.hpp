// Receipts leave from a thread of their own, so a receive cycle never waits
// on the ring to store them, and the ids that pile up meanwhile for one
// peer travel in one envelope (at most kReceiptBatch ids each).
//
// Safe for concurrent use. One mutex guards the queue; it is never held
// while `send` runs.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "dwhatsapp/status.hpp"

namespace dws::client {

struct Receipt;

class ReceiptSender {
 public:
  /// Ids per receipt envelope: one stays far below the size limit at this count.
  static constexpr std::size_t kReceiptBatch = 500;
  /// Rounds in a row a receipt the ring could not take is queued again.
  static constexpr int kReceiptRounds = 5;

  /// Seals and posts one receipt to `peer`. kUnavailable: the ring could not
  /// take it now (it is queued again, a second later); any other failure is
  /// final for that receipt.
  using Send = std::function<Status(const std::string& peer, const Receipt& receipt)>;

  explicit ReceiptSender(Send send);
  /// stop().
  ~ReceiptSender();
  ReceiptSender(const ReceiptSender&) = delete;
  ReceiptSender& operator=(const ReceiptSender&) = delete;

  /// Queues receipts for the ids per peer ("read" or "delivered") and starts
  /// the sending thread on first use. Ignored after stop().
  void queue(const std::map<std::string, std::vector<std::string>>& due, bool read);
  /// Stops the thread once the receipts already queued are sent (each
  /// bounded by the request timeout); later ones are not accepted.
  /// Idempotent. REQUIRES: not called from within `send`.
  void stop();

 private:
  void loop();

  const Send send_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::pair<std::string, bool>, std::vector<std::string>> due_;  // (peer, read) -> ids
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace dws::client
