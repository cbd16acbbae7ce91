// The web chat's HTTP side: the page's files, a small JSON API over
// dws::Client and one Server-Sent Events stream per open page. Every
// request must name the session token as the first path segment (an
// EventSource cannot send headers), come from the page's own origin, and
// change state only by POST with a JSON body.
#include "chat_web.hpp"

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <httplib.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <functional>
#include <mutex>
#include <random>
#include <string>
#include <thread>

#include "web_assets.hpp"

extern char** environ;

namespace dws_chat {

namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

// Events kept for pages that reconnect; older ones are dropped (a page
// that missed them reloads its lists on reconnect anyway).
constexpr std::size_t kMaxEvents = 1000;
// An idle stream sends a comment this often, so a closed page is noticed.
constexpr auto kHeartbeat = std::chrono::seconds(10);

std::string random_token() {
  std::random_device rd;  // /dev/urandom on Linux
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < 32; ++i) out += kHex[rd() % 16];
  return out;
}

bool same_secret(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

void put(Writer& w, const char* key, const std::string& value) {
  w.Key(key);
  w.String(value.c_str(), static_cast<rapidjson::SizeType>(value.size()));
}

void write_message(Writer& w, const dws::Message& m) {
  w.StartObject();
  put(w, "id", m.id);
  put(w, "from", m.from);
  put(w, "to", m.to);
  w.Key("sent_at");
  w.Int64(m.sent_at);
  w.Key("received_at");
  w.Int64(m.received_at);
  put(w, "text", m.text);
  put(w, "state", dws::delivery_name(m.state));
  w.Key("outgoing");
  w.Bool(m.outgoing);
  w.EndObject();
}

void write_contact(Writer& w, const dws::Contact& c) {
  w.StartObject();
  put(w, "nickname", c.nickname);
  put(w, "alias", c.alias);
  put(w, "display_name", c.display_name);
  put(w, "safety_number", c.safety_number);
  w.Key("key_changed");
  w.Bool(c.key_changed);
  w.EndObject();
}

template <typename F>
std::string json(F&& body) {
  rapidjson::StringBuffer sb;
  Writer w(sb);
  body(w);
  return std::string(sb.GetString(), sb.GetSize());
}

int http_status(const dws::Status& s) {
  switch (s.code()) {
    case dws::Code::kInvalidArgument: return 400;
    case dws::Code::kUnauthenticated: return 401;
    case dws::Code::kForbidden: return 403;
    case dws::Code::kNotFound: return 404;
    case dws::Code::kExists: return 409;
    case dws::Code::kPayloadTooLarge: return 413;
    case dws::Code::kRateLimited: return 429;
    case dws::Code::kUnavailable: return 503;
    default: return 500;
  }
}

void reply_error(httplib::Response& res, int status, const std::string& message) {
  res.status = status;
  res.set_content(json([&](Writer& w) {
                    w.StartObject();
                    put(w, "error", message);
                    w.EndObject();
                  }),
                  "application/json");
}

void reply_status(httplib::Response& res, const dws::Status& s) {
  if (s.ok()) {
    res.set_content("{}", "application/json");
    return;
  }
  reply_error(res, http_status(s), s.message());
}

// The events every open page receives, numbered so that each stream sends
// each event once.
class EventHub {
 public:
  void publish(std::string event, std::string data) {
    {
      std::lock_guard lock(mu_);
      ++last_;
      events_.push_back({last_, "id: " + std::to_string(last_) + "\nevent: " + event + "\ndata: " + data + "\n\n"});
      if (events_.size() > kMaxEvents) events_.pop_front();
    }
    cv_.notify_all();
  }

  // Waits (up to kHeartbeat) for events after `seen`; false once stopping.
  bool next(std::uint64_t& seen, std::string& out) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, kHeartbeat, [&] { return stopping_ || last_ > seen; });
    if (stopping_) return false;
    out.clear();
    for (const auto& [n, text] : events_)
      if (n > seen) out += text;
    seen = last_;
    return true;
  }

  std::uint64_t last() {
    std::lock_guard lock(mu_);
    return last_;
  }

  void stop() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<std::uint64_t, std::string>> events_;
  std::uint64_t last_ = 0;
  bool stopping_ = false;
};

class WebChat {
 public:
  WebChat(dws::Client& client, std::string token) : client_(client), token_(std::move(token)) {}

  void start_live() {
    client_.on_delivery([this](const std::string& peer, const std::string& id, dws::Delivery state) {
      hub_.publish("delivery", json([&](Writer& w) {
                     w.StartObject();
                     put(w, "peer", peer);
                     put(w, "id", id);
                     put(w, "state", dws::delivery_name(state));
                     w.EndObject();
                   }));
    });
    client_.on_connection([this](bool up) {
      hub_.publish("connection", json([&](Writer& w) {
                     w.StartObject();
                     w.Key("reachable");
                     w.Bool(up);
                     w.EndObject();
                   }));
    });
    if (client_.whoami()) start_receiving();
  }

  void start_receiving() {
    dws::Status st = client_.start_receiving([this](const dws::Message& m) {
      hub_.publish("message", json([&](Writer& w) { write_message(w, m); }));
    });
    if (!st.ok()) std::fprintf(stderr, "dws-chat: cannot receive messages: %s\n", st.message().c_str());
  }

  void stop() {
    hub_.stop();
    client_.stop_receiving();
    client_.on_delivery(nullptr);
    client_.on_connection(nullptr);
  }

  // Loopback only, so the checks are about other pages in the same
  // browser: a foreign Origin (or a Host a rebinding DNS name would send)
  // and a missing token are refused before any route runs.
  bool allowed(const httplib::Request& req, httplib::Response& res) const {
    const std::string host = req.get_header_value("Host");
    if (host != authority_ && host != "localhost:" + port_) {
      reply_error(res, 403, "wrong Host header: open the URL dws-chat web printed");
      return false;
    }
    if (req.has_header("Origin")) {
      const std::string origin = req.get_header_value("Origin");
      if (origin != "http://" + authority_ && origin != "http://localhost:" + port_) {
        reply_error(res, 403, "requests from another origin are refused");
        return false;
      }
    }
    const std::string& path = req.path;
    if (path.size() < token_.size() + 2 || path[0] != '/' || !same_secret(path.substr(1, token_.size()), token_) ||
        path[token_.size() + 1] != '/') {
      reply_error(res, 403, "no valid session token in the URL: open the URL dws-chat web printed");
      return false;
    }
    if (req.method == "POST" && req.get_header_value("Content-Type").rfind("application/json", 0) != 0) {
      reply_error(res, 415, "POST bodies must be application/json");
      return false;
    }
    return true;
  }

  void routes(httplib::Server& svr) {
    const std::string base = "/" + token_;
    svr.Get(base + "/", [](const httplib::Request&, httplib::Response& res) { asset(res, "index.html"); });
    svr.Get(base + R"(/([a-z]+\.(js|css|png)))",
            [](const httplib::Request& req, httplib::Response& res) { asset(res, req.matches[1].str()); });

    svr.Get(base + "/api/state", [this](const httplib::Request&, httplib::Response& res) {
      const auto me = client_.whoami();
      res.set_content(json([&](Writer& w) {
                        w.StartObject();
                        w.Key("account");
                        if (me) w.String(me->c_str()); else w.Null();
                        put(w, "safety_number", client_.safety_number());
                        w.Key("reachable");
                        w.Bool(client_.reachable());
                        w.Key("read_receipts");
                        w.Bool(client_.read_receipts());
                        w.Key("max_text_bytes");
                        w.Uint64(dws::Client::max_text_bytes());
                        w.Key("event");
                        w.Uint64(hub_.last());
                        w.EndObject();
                      }),
                      "application/json");
    });
    svr.Get(base + "/api/chats", [this](const httplib::Request&, httplib::Response& res) {
      auto chats = client_.chats();
      if (!chats.ok()) return reply_status(res, chats.status());
      res.set_content(json([&](Writer& w) {
                        w.StartArray();
                        for (const dws::Chat& c : *chats) {
                          w.StartObject();
                          put(w, "peer", c.peer);
                          put(w, "alias", c.alias);
                          put(w, "display_name", c.display_name);
                          w.Key("unread");
                          w.Int(c.unread);
                          w.Key("last");
                          write_message(w, c.last);
                          w.EndObject();
                        }
                        w.EndArray();
                      }),
                      "application/json");
    });
    svr.Get(base + "/api/history", [this](const httplib::Request& req, httplib::Response& res) {
      int limit = 50;
      if (req.has_param("limit")) limit = std::clamp(std::atoi(req.get_param_value("limit").c_str()), 1, 500);
      auto messages = client_.history(req.get_param_value("peer"), req.get_param_value("before"), limit);
      if (!messages.ok()) return reply_status(res, messages.status());
      res.set_content(json([&](Writer& w) {
                        w.StartArray();
                        for (const dws::Message& m : *messages) write_message(w, m);
                        w.EndArray();
                      }),
                      "application/json");
    });
    svr.Get(base + "/api/contacts", [this](const httplib::Request&, httplib::Response& res) {
      auto contacts = client_.contacts();
      if (!contacts.ok()) return reply_status(res, contacts.status());
      res.set_content(json([&](Writer& w) {
                        w.StartArray();
                        for (const dws::Contact& c : *contacts) write_contact(w, c);
                        w.EndArray();
                      }),
                      "application/json");
    });
    svr.Get(base + "/api/events", [this](const httplib::Request& req, httplib::Response& res) {
      std::uint64_t seen = hub_.last();
      // A reconnecting EventSource names the last event it got; a new one
      // says from where its page's state is current.
      if (req.has_header("Last-Event-ID")) {
        seen = std::strtoull(req.get_header_value("Last-Event-ID").c_str(), nullptr, 10);
      } else if (req.has_param("after")) {
        seen = std::strtoull(req.get_param_value("after").c_str(), nullptr, 10);
      }
      res.set_header("Cache-Control", "no-store");
      res.set_chunked_content_provider("text/event-stream", [this, seen](std::size_t, httplib::DataSink& sink) mutable {
        std::string out;
        if (!hub_.next(seen, out)) {
          sink.done();
          return false;
        }
        if (out.empty()) out = ": idle\n\n";
        return sink.write(out.data(), out.size());
      });
    });

    post(svr, base + "/api/register", [this](const rapidjson::Document& d, httplib::Response& res) {
      dws::Status st = client_.register_account(field(d, "nickname"), field(d, "password"), field(d, "display_name"));
      if (st.ok()) start_receiving();
      reply_status(res, st);
    });
    post(svr, base + "/api/login", [this](const rapidjson::Document& d, httplib::Response& res) {
      dws::Status st = client_.login(field(d, "nickname"), field(d, "password"));
      if (st.ok()) start_receiving();
      reply_status(res, st);
    });
    post(svr, base + "/api/send", [this](const rapidjson::Document& d, httplib::Response& res) {
      const std::string to = field(d, "to");
      auto id = client_.send(to, field(d, "text"));
      if (!id.ok()) return reply_status(res, id.status());
      // The stored message, as history shows it (its state included).
      auto peer = client_.resolve(to);
      auto recent = client_.history(peer.ok() ? *peer : to, "", 20);
      if (recent.ok()) {
        for (const dws::Message& m : *recent) {
          if (m.id != *id) continue;
          res.set_content(json([&](Writer& w) { write_message(w, m); }), "application/json");
          return;
        }
      }
      res.set_content(json([&](Writer& w) {
                        w.StartObject();
                        put(w, "id", *id);
                        w.EndObject();
                      }),
                      "application/json");
    });
    post(svr, base + "/api/read", [this](const rapidjson::Document& d, httplib::Response& res) {
      reply_status(res, client_.mark_read(field(d, "peer")));
    });
    post(svr, base + "/api/check", [this](const rapidjson::Document& d, httplib::Response& res) {
      auto c = client_.check_user(field(d, "nickname"));
      if (!c.ok()) return reply_status(res, c.status());
      res.set_content(json([&](Writer& w) { write_contact(w, *c); }), "application/json");
    });
    post(svr, base + "/api/contacts", [this](const rapidjson::Document& d, httplib::Response& res) {
      reply_status(res, client_.add_contact(field(d, "nickname"), field(d, "alias")));
    });
    post(svr, base + "/api/settings", [this](const rapidjson::Document& d, httplib::Response& res) {
      auto it = d.FindMember("read_receipts");
      if (it == d.MemberEnd() || !it->value.IsBool())
        return reply_error(res, 400, "settings: read_receipts must be true or false");
      reply_status(res, client_.set_read_receipts(it->value.GetBool()));
    });
  }

  void set_authority(const std::string& host, int port) {
    port_ = std::to_string(port);
    authority_ = host + ":" + port_;
  }

  const std::string& token() const { return token_; }

 private:
  using PostHandler = std::function<void(const rapidjson::Document&, httplib::Response&)>;

  static void asset(httplib::Response& res, const std::string& name) {
    const WebAsset* a = find_web_asset(name);
    if (a == nullptr) return reply_error(res, 404, "no file " + name);
    res.set_header("Cache-Control", "no-store");
    res.set_header("Content-Security-Policy", "default-src 'self'; img-src 'self' data:");
    res.set_content(a->data, a->size, std::string(a->content_type).c_str());
  }

  static std::string field(const rapidjson::Document& d, const char* key) {
    auto it = d.FindMember(key);
    if (it == d.MemberEnd() || !it->value.IsString()) return "";
    return std::string(it->value.GetString(), it->value.GetStringLength());
  }

  static void post(httplib::Server& svr, const std::string& path, PostHandler handler) {
    svr.Post(path, [handler](const httplib::Request& req, httplib::Response& res) {
      rapidjson::Document d;
      d.Parse(req.body.c_str(), req.body.size());
      if (d.HasParseError() || !d.IsObject()) return reply_error(res, 400, "the body is not a JSON object");
      handler(d, res);
    });
  }

  dws::Client& client_;
  const std::string token_;
  std::string authority_;
  std::string port_;
  EventHub hub_;
};

bool split_listen(const std::string& listen, std::string& host, int& port) {
  const auto colon = listen.rfind(':');
  if (colon == std::string::npos) return false;
  host = listen.substr(0, colon);
  const std::string p = listen.substr(colon + 1);
  if (p.empty() || p.size() > 5 || p.find_first_not_of("0123456789") != std::string::npos) return false;
  port = std::stoi(p);
  return port <= 65535;
}

void open_in_browser(const std::string& url) {
  pid_t pid;
  const char* argv[] = {"xdg-open", url.c_str(), nullptr};
  if (posix_spawnp(&pid, "xdg-open", nullptr, nullptr, const_cast<char* const*>(argv), environ) != 0) {
    std::fprintf(stderr, "dws-chat: cannot start a browser (xdg-open): open the URL above by hand\n");
    return;
  }
  std::thread([pid] { waitpid(pid, nullptr, 0); }).detach();
}

}  // namespace

int run_web(dws::Client& client, const WebOptions& options) {
  std::string host;
  int port = 0;
  if (!split_listen(options.listen, host, port)) {
    std::fprintf(stderr, "dws-chat: --listen '%s' is not HOST:PORT: use 127.0.0.1:PORT (0 lets the system pick)\n",
                 options.listen.c_str());
    return 2;
  }
  if (host.rfind("127.", 0) != 0) {
    std::fprintf(stderr,
                 "dws-chat: --listen %s is not a loopback address: the page listens on 127.0.0.1 only, so no other "
                 "machine can reach it\n",
                 host.c_str());
    return 2;
  }

  // Signals wait for sigwait() in one thread; every other thread (httplib's
  // workers, the client's) is created after they are blocked.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  WebChat web(client, random_token());
  httplib::Server svr;
  // One worker per open stream and per request in flight; a few pages fit.
  svr.new_task_queue = [] { return new httplib::ThreadPool(24); };
  svr.set_keep_alive_timeout(2);
  svr.set_pre_routing_handler([&web](const httplib::Request& req, httplib::Response& res) {
    return web.allowed(req, res) ? httplib::Server::HandlerResponse::Unhandled
                                 : httplib::Server::HandlerResponse::Handled;
  });
  web.routes(svr);

  const int bound = port == 0 ? svr.bind_to_any_port(host.c_str()) : (svr.bind_to_port(host.c_str(), port) ? port : -1);
  if (bound <= 0) {
    std::fprintf(stderr, "dws-chat: cannot listen on %s: the port is taken or the address is not local; pick "
                 "another with --listen 127.0.0.1:PORT\n", options.listen.c_str());
    return 1;
  }
  web.set_authority(host, bound);
  web.start_live();

  const std::string url = "http://" + host + ":" + std::to_string(bound) + "/" + web.token() + "/";
  std::printf("%s\n", url.c_str());
  std::fflush(stdout);
  std::fprintf(stderr, "dws-chat: the chat page is at the URL above (this account only); Ctrl-C stops it\n");
  if (options.open_browser) open_in_browser(url);

  std::thread stopper([&] {
    int sig = 0;
    sigwait(&stop_signals, &sig);
    web.stop();
    svr.stop();
  });
  svr.listen_after_bind();
  if (svr.is_running()) svr.stop();
  pthread_kill(stopper.native_handle(), SIGTERM);
  stopper.join();
  web.stop();
  return 0;
}

}  // namespace dws_chat
