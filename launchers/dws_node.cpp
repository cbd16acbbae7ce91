// dws-node: runs one ring member, or prints the ring. Argument parsing only:
// everything else is the dws:: C++ API, so an embedding application can do
// whatever this program does.
#include <pthread.h>
#include <signal.h>

#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "dwhatsapp/node.hpp"
#include "dwhatsapp/status.hpp"
#include "dwhatsapp/types.hpp"

namespace {

std::string hex_id(dws::Id id) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016" PRIx64, id);
  return buf;
}

int fail(const dws::Status& status) {
  std::fprintf(stderr, "dws-node: %s\n", status.message().c_str());
  return 1;
}

// Node options shared by `up` and `join`.
void add_node_options(CLI::App* cmd, dws::NodeOptions& o) {
  cmd->add_option("--listen", o.listen, "HOST:PORT to listen on (port 0: any free port)")->required();
  cmd->add_option("--advertise", o.advertise, "HOST:PORT others use to reach this node (default: the listen address)");
  cmd->add_option("--data", o.data_dir, "data directory (default: keep nothing on disk)");
  cmd->add_option("--ring", o.ring_name, "ring name (default: dwhatsapp; join adopts the ring's)");
  cmd->add_option("--stabilize-ms", o.stabilize_ms, "stabilization period in milliseconds")
      ->capture_default_str()
      ->check(CLI::Range(1, 3'600'000));
  cmd->add_option("--successors", o.successors, "successor list length r (default 4; join adopts the ring's)")
      ->check(CLI::Range(1, 64));
  cmd->add_option("--replicas", o.replicas, "replication factor n (default 3; join adopts the ring's)")
      ->check(CLI::Range(1, 64));
  cmd->add_option("--discovery-port", o.discovery_port, "UDP discovery port (0: no responder)")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535));
  cmd->add_option("--discovery-broadcast", o.discovery_broadcast,
                  "address a join without --peer broadcasts to (a subnet's; 127.255.255.255 on loopback)")
      ->envname("DWS_DISCOVERY_BROADCAST")
      ->capture_default_str();
  cmd->add_option("--sync-ms", o.sync_ms, "anti-entropy period in milliseconds")
      ->capture_default_str()
      ->check(CLI::Range(1, 3'600'000));
  cmd->add_option("--vnodes", o.vnodes,
                  "ring positions this node takes (virtual nodes: each its own range and store, <data>/v<i>; "
                  "copies of a record always on distinct nodes)")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  cmd->add_flag("--fsync", o.fsync, "make every write durable before it is acknowledged (default: flush periodically)");
  cmd->add_option("--flush-ms", o.flush_ms, "flush period in milliseconds without --fsync")
      ->capture_default_str()
      ->check(CLI::Range(1, 3'600'000));
  cmd->add_option_function<std::uint64_t>(
         "--map-size-mb", [&o](std::uint64_t mb) { o.map_size = mb << 20; },
         "upper bound of the store's data file in MiB (default 65536)")
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1} << 24));
  cmd->add_option("--log-level", o.log_level, "error, warn, info or debug")
      ->capture_default_str()
      ->check(CLI::IsMember({"error", "warn", "info", "debug"}));
}

// HTTPS for `up` and `join`: all of a ring's nodes use it or none does.
void add_tls_options(CLI::App* cmd, dws::NodeOptions& o) {
  cmd->add_option("--tls-cert", o.tls_cert,
                  "PEM certificate to serve HTTPS with (gen-cert --host ... --out DIR: DIR/node.crt)");
  cmd->add_option("--tls-key", o.tls_key, "PEM private key of --tls-cert (DIR/node.key)");
  cmd->add_option("--tls-ca", o.tls_ca, "PEM ring CA that peers' certificates must chain to (CA-DIR/ca.crt)");
}

// `gen-cert --ca-dir DIR`: a new ring CA; with --host and --out: a node
// certificate signed by it.
int gen_cert(const std::string& ca_dir, const std::vector<std::string>& hosts, const std::string& out) {
  if (hosts.empty() != out.empty())
    return fail(dws::Status::InvalidArgument(
        "give --host and --out together for a node certificate, or neither for a new ring CA"));
  if (hosts.empty()) {
    if (dws::Status s = dws::make_ring_ca(ca_dir); !s.ok()) return fail(s);
    std::printf("ring CA in %s: ca.crt (give it to every node and client: --tls-ca), ca.key (keep it private)\n",
                ca_dir.c_str());
    return 0;
  }
  if (dws::Status s = dws::make_node_certificate(ca_dir, hosts, out); !s.ok()) return fail(s);
  std::printf("node certificate in %s: node.crt and node.key (--tls-cert %s/node.crt --tls-key %s/node.key)\n",
              out.c_str(), out.c_str(), out.c_str());
  return 0;
}

// Runs the node until SIGINT or SIGTERM, then leaves the ring gracefully.
// The signals are blocked in every thread (the mask is inherited by the
// library's threads, which are created later) and taken here with sigwait.
int serve(const sigset_t& signals, dws::Result<std::unique_ptr<dws::Node>> started) {
  if (!started.ok()) return fail(started.status());
  std::unique_ptr<dws::Node> node = std::move(started).value();
  std::printf("dws-node: listening on %s id %s\n", node->address().c_str(), hex_id(node->id()).c_str());
  std::fflush(stdout);

  int sig = 0;
  while (sigwait(&signals, &sig) != 0) {
  }
  std::fprintf(stderr, "dws-node: %s received, leaving the ring\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
  node->stop();
  node.reset();
  return 0;
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

std::string json_peer(const dws::PeerInfo& p) {
  return "{\"id\": \"" + hex_id(p.id) + "\", \"address\": " + json_string(p.address) + "}";
}

void print_json(const std::vector<dws::RingView>& ring) {
  std::string out = "[";
  for (size_t i = 0; i < ring.size(); ++i) {
    const dws::RingView& v = ring[i];
    out += i ? ",\n " : "\n ";
    out += "{\"id\": \"" + hex_id(v.self.id) + "\", \"address\": " + json_string(v.self.address);
    out += ", \"predecessor\": " + (v.predecessor ? json_peer(*v.predecessor) : std::string("null"));
    out += ", \"successors\": [";
    for (size_t j = 0; j < v.successors.size(); ++j) {
      out += (j ? ", " : "") + json_peer(v.successors[j]);
    }
    out += "], \"records\": ";
    if (v.records) {
      out += "{\"primary\": " + std::to_string(v.records->primary) +
             ", \"replica\": " + std::to_string(v.records->replica) + "}";
    } else {
      out += "null";
    }
    out += "}";
  }
  out += ring.empty() ? "]\n" : "\n]\n";
  std::fputs(out.c_str(), stdout);
}

std::string count_or_dash(const std::optional<dws::RecordCounts>& r, bool primary) {
  if (!r) return "-";
  return std::to_string(primary ? r->primary : r->replica);
}

void print_table(const std::vector<dws::RingView>& ring) {
  std::printf("%-16s  %-21s  %-21s  %9s  %9s  %s\n", "ID", "ADDRESS", "PREDECESSOR", "PRIMARY", "REPLICA",
              "SUCCESSORS");
  for (const dws::RingView& v : ring) {
    std::string successors;
    for (const dws::PeerInfo& s : v.successors) {
      successors += (successors.empty() ? "" : " ") + s.address;
    }
    std::printf("%-16s  %-21s  %-21s  %9s  %9s  %s\n", hex_id(v.self.id).c_str(), v.self.address.c_str(),
                v.predecessor ? v.predecessor->address.c_str() : "-", count_or_dash(v.records, true).c_str(),
                count_or_dash(v.records, false).c_str(), successors.c_str());
  }
  std::printf("%zu node%s in the ring\n", ring.size(), ring.size() == 1 ? "" : "s");
}

}  // namespace

int main(int argc, char** argv) {
  // cpp-httplib's TLS client writes with SSL_write on a plain socket: a peer
  // that closed must be an error returned, not a SIGPIPE that kills us.
  signal(SIGPIPE, SIG_IGN);
  CLI::App app{"dws-node: a member of a dwhatsapp ring"};
  app.require_subcommand(1);

  dws::NodeOptions options;
  std::string peer;
  bool json = false;

  CLI::App* up = app.add_subcommand("up", "start a new ring");
  add_node_options(up, options);
  auto* up_secret = up->add_option("--ring-secret", options.ring_secret_file,
                                   "ring secret file, created if absent (default: <data>/ring.secret)");
  up->add_flag("--open-ring", options.open_ring, "a ring anyone may join: no secret, no proofs between peers")
      ->excludes(up_secret);
  add_tls_options(up, options);

  CLI::App* join = app.add_subcommand("join", "join a ring through --peer, or through UDP discovery without it");
  add_node_options(join, options);
  join->add_option("--peer", peer, "HOST:PORT of any ring member (default: find one by UDP broadcast)");
  join->add_option("--ring-secret", options.ring_secret_file,
                   "the ring's secret file, as `up` wrote it (default: <data>/ring.secret if present)");
  add_tls_options(join, options);

  std::string ca_dir;
  std::vector<std::string> cert_hosts;
  std::string cert_out;
  CLI::App* gen = app.add_subcommand("gen-cert", "make a private ring CA, or a node certificate signed by it");
  gen->add_option("--ca-dir", ca_dir, "directory of the ring CA (ca.crt, ca.key)")->required();
  gen->add_option("--host", cert_hosts,
                  "IP or DNS name the node is reached at (repeat for more): make a node certificate");
  gen->add_option("--out", cert_out, "directory for the node's node.crt and node.key");

  std::string status_secret;
  std::string status_data;
  CLI::App* status = app.add_subcommand("status", "print the ring, walking successors from --peer");
  status->add_option("--peer", peer, "HOST:PORT of any ring member")->required();
  status->add_flag("--json", json, "print a JSON array instead of a table");
  auto* status_secret_opt =
      status->add_option("--ring-secret", status_secret, "the ring's secret file (a private ring needs it)");
  status->add_option("--data", status_data, "a member's data directory: use its ring.secret")
      ->excludes(status_secret_opt);
  std::string status_ca;
  status->add_option("--tls-ca", status_ca, "PEM ring CA: walk a ring that serves HTTPS");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // One line, like every other error: CLI11's own report is two lines and
    // exit 106 for a mistyped subcommand.
    if (app.get_subcommands().empty() && argc > 1 && argv[1][0] != '-')
      std::fprintf(stderr, "dws-node: '%s' is not a command: the commands are up, join and status (dws-node --help)\n",
                   argv[1]);
    else
      std::fprintf(stderr, "dws-node: %s (dws-node --help shows the usage)\n", e.what());
    return 2;
  }

  if (*gen) return gen_cert(ca_dir, cert_hosts, cert_out);

  if (*status) {
    if (!status_data.empty()) status_secret = status_data + "/ring.secret";
    if (status_secret.empty()) {
      // Without a secret only an open ring answers; say what to give otherwise.
      dws::Result<dws::RingInfo> info = dws::fetch_ring_info(peer, {}, status_ca);
      if (!info.ok()) return fail(info.status());
      if (!info->open_ring)
        return fail(dws::Status::InvalidArgument(
            "the ring of " + peer + " is private: give its secret with --ring-secret FILE, or --data DIR of a member"));
    }
    dws::Result<std::vector<dws::RingView>> ring = dws::walk_ring(peer, 4096, status_secret, status_ca);
    if (!ring.ok()) return fail(ring.status());
    if (json) {
      print_json(*ring);
    } else {
      print_table(*ring);
    }
    return 0;
  }

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  if (*up) return serve(signals, dws::Node::create(options));
  return serve(signals, dws::Node::join(options, peer));
}
