// dws_client_*: a dws::Client behind a C handle.
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "dwhatsapp/client.hpp"
#include "dwhatsapp/dwhatsapp.h"
#include "guard.hpp"
#include "lists.hpp"

// The handle owns the client. `receiving_mu` makes a restart of the
// receiver (stop, then start with new callbacks) one step for other threads.
struct dws_client {
  std::unique_ptr<dws::Client> client;
  std::mutex receiving_mu;
};

namespace {

using dws::Status;
using dws::capi::guard;
using dws::capi::or_empty;
using dws::capi::require;

constexpr std::size_t kCoreSize = offsetof(dws_client_options, servers_len) + sizeof(std::size_t);

dws::Result<dws::ClientOptions> convert(const dws_client_options* o) {
  if (o->size < kCoreSize)
    return Status::InvalidArgument("options->size is " + std::to_string(o->size) + ", less than the " +
                                   std::to_string(kCoreSize) + " bytes of dws_client_options' first fields: fill " +
                                   "it with dws_client_options_init()");
  if (o->data_dir == nullptr || o->data_dir[0] == '\0')
    return Status::InvalidArgument("options->data_dir is not set: name the directory for the client's store");
  if (o->servers_len > 0 && o->servers == nullptr)
    return Status::InvalidArgument("options->servers is NULL but options->servers_len is " +
                                   std::to_string(o->servers_len) + ": pass the array or set servers_len to 0");
  dws::ClientOptions c;
  c.data_dir = o->data_dir;
  for (std::size_t i = 0; i < o->servers_len; ++i) {
    if (o->servers[i] == nullptr)
      return Status::InvalidArgument("options->servers[" + std::to_string(i) + "] is NULL: pass \"host:port\"");
    c.servers.emplace_back(o->servers[i]);
  }
  if (DWS_CAPI_HAS(o, ring_name) && o->ring_name != nullptr) c.ring_name = o->ring_name;
  if (DWS_CAPI_HAS(o, discovery_port)) c.discovery_port = o->discovery_port;
  if (DWS_CAPI_HAS(o, tls_ca)) c.tls_ca = or_empty(o->tls_ca);
  if (DWS_CAPI_HAS(o, read_receipts)) c.read_receipts = o->read_receipts != 0;
  if (DWS_CAPI_HAS(o, request_timeout_ms) && o->request_timeout_ms != 0) c.request_timeout_ms = o->request_timeout_ms;
  if (DWS_CAPI_HAS(o, poll_wait_s)) c.poll_wait_s = o->poll_wait_s;
  if (DWS_CAPI_HAS(o, kdf_opslimit)) c.kdf_opslimit = o->kdf_opslimit;
  if (DWS_CAPI_HAS(o, kdf_memlimit)) c.kdf_memlimit = o->kdf_memlimit;
  if (DWS_CAPI_HAS(o, discovery_broadcast) && o->discovery_broadcast != nullptr)
    c.discovery_broadcast = o->discovery_broadcast;
  if (DWS_CAPI_HAS(o, device_name)) c.device_name = or_empty(o->device_name);
  return c;
}

// The C callbacks as the C++ receiver's handlers; each builds its C view
// of the message on the stack for the duration of the call.
dws::ReceiveHandlers handlers(const dws_receive_callbacks& cb) {
  dws::ReceiveHandlers h;
  void* user_data = cb.user_data;
  if (dws_message_fn fn = cb.on_message) {
    h.on_message = [fn, user_data](const dws::Message& m) {
      const dws_message view = dws::capi::borrow(m);
      fn(&view, user_data);
    };
  }
  if (dws_message_fn fn = cb.on_state) {
    h.on_state = [fn, user_data](const dws::Message& m) {
      const dws_message view = dws::capi::borrow(m);
      fn(&view, user_data);
    };
  }
  if (dws_error_fn fn = cb.on_error) {
    h.on_error = [fn, user_data](const Status& s) {
      const dws_status code = dws::capi::report(s);
      fn(code, s.message().c_str(), user_data);
    };
  }
  return h;
}

dws_status start(dws_client_t* client, const dws_receive_callbacks& callbacks) {
  return guard([&]() -> Status {
    std::lock_guard lock(client->receiving_mu);
    client->client->stop_receiving();
    return client->client->start_receiving(handlers(callbacks));
  });
}

}  // namespace

extern "C" {

void dws_client_options_init(dws_client_options* options) {
  if (options == nullptr) return;
  *options = dws_client_options{};
  options->size = sizeof(dws_client_options);
  options->discovery_port = 37020;
  options->read_receipts = 1;
  options->request_timeout_ms = 5000;
  options->poll_wait_s = 20;
}

dws_status dws_client_open(const dws_client_options* options, dws_client_t** client) {
  return guard([&]() -> Status {
    if (Status s = require({{options, "options"}, {client, "client"}}); !s.ok()) return s;
    auto converted = convert(options);
    if (!converted.ok()) return converted.status();
    auto opened = dws::Client::open(std::move(converted).value());
    if (!opened.ok()) return opened.status();
    auto handle = std::make_unique<dws_client>();
    handle->client = std::move(opened).value();
    *client = handle.release();
    return Status::Ok();
  });
}

void dws_client_free(dws_client_t* client) {
  (void)guard([&]() -> Status {
    delete client;
    return Status::Ok();
  });
}

dws_status dws_client_register(dws_client_t* client, const char* nickname, const char* password) {
  return dws_client_register_named(client, nickname, password, nullptr);
}

dws_status dws_client_register_named(dws_client_t* client, const char* nickname, const char* password,
                                     const char* display_name) {
  return guard([&]() -> Status {
    if (Status s = require({{client, "client"}, {nickname, "nickname"}, {password, "password"}}); !s.ok()) return s;
    return client->client->register_account(nickname, password, or_empty(display_name));
  });
}

dws_status dws_client_login(dws_client_t* client, const char* nickname, const char* password) {
  return guard([&]() -> Status {
    if (Status s = require({{client, "client"}, {nickname, "nickname"}, {password, "password"}}); !s.ok()) return s;
    return client->client->login(nickname, password);
  });
}

dws_status dws_client_logout(dws_client_t* client) {
  return guard([&]() -> Status {
    if (Status s = require({{client, "client"}}); !s.ok()) return s;
    std::lock_guard lock(client->receiving_mu);
    return client->client->logout();
  });
}

dws_status dws_client_whoami(const dws_client_t* client, char** nickname) {
  return guard([&]() -> Status {
    if (Status s = require({{client, "client"}, {nickname, "nickname"}}); !s.ok()) return s;
    auto who = client->client->whoami();
    *nickname = who ? dws::capi::malloc_string(*who) : nullptr;
    return Status::Ok();
  });
}

dws_status dws_client_devices(dws_client_t* client, dws_device_list** devices) {
  return guard([&]() -> Status {
    if (Status s = require({{client, "client"}, {devices, "devices"}}); !s.ok()) return s;
    auto list = client->client->devices();
    if (!list.ok()) return list.status();
    *devices = dws::capi::make_device_list(*list);
    return Status::Ok();
  });
}

dws_status dws_client_remove_device(dws_client_t* client, const char* device_id) {
  return guard([&]() -> Status {
    if (Status s = require({{client, "client"}, {device_id, "device_id"}}); !s.ok()) return s;
    return client->client->remove_device(device_id);
  });
}

dws_status dws_client_device_id(const dws_client_t* client, char** device_id) {
  return guard([&]() -> Status {
    if (Status s = require({{client, "client"}, {device_id, "device_id"}}); !s.ok()) return s;
    *device_id = dws::capi::malloc_string(client->client->device_id());
    return Status::Ok();
  });
}

dws_status dws_client_change_password(dws_client_t* client, const char* old_password, const char* new_password) {
  return guard([&]() -> Status {
    if (Status s = require({{client, "client"}, {old_password, "old_password"}, {new_password, "new_password"}});
        !s.ok())
      return s;
    return client->client->change_password(old_password, new_password);
  });
}

dws_status dws_client_delete_account(dws_client_t* client, const char* password) {
  return guard([&]() -> Status {
    if (Status s = require({{client, "client"}, {password, "password"}}); !s.ok()) return s;
    std::lock_guard lock(client->receiving_mu);
    return client->client->delete_account(password);
  });
}

dws_status dws_client_send(dws_client_t* client, const char* to, const char* text, char** message_id) {
  return guard([&]() -> Status {
    if (Status s = require({{client, "client"}, {to, "to"}, {text, "text"}, {message_id, "message_id"}}); !s.ok())
      return s;
    auto id = client->client->send(to, text);
    if (!id.ok()) return id.status();
    *message_id = dws::capi::malloc_string(*id);
    return Status::Ok();
  });
}

void dws_receive_callbacks_init(dws_receive_callbacks* callbacks) {
  if (callbacks == nullptr) return;
  *callbacks = dws_receive_callbacks{};
  callbacks->size = sizeof(dws_receive_callbacks);
}

dws_status dws_client_start_receiving(dws_client_t* client, dws_message_fn on_message, void* user_data) {
  if (client == nullptr) return dws::capi::report(dws::capi::null_argument("client"));
  dws_receive_callbacks callbacks;
  dws_receive_callbacks_init(&callbacks);
  callbacks.on_message = on_message;
  callbacks.user_data = user_data;
  return start(client, callbacks);
}

dws_status dws_client_start_receiving_with(dws_client_t* client, const dws_receive_callbacks* callbacks) {
  if (Status s = require({{client, "client"}, {callbacks, "callbacks"}}); !s.ok()) return dws::capi::report(s);
  constexpr std::size_t kFull = offsetof(dws_receive_callbacks, user_data) + sizeof(void*);
  if (callbacks->size < kFull)
    return dws::capi::report(Status::InvalidArgument(
        "callbacks->size is " + std::to_string(callbacks->size) + ", less than the " + std::to_string(kFull) +
        " bytes of dws_receive_callbacks: fill it with dws_receive_callbacks_init()"));
  return start(client, *callbacks);
}

void dws_client_stop_receiving(dws_client_t* client) {
  if (client == nullptr) return;
  (void)guard([&]() -> Status {
    std::lock_guard lock(client->receiving_mu);
    client->client->stop_receiving();
    return Status::Ok();
  });
}

dws_status dws_client_receive(dws_client_t* client, int wait_s, dws_message_list** messages) {
  return guard([&]() -> Status {
    if (Status s = require({{client, "client"}, {messages, "messages"}}); !s.ok()) return s;
    if (wait_s < 0 || wait_s > 60)
      return Status::InvalidArgument("wait_s is " + std::to_string(wait_s) + ": use 0 to 60 seconds");
    auto got = client->client->receive(wait_s);
    if (!got.ok()) return got.status();
    *messages = dws::capi::make_message_list(*got);
    return Status::Ok();
  });
}

dws_status dws_client_add_contact(dws_client_t* client, const char* nickname, const char* alias) {
  return guard([&]() -> Status {
    if (Status s = require({{client, "client"}, {nickname, "nickname"}}); !s.ok()) return s;
    return client->client->add_contact(nickname, or_empty(alias));
  });
}

dws_status dws_client_contacts(const dws_client_t* client, dws_contact_list** contacts) {
  return guard([&]() -> Status {
    if (Status s = require({{client, "client"}, {contacts, "contacts"}}); !s.ok()) return s;
    auto list = client->client->contacts();
    if (!list.ok()) return list.status();
    *contacts = dws::capi::make_contact_list(*list);
    return Status::Ok();
  });
}

dws_status dws_client_remove_contact(dws_client_t* client, const char* nickname) {
  return guard([&]() -> Status {
    if (Status s = require({{client, "client"}, {nickname, "nickname"}}); !s.ok()) return s;
    return client->client->remove_contact(nickname);
  });
}

dws_status dws_client_chats(const dws_client_t* client, dws_chat_list** chats) {
  return guard([&]() -> Status {
    if (Status s = require({{client, "client"}, {chats, "chats"}}); !s.ok()) return s;
    auto list = client->client->chats();
    if (!list.ok()) return list.status();
    *chats = dws::capi::make_chat_list(*list);
    return Status::Ok();
  });
}

dws_status dws_client_history(const dws_client_t* client, const char* peer, const char* before, int limit,
                              dws_message_list** messages) {
  return guard([&]() -> Status {
    if (Status s = require({{client, "client"}, {peer, "peer"}, {messages, "messages"}}); !s.ok()) return s;
    auto list = client->client->history(peer, or_empty(before), limit <= 0 ? 50 : limit);
    if (!list.ok()) return list.status();
    *messages = dws::capi::make_message_list(*list);
    return Status::Ok();
  });
}

dws_status dws_client_mark_read(dws_client_t* client, const char* peer) {
  return guard([&]() -> Status {
    if (Status s = require({{client, "client"}, {peer, "peer"}}); !s.ok()) return s;
    return client->client->mark_read(peer);
  });
}

dws_status dws_client_servers(const dws_client_t* client, dws_string_list** servers) {
  return guard([&]() -> Status {
    if (Status s = require({{client, "client"}, {servers, "servers"}}); !s.ok()) return s;
    *servers = dws::capi::make_string_list(client->client->servers());
    return Status::Ok();
  });
}

dws_status dws_client_check_user(dws_client_t* client, const char* name, dws_contact** contact) {
  return guard([&]() -> Status {
    if (Status s = require({{client, "client"}, {name, "name"}, {contact, "contact"}}); !s.ok()) return s;
    auto c = client->client->check_user(name);
    if (!c.ok()) return c.status();
    *contact = const_cast<dws_contact*>(dws::capi::copy_one_contact(*c));
    return Status::Ok();
  });
}

dws_status dws_client_resolve(const dws_client_t* client, const char* name, char** nickname) {
  return guard([&]() -> Status {
    if (Status s = require({{client, "client"}, {name, "name"}, {nickname, "nickname"}}); !s.ok()) return s;
    auto n = client->client->resolve(name);
    if (!n.ok()) return n.status();
    *nickname = dws::capi::malloc_string(*n);
    return Status::Ok();
  });
}

dws_status dws_client_safety_number(const dws_client_t* client, char** number) {
  return guard([&]() -> Status {
    if (Status s = require({{client, "client"}, {number, "number"}}); !s.ok()) return s;
    const std::string n = client->client->safety_number();
    *number = n.empty() ? nullptr : dws::capi::malloc_string(n);
    return Status::Ok();
  });
}

dws_status dws_safety_number_of(const char* public_key, char** number) {
  return guard([&]() -> Status {
    if (Status s = require({{public_key, "public_key"}, {number, "number"}}); !s.ok()) return s;
    const std::string n = dws::safety_number_of(public_key);
    if (n.empty()) return Status::InvalidArgument("public_key is not the base64 of an Ed25519 public key");
    *number = dws::capi::malloc_string(n);
    return Status::Ok();
  });
}

dws_status dws_client_set_read_receipts(dws_client_t* client, int on) {
  return guard([&]() -> Status {
    if (Status s = require({{client, "client"}}); !s.ok()) return s;
    return client->client->set_read_receipts(on != 0);
  });
}

dws_status dws_client_read_receipts(const dws_client_t* client, int* on) {
  return guard([&]() -> Status {
    if (Status s = require({{client, "client"}, {on, "on"}}); !s.ok()) return s;
    *on = client->client->read_receipts() ? 1 : 0;
    return Status::Ok();
  });
}

dws_status dws_client_reachable(const dws_client_t* client, int* reachable) {
  return guard([&]() -> Status {
    if (Status s = require({{client, "client"}, {reachable, "reachable"}}); !s.ok()) return s;
    *reachable = client->client->reachable() ? 1 : 0;
    return Status::Ok();
  });
}

size_t dws_client_max_text_bytes(void) { return dws::Client::max_text_bytes(); }

}  // extern "C"
