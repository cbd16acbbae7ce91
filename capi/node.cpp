// dws_node_*: a dws::Node behind a C handle.
#include <atomic>
#include <memory>
#include <string>
#include <string_view>

#include "dwhatsapp/dwhatsapp.h"
#include "dwhatsapp/node.hpp"
#include "guard.hpp"
#include "lists.hpp"

// The handle owns the node; `stopped` answers "is it still serving" without
// asking the node.
struct dws_node {
  std::unique_ptr<dws::Node> node;
  std::atomic<bool> stopped{false};
};

namespace {

using dws::Status;
using dws::capi::guard;
using dws::capi::or_empty;
using dws::capi::require;

constexpr std::size_t kCoreSize = offsetof(dws_node_options, discovery_port) + sizeof(int);

Status stopped_error(const dws_node* n) {
  return Status::Unavailable("the node " + n->node->address() +
                             " is stopped: only its address and id remain; dws_node_free() it");
}

// The C options as NodeOptions: NULL and 0 keep the C++ defaults.
dws::Result<dws::NodeOptions> convert(const dws_node_options* o) {
  if (o->size < kCoreSize)
    return Status::InvalidArgument("options->size is " + std::to_string(o->size) + ", less than the " +
                                   std::to_string(kCoreSize) + " bytes of dws_node_options' first fields: fill it " +
                                   "with dws_node_options_init()");
  dws::NodeOptions n;
  if (o->listen != nullptr) n.listen = o->listen;
  n.advertise = or_empty(o->advertise);
  n.data_dir = or_empty(o->data_dir);
  n.ring_secret_file = or_empty(o->ring_secret_file);
  if (o->stabilize_ms != 0) n.stabilize_ms = o->stabilize_ms;
  n.discovery_port = o->discovery_port;
  if (DWS_CAPI_HAS(o, open_ring)) n.open_ring = o->open_ring != 0;
  if (DWS_CAPI_HAS(o, tls_cert)) n.tls_cert = or_empty(o->tls_cert);
  if (DWS_CAPI_HAS(o, tls_key)) n.tls_key = or_empty(o->tls_key);
  if (DWS_CAPI_HAS(o, tls_ca)) n.tls_ca = or_empty(o->tls_ca);
  if (DWS_CAPI_HAS(o, ring_name)) n.ring_name = or_empty(o->ring_name);
  if (DWS_CAPI_HAS(o, replicas)) n.replicas = o->replicas;
  if (DWS_CAPI_HAS(o, successors)) n.successors = o->successors;
  if (DWS_CAPI_HAS(o, http_threads) && o->http_threads != 0) n.http_threads = o->http_threads;
  if (DWS_CAPI_HAS(o, sync_ms) && o->sync_ms != 0) n.sync_ms = o->sync_ms;
  if (DWS_CAPI_HAS(o, fsync)) n.fsync = o->fsync != 0;
  if (DWS_CAPI_HAS(o, flush_ms) && o->flush_ms != 0) n.flush_ms = o->flush_ms;
  if (DWS_CAPI_HAS(o, map_size)) n.map_size = o->map_size;
  if (DWS_CAPI_HAS(o, message_ttl_s) && o->message_ttl_s != 0) n.message_ttl_s = o->message_ttl_s;
  if (DWS_CAPI_HAS(o, mailbox_quota) && o->mailbox_quota != 0) n.mailbox_quota = o->mailbox_quota;
  if (DWS_CAPI_HAS(o, log_level) && o->log_level != nullptr) n.log_level = o->log_level;
  if (DWS_CAPI_HAS(o, discovery_broadcast) && o->discovery_broadcast != nullptr)
    n.discovery_broadcast = o->discovery_broadcast;
  if (DWS_CAPI_HAS(o, vnodes) && o->vnodes != 0) n.vnodes = o->vnodes;
  if (DWS_CAPI_HAS(o, log_user_data) && o->log != nullptr) {
    dws_log_fn log = o->log;
    void* user_data = o->log_user_data;
    n.log = [log, user_data](std::string_view line) {
      const std::string text(line);
      log(text.c_str(), user_data);
    };
  }
  return n;
}

}  // namespace

extern "C" {

void dws_node_options_init(dws_node_options* options) {
  if (options == nullptr) return;
  *options = dws_node_options{};
  options->size = sizeof(dws_node_options);
  options->listen = "127.0.0.1:0";
  options->discovery_port = 37020;
}

dws_status dws_node_start(const dws_node_options* options, dws_node_t** node) {
  return guard([&]() -> Status {
    if (Status s = require({{options, "options"}, {node, "node"}}); !s.ok()) return s;
    auto converted = convert(options);
    if (!converted.ok()) return converted.status();
    auto started = options->peer == nullptr ? dws::Node::create(std::move(converted).value())
                                            : dws::Node::join(std::move(converted).value(), options->peer);
    if (!started.ok()) return started.status();
    auto handle = std::make_unique<dws_node>();
    handle->node = std::move(started).value();
    *node = handle.release();
    return Status::Ok();
  });
}

dws_status dws_node_address(const dws_node_t* node, char** address) {
  return guard([&]() -> Status {
    if (Status s = require({{node, "node"}, {address, "address"}}); !s.ok()) return s;
    *address = dws::capi::malloc_string(node->node->address());
    return Status::Ok();
  });
}

dws_status dws_node_id(const dws_node_t* node, uint64_t* id) {
  return guard([&]() -> Status {
    if (Status s = require({{node, "node"}, {id, "id"}}); !s.ok()) return s;
    *id = node->node->id();
    return Status::Ok();
  });
}

dws_status dws_node_stop(dws_node_t* node) {
  return guard([&]() -> Status {
    if (Status s = require({{node, "node"}}); !s.ok()) return s;
    node->node->stop();
    node->stopped = true;
    return Status::Ok();
  });
}

dws_status dws_node_halt(dws_node_t* node) {
  return guard([&]() -> Status {
    if (Status s = require({{node, "node"}}); !s.ok()) return s;
    node->node->halt();
    node->stopped = true;
    return Status::Ok();
  });
}

void dws_node_free(dws_node_t* node) {
  (void)guard([&]() -> Status {
    delete node;
    return Status::Ok();
  });
}

dws_status dws_node_view(const dws_node_t* node, dws_ring_view** view) {
  return guard([&]() -> Status {
    if (Status s = require({{node, "node"}, {view, "view"}}); !s.ok()) return s;
    if (node->stopped) return stopped_error(node);
    *view = dws::capi::make_ring_view(node->node->view());
    return Status::Ok();
  });
}

dws_status dws_node_record_counts(const dws_node_t* node, dws_record_counts* counts) {
  return guard([&]() -> Status {
    if (Status s = require({{node, "node"}, {counts, "counts"}}); !s.ok()) return s;
    if (node->stopped) return stopped_error(node);
    const dws::RecordCounts held = node->node->record_counts();
    counts->primary = held.primary;
    counts->replica = held.replica;
    return Status::Ok();
  });
}

dws_status dws_node_metrics(const dws_node_t* node, char** text) {
  return guard([&]() -> Status {
    if (Status s = require({{node, "node"}, {text, "text"}}); !s.ok()) return s;
    if (node->stopped) return stopped_error(node);
    *text = dws::capi::malloc_string(node->node->metrics_text());
    return Status::Ok();
  });
}

}  // extern "C"
