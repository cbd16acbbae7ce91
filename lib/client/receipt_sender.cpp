#include "client/receipt_sender.hpp"

#include <algorithm>
#include <chrono>
#include <cstddef>

#include "client/client_json.hpp"

namespace dws::client {

ReceiptSender::ReceiptSender(Send send) : send_(std::move(send)) {}

ReceiptSender::~ReceiptSender() { stop(); }

void ReceiptSender::queue(const std::map<std::string, std::vector<std::string>>& due, bool read) {
  std::lock_guard lock(mu_);
  if (stop_) return;
  for (const auto& [peer, listed] : due) {
    auto& v = due_[{peer, read}];
    v.insert(v.end(), listed.begin(), listed.end());
  }
  if (!thread_.joinable()) thread_ = std::thread([this] { loop(); });
  cv_.notify_one();
}

void ReceiptSender::loop() {
  // A receipt the ring could not take (every server tried within the
  // request's retry budget) is queued again for the next round, a second
  // later, at most kReceiptRounds times in a row: a tick stays behind only
  // through a long outage.
  int failed_rounds = 0;
  std::unique_lock lock(mu_);
  for (;;) {
    if (failed_rounds > 0) cv_.wait_for(lock, std::chrono::seconds(1), [this] { return stop_; });
    cv_.wait(lock, [this] { return stop_ || !due_.empty(); });
    // On stop, what is queued is still sent (each send bounded by the
    // request timeout): a short-lived program such as `dws-chat inbox`
    // exits right after receive(), and its receipts must not be lost.
    if (due_.empty()) return;
    auto due = std::move(due_);
    due_.clear();
    lock.unlock();
    std::map<std::pair<std::string, bool>, std::vector<std::string>> again;
    for (auto& [where, listed] : due) {
      for (std::size_t i = 0; i < listed.size(); i += kReceiptBatch) {
        Receipt part;
        part.read = where.second;
        part.ids.assign(listed.begin() + static_cast<std::ptrdiff_t>(i),
                        listed.begin() + static_cast<std::ptrdiff_t>(std::min(i + kReceiptBatch, listed.size())));
        if (send_(where.first, part).code() == Code::kUnavailable) {
          auto& v = again[where];
          v.insert(v.end(), part.ids.begin(), part.ids.end());
        }
      }
    }
    lock.lock();
    failed_rounds = again.empty() ? 0 : failed_rounds + 1;
    if (!again.empty() && !stop_ && failed_rounds <= kReceiptRounds) {
      for (auto& [where, ids_again] : again) {
        auto& v = due_[where];
        v.insert(v.begin(), ids_again.begin(), ids_again.end());
      }
    } else if (!again.empty()) {
      failed_rounds = 0;  // given up on these; the next receipts start afresh
    }
  }
}

void ReceiptSender::stop() {
  std::thread t;
  {
    std::lock_guard lock(mu_);
    stop_ = true;
    t = std::move(thread_);
  }
  cv_.notify_all();
  if (t.joinable()) t.join();
}

}  // namespace dws::client
