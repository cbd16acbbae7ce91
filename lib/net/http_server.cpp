#include "net/http_server.hpp"

#include "net/address.hpp"

#include <arpa/inet.h>
#include <dirent.h>
#include <fmt/format.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace dws::net {

namespace {

// A worker pool that starts with `min` threads and adds one whenever a job
// arrives while every worker is busy, up to `max`. httplib's own pool is
// fixed, and since each keep-alive connection keeps its worker until it goes
// idle, a fixed pool turns a burst of connections into multi-second stalls.
class ElasticPool final : public httplib::TaskQueue {
 public:
  ElasticPool(std::size_t min, std::size_t max) : max_(max < min ? min : max) {
    std::lock_guard lock(mu_);
    for (std::size_t i = 0; i < min; ++i) spawn();
  }

  ~ElasticPool() override { shutdown(); }

  void enqueue(std::function<void()> fn) override {
    {
      std::lock_guard lock(mu_);
      jobs_.push_back(std::move(fn));
      if (jobs_.size() > idle_ && threads_.size() < max_) spawn();
    }
    cv_.notify_one();
  }

  void shutdown() override {
    {
      std::lock_guard lock(mu_);
      if (shutdown_) return;
      shutdown_ = true;
    }
    cv_.notify_all();
    // No new threads after shutdown_, so the list is stable now.
    for (auto& t : threads_) t.join();
  }

 private:
  // REQUIRES: mu_ held.
  void spawn() {
    threads_.emplace_back([this] { work(); });
  }

  void work() {
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock lock(mu_);
        ++idle_;
        cv_.wait(lock, [&] { return shutdown_ || !jobs_.empty(); });
        --idle_;
        if (jobs_.empty()) return;  // shutdown_ and nothing left to do
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      try {
        job();
      } catch (...) {
        // httplib's connection loop does not throw, and a worker must survive
        // a bug in any one connection.
      }
    }
  }

  const std::size_t max_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  std::vector<std::thread> threads_;
  std::size_t idle_ = 0;
  bool shutdown_ = false;
};

std::string regex_escape(const std::string& path) {
  std::string out;
  for (char c : path) {
    if (std::strchr(".^$|()[]{}*+?\\", c)) out += '\\';
    out += c;
  }
  return out;
}

// The port a socket is bound to locally, or -1.
int local_port(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return -1;
  if (addr.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
  if (addr.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
  return -1;
}

// Shuts down every connected TCP socket of this process whose local port is
// `port`: the connections a server on that port accepted. httplib offers no
// handle on them, and its workers otherwise keep an idle keep-alive
// connection (and answer one more request on it) until the keep-alive timeout
// runs out, so a stopped node would linger for seconds.
void shut_accepted_connections(int port) {
  DIR* dir = ::opendir("/proc/self/fd");
  if (!dir) return;
  const int dir_fd = ::dirfd(dir);
  while (const dirent* entry = ::readdir(dir)) {
    char* end = nullptr;
    const long fd = std::strtol(entry->d_name, &end, 10);
    if (end == entry->d_name || *end != '\0' || fd == dir_fd) continue;
    struct stat st {};
    if (::fstat(static_cast<int>(fd), &st) != 0 || !S_ISSOCK(st.st_mode)) continue;
    sockaddr_storage peer{};
    socklen_t len = sizeof peer;
    if (::getpeername(static_cast<int>(fd), reinterpret_cast<sockaddr*>(&peer), &len) != 0) continue;
    if (local_port(static_cast<int>(fd)) == port) ::shutdown(static_cast<int>(fd), SHUT_RDWR);
  }
  ::closedir(dir);
}

WireResponse error_reply(Code code, std::string message) { return encode_error(Status(code, std::move(message))); }

void write(httplib::Response& res, const WireResponse& reply) {
  res.status = reply.status;
  for (const auto& [name, value] : reply.headers) res.set_header(name.c_str(), value);
  res.set_content(reply.body, reply.content_type.c_str());
}

}  // namespace

struct HttpServer::Impl {
  explicit Impl(HttpServerOptions o) : options(o) {}

  HttpServerOptions options;
  httplib::Server server;
  std::atomic<int> fd{-1};
  int port = 0;
  std::string where;  // "host:port" for messages
  std::thread thread;
  bool bound = false;
  bool started = false;
  bool stopped = false;
  std::mutex mu;  // guards the lifecycle flags
};

HttpServer::HttpServer(HttpServerOptions options) : impl_(std::make_unique<Impl>(options)) {
  auto& svr = impl_->server;
  const auto min_threads = static_cast<std::size_t>(options.threads > 0 ? options.threads : 1);
  const auto max_threads = static_cast<std::size_t>(options.max_threads);
  svr.new_task_queue = [min_threads, max_threads] { return new ElasticPool(min_threads, max_threads); };
  svr.set_tcp_nodelay(true);
  svr.set_keep_alive_max_count(static_cast<std::size_t>(options.keep_alive_max_count));
  svr.set_keep_alive_timeout(options.keep_alive_timeout_s);
  svr.set_read_timeout(options.io_timeout_s, 0);
  svr.set_write_timeout(options.io_timeout_s, 0);
  svr.set_payload_max_length(options.max_body_bytes);

  // httplib's default options set SO_REUSEPORT, which would let a second node
  // bind a port that is already serving; SO_REUSEADDR alone only lets a
  // restarted node reuse its port while old connections sit in TIME_WAIT.
  Impl* impl = impl_.get();
  svr.set_socket_options([impl](int sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    impl->fd = sock;
  });

  // Errors httplib produces itself (unknown route 404, body too large 413,
  // malformed request 400) get the same JSON form as ours; a handler's own
  // error body is left alone.
  svr.set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    const Code code = code_for_http_status(res.status);
    std::string message;
    if (res.status == 404) message = fmt::format("no endpoint {} {}", req.method, req.path);
    else if (res.status == 413) message = "request body too large";
    else message = fmt::format("HTTP {}", res.status);
    const int status = res.status;
    write(res, error_reply(code, std::move(message)));
    res.status = status;  // e.g. 405 keeps its own status
    return httplib::Server::HandlerResponse::Handled;
  }));
  svr.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "unknown exception";
    try {
      if (ep) std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    write(res, error_reply(Code::kInternal, "handler failed: " + what));
  });
}

HttpServer::~HttpServer() { stop(); }

void HttpServer::route(std::string_view method, const std::string& path, Handler handler) {
  route_pattern(method, regex_escape(path), std::move(handler));
}

void HttpServer::route_pattern(std::string_view method, const std::string& pattern, Handler handler) {
  auto wrapped = [h = std::move(handler)](const httplib::Request& req, httplib::Response& res) {
    WireRequest wire;
    wire.method = req.method;
    wire.path = req.path;
    wire.query.assign(req.params.begin(), req.params.end());
    wire.body = req.body;
    wire.headers.assign(req.headers.begin(), req.headers.end());
    wire.raw_target = req.target;
    wire.remote_address = req.remote_addr;
    try {
      write(res, h(wire));
    } catch (const std::exception& e) {
      write(res, error_reply(Code::kInternal, fmt::format("{} {} failed: {}", req.method, req.path, e.what())));
    } catch (...) {
      write(res, error_reply(Code::kInternal, fmt::format("{} {} failed", req.method, req.path)));
    }
  };
  if (method == "GET") impl_->server.Get(pattern, std::move(wrapped));
  else if (method == "POST") impl_->server.Post(pattern, std::move(wrapped));
  else if (method == "PUT") impl_->server.Put(pattern, std::move(wrapped));
  else if (method == "DELETE") impl_->server.Delete(pattern, std::move(wrapped));
}

Result<int> HttpServer::bind(const std::string& host, int port) {
  std::lock_guard lock(impl_->mu);
  impl_->where = format_host_port(host, port);
  if (impl_->bound || impl_->stopped) return Status::Internal("HttpServer::bind called twice");
  errno = 0;
  if (!impl_->server.bind_to_port(host, port)) {
    const int err = errno;
    if (err == EADDRINUSE)
      return Status::Unavailable(fmt::format("cannot listen on {}: port {} is already in use", impl_->where, port));
    return Status::Unavailable(fmt::format("cannot listen on {}: {}", impl_->where,
                                           err ? std::strerror(err) : "address not available on this host"));
  }
  impl_->bound = true;
  const int fd = impl_->fd;
  // bind_to_port already called listen() with httplib's baked-in backlog of
  // 5; listening again on the same socket makes Linux take the new backlog.
  if (::listen(fd, impl_->options.backlog) != 0)
    return Status::Internal(fmt::format("listen({}) on {}: {}", impl_->options.backlog, impl_->where,
                                        std::strerror(errno)));
  impl_->port = local_port(fd);
  if (impl_->port <= 0)
    return Status::Internal(fmt::format("getsockname on {}: {}", impl_->where, std::strerror(errno)));
  return impl_->port;
}

Status HttpServer::start() {
  std::lock_guard lock(impl_->mu);
  if (!impl_->bound) return Status::Internal("HttpServer::start before bind");
  if (impl_->started || impl_->stopped) return Status::Ok();
  impl_->started = true;
  impl_->thread = std::thread([impl = impl_.get()] { impl->server.listen_after_bind(); });
  // httplib's stop() does nothing until the accept loop has begun, so wait
  // for it; otherwise an early stop() would leave the thread running forever.
  // The socket already listens, so clients connecting meanwhile just queue.
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!impl_->server.is_running()) {
    if (std::chrono::steady_clock::now() > give_up)
      return Status::Internal(fmt::format("HTTP server on {} did not start within 10 s", impl_->where));
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return Status::Ok();
}

void HttpServer::stop() {
  std::lock_guard lock(impl_->mu);
  if (impl_->stopped) return;
  impl_->stopped = true;
  if (impl_->started) {
    // While the listener still holds the port, every connected socket with
    // that local port is one this server accepted, so the scan cannot hit a
    // client socket that reused the port number.
    shut_accepted_connections(impl_->port);
    impl_->server.stop();
    if (impl_->thread.joinable()) impl_->thread.join();
  } else if (impl_->bound) {
    // Bound but never served: httplib only closes sockets it listened on.
    ::close(impl_->fd.exchange(-1));
  }
}

int HttpServer::port() const { return impl_->port; }

}  // namespace dws::net
