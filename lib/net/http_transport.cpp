#include "net/http_transport.hpp"

#include <fmt/format.h>

#include <chrono>
#include <optional>

#include <condition_variable>
#include <deque>
#include <functional>
#include <thread>
#include <utility>

#include "core/id.hpp"
#include "net/address.hpp"
#include "net/http_client.hpp"
#include "net/json_codec.hpp"
#include "net/peer_auth.hpp"

namespace dws::net {

namespace {

// The peer side of lib/net/peer_auth.hpp for one call: the proof header
// sent, and the check of the answer's proof. Absent for an open ring.
struct Proved {
  std::optional<PeerAuth::Proof> proof;

  Proved(const PeerAuth* auth, const WireRequest& wire, const std::string& target) {
    if (auth == nullptr || auth->is_open()) return;
    const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::system_clock::now().time_since_epoch());
    proof = auth->sign(wire.method, target, wire.body, now.count());
  }
  std::vector<std::pair<std::string, std::string>> headers() const {
    std::vector<std::pair<std::string, std::string>> h;
    if (proof) h.emplace_back(std::string(kPeerProofHeader), proof->header);
    return h;
  }
  // Ok, or why the answer is not believed.
  Status check(const PeerAuth* auth, const core::Address& to, const HttpReply& res) const {
    if (!proof) return Status::Ok();
    if (auth->check_answer(proof->nonce, res.status, res.body, res.find_header(kPeerAnswerHeader)))
      return Status::Ok();
    if (res.status == 401)
      return Status::Unauthenticated(fmt::format(
          "peer {} refused this node's proof of the ring secret: give the ring's secret file (--ring-secret)", to));
    return Status::Unauthenticated(fmt::format(
        "peer {} answered without proof of this ring's secret: it holds another ring secret, or none", to));
  }
};

}  // namespace

// Threads that run the extra calls of call_all. A thread per call would cost
// a clone and a stack per replicated write; these stay parked between calls.
// A worker only ever runs call(), which never waits for another worker, so
// a bounded pool cannot deadlock.
class HttpTransport::Workers {
 public:
  explicit Workers(std::size_t max) : max_(max) {}

  ~Workers() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
  }

  /// Queues `job` if a worker is idle or may be started; false when the pool
  /// is at its limit and busy (the caller then runs the job itself).
  bool submit(std::function<void()> job) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return false;
      if (jobs_.size() >= idle_) {
        if (threads_.size() >= max_) return false;
        threads_.emplace_back([this] { work(); });
      }
      jobs_.push_back(std::move(job));
    }
    cv_.notify_one();
    return true;
  }

 private:
  void work() {
    std::unique_lock lock(mu_);
    for (;;) {
      ++idle_;
      cv_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
      --idle_;
      if (jobs_.empty()) return;  // stopping, nothing left
      auto job = std::move(jobs_.front());
      jobs_.pop_front();
      lock.unlock();
      job();
      lock.lock();
    }
  }

  const std::size_t max_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  std::vector<std::thread> threads_;
  std::size_t idle_ = 0;  // workers waiting for a job (a queued job is already promised to one)
  bool stopping_ = false;
};

HttpTransport::HttpTransport(HttpTransportOptions options)
    : options_(options),
      http_(std::make_unique<HttpClient>(HttpClientOptions{.max_idle_per_server = options.max_idle_per_peer,
                                                           .tls_ca = options.tls_ca,
                                                           .tls_cert = options.tls_cert,
                                                           .tls_key = options.tls_key,
                                                           .what = "peer",
                                                           .ca_label = "the ring's CA"})),
      workers_(std::make_unique<Workers>(options.max_parallel_workers)) {}

HttpTransport::~HttpTransport() = default;

std::vector<Result<core::Response>> HttpTransport::call_all(const std::vector<Call>& calls,
                                                            core::Deadline deadline) {
  std::vector<std::optional<Result<core::Response>>> results(calls.size());
  std::mutex mu;
  std::condition_variable done_cv;
  std::size_t pending = 0;
  std::vector<std::size_t> inline_calls;

  for (std::size_t i = 1; i < calls.size(); ++i) {
    {
      std::lock_guard lock(mu);
      ++pending;
    }
    const bool queued = workers_->submit([&, i] {
      auto r = call(calls[i].to, calls[i].request, deadline);
      std::lock_guard lock(mu);
      results[i].emplace(std::move(r));
      if (--pending == 0) done_cv.notify_one();
    });
    if (!queued) {
      std::lock_guard lock(mu);
      --pending;
      inline_calls.push_back(i);
    }
  }
  if (!calls.empty()) results[0].emplace(call(calls[0].to, calls[0].request, deadline));
  for (std::size_t i : inline_calls) results[i].emplace(call(calls[i].to, calls[i].request, deadline));
  {
    std::unique_lock lock(mu);
    done_cv.wait(lock, [&] { return pending == 0; });
  }

  std::vector<Result<core::Response>> out;
  out.reserve(calls.size());
  for (auto& r : results) out.push_back(std::move(*r));
  return out;
}

void HttpTransport::clear() { http_->clear(); }

Result<core::Response> HttpTransport::call(const core::Address& to, const core::Request& request,
                                           core::Deadline deadline) {
  // "host:port#i" is ring position i of the node at host:port: the
  // connection goes to host:port, the position rides in the target (where
  // the peer proof covers it) as ?at=i.
  const std::string server(core::host_of(to));
  WireRequest wire = encode_request(request);
  if (server.size() != to.size()) wire.query.emplace_back("at", to.substr(server.size() + 1));
  const std::string target = wire.target();
  const std::int64_t timeout_ms = deadline.timeout_ms > 0 ? deadline.timeout_ms : 1;
  // Signed per attempt: a retried proof would be refused as a replay, so a
  // stale pooled connection is retried here, not inside the client.
  for (int attempt = 0;; ++attempt) {
    const Proved proved(options_.auth.get(), wire, target);
    const HttpRequest hr{wire.method, target, wire.body, proved.headers(), static_cast<int>(timeout_ms), 0};
    bool reused = false;
    auto res = http_->send(server, hr, nullptr, &reused);
    if (!res.ok()) {
      // A pooled connection the peer has closed meanwhile fails on first
      // use; one retry on a fresh one tells that apart from a dead peer.
      // Ring requests are idempotent, so a retry is safe.
      if (reused && attempt == 0) continue;
      return Status::Unavailable(fmt::format("peer {}: {}", to, res.status().message()));
    }
    if (Status s = proved.check(options_.auth.get(), to, *res); !s.ok()) return s;
    auto decoded = decode_reply(request, res->status, res->body);
    if (!decoded.ok() && res->status >= 200 && res->status <= 299)
      return Status::Unavailable(fmt::format("peer {} sent an answer that does not decode: {}", to,
                                             decoded.status().message()));
    return decoded;
  }
}

}  // namespace dws::net
