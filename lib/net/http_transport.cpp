#include "net/http_transport.hpp"

#include <fmt/format.h>
#include <httplib.h>

#include <chrono>
#include <optional>

#include <condition_variable>
#include <deque>
#include <functional>
#include <thread>
#include <utility>

#include "net/address.hpp"
#include "net/json_codec.hpp"
#include "net/peer_auth.hpp"

namespace dws::net {

// TLS: an https:// client that verifies the peer's certificate against the
// ring's CA and its name against the address called.
// It presents the node's own certificate, which peers check in turn.
std::string scheme_host_port(const std::string& host, int port, const HttpTransportOptions& o) {
  return fmt::format("{}://{}", o.tls_ca.empty() ? "http" : "https", format_host_port(host, port));
}

struct HttpTransport::Connection {
  Connection(const std::string& host, int port, const HttpTransportOptions& o)
      : client(scheme_host_port(host, port, o), o.tls_cert, o.tls_key) {
    if (!o.tls_ca.empty()) {
      client.set_ca_cert_path(o.tls_ca.c_str());
      client.enable_server_certificate_verification(true);
    }
    client.set_keep_alive(true);
    client.set_tcp_nodelay(true);
    // The codec already percent-encodes the query.
    client.set_url_encode(false);
  }
  httplib::Client client;
};

namespace {

std::string describe(httplib::Error err, std::int64_t timeout_ms) {
  switch (err) {
    case httplib::Error::Connection: return "cannot connect (refused or unreachable)";
    case httplib::Error::ConnectionTimeout: return fmt::format("no connection within {} ms", timeout_ms);
    case httplib::Error::Read: return fmt::format("no answer within {} ms, or the connection closed", timeout_ms);
    case httplib::Error::Write: return "sending the request failed";
    case httplib::Error::SSLConnection: return "TLS handshake failed (does the peer serve HTTPS?)";
    case httplib::Error::SSLLoadingCerts: return "the TLS CA file does not load";
    case httplib::Error::SSLServerVerification:
      return "the peer's TLS certificate is not signed by the ring's CA, or does not name its address";
    default: return "HTTP error " + httplib::to_string(err);
  }
}

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
  httplib::Headers headers() const {
    httplib::Headers h;
    if (proof) h.emplace(std::string(kPeerProofHeader), proof->header);
    return h;
  }
  // Ok, or why the answer is not believed.
  Status check(const PeerAuth* auth, const core::Address& to, const httplib::Response& res) const {
    if (!proof) return Status::Ok();
    const std::string name(kPeerAnswerHeader);
    const std::string value = res.has_header(name.c_str()) ? res.get_header_value(name.c_str()) : std::string();
    if (auth->check_answer(proof->nonce, res.status, res.body, res.has_header(name.c_str()) ? &value : nullptr))
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
    : options_(options), workers_(std::make_unique<Workers>(options.max_parallel_workers)) {}

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

std::unique_ptr<HttpTransport::Connection> HttpTransport::take(const core::Address& to, bool& reused) {
  {
    std::lock_guard lock(mu_);
    auto it = idle_.find(to);
    if (it != idle_.end() && !it->second.empty()) {
      auto conn = std::move(it->second.back());
      it->second.pop_back();
      reused = true;
      return conn;
    }
  }
  reused = false;
  return nullptr;
}

void HttpTransport::give_back(const core::Address& to, std::unique_ptr<Connection> conn) {
  std::lock_guard lock(mu_);
  auto& pool = idle_[to];
  if (pool.size() < options_.max_idle_per_peer) pool.push_back(std::move(conn));
}

void HttpTransport::clear() {
  std::map<core::Address, std::vector<std::unique_ptr<Connection>>> idle;
  {
    std::lock_guard lock(mu_);
    idle.swap(idle_);
  }
}

Result<core::Response> HttpTransport::call(const core::Address& to, const core::Request& request,
                                           core::Deadline deadline) {
  const auto hp = parse_host_port(to, "peer address");
  if (!hp.ok()) return hp.status();
  const WireRequest wire = encode_request(request);
  const std::string target = wire.target();
  const std::int64_t timeout_ms = deadline.timeout_ms > 0 ? deadline.timeout_ms : 1;
  const time_t sec = static_cast<time_t>(timeout_ms / 1000);
  const time_t usec = static_cast<time_t>((timeout_ms % 1000) * 1000);

  // A pooled connection the peer has closed meanwhile fails on first use;
  // one retry on a fresh connection tells that apart from a dead peer. Ring
  // requests are idempotent, so a retry is safe.
  for (int attempt = 0; attempt < 2; ++attempt) {
    bool reused = false;
    std::unique_ptr<Connection> conn = take(to, reused);
    if (!conn) conn = std::make_unique<Connection>(hp->host, hp->port, options_);
    auto& cli = conn->client;
    cli.set_connection_timeout(sec, usec);
    cli.set_read_timeout(sec, usec);
    cli.set_write_timeout(sec, usec);

    // Signed per attempt: a retried proof would be refused as a replay.
    const Proved proved(options_.auth.get(), wire, target);
    httplib::Result res = wire.method == "POST"
                              ? cli.Post(target.c_str(), proved.headers(), wire.body, "application/json")
                              : cli.Get(target.c_str(), proved.headers());
    if (!res) {
      if (reused && attempt == 0) continue;
      return Status::Unavailable(fmt::format("peer {}: {}", to, describe(res.error(), timeout_ms)));
    }
    if (Status s = proved.check(options_.auth.get(), to, *res); !s.ok()) return s;
    const int status = res->status;
    const std::string body = std::move(res->body);
    give_back(to, std::move(conn));
    auto decoded = decode_reply(request, status, body);
    if (!decoded.ok() && status >= 200 && status <= 299)
      return Status::Unavailable(fmt::format("peer {} sent an answer that does not decode: {}", to,
                                             decoded.status().message()));
    return decoded;
  }
  return Status::Unavailable(fmt::format("peer {}: no answer", to));
}

}  // namespace dws::net
