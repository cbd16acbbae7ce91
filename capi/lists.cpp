#include "lists.hpp"

#include <cstring>

namespace dws::capi {

namespace {

// dws_message.state carries the dws::Delivery value as it is.
static_assert(DWS_DELIVERY_SENDING == static_cast<int>(Delivery::kSending));
static_assert(DWS_DELIVERY_STORED == static_cast<int>(Delivery::kStored));
static_assert(DWS_DELIVERY_DELIVERED == static_cast<int>(Delivery::kDelivered));
static_assert(DWS_DELIVERY_RECEIVED == static_cast<int>(Delivery::kReceived));
static_assert(DWS_DELIVERY_READ == static_cast<int>(Delivery::kRead));
static_assert(DWS_DELIVERY_QUEUED == static_cast<int>(Delivery::kQueued));

// Strings inside lists belong to the list: new[] here, delete[] in its free.
const char* copy(const std::string& s) {
  auto* out = new char[s.size() + 1];
  std::memcpy(out, s.c_str(), s.size() + 1);
  return out;
}

void free_message(const dws_message* m) {
  if (m == nullptr) return;
  delete[] m->id;
  delete[] m->from;
  delete[] m->to;
  delete[] m->text;
  delete m;
}

const dws_message* copy_message(const Message& from) {
  std::unique_ptr<dws_message, decltype(&free_message)> m(new dws_message{}, &free_message);
  m->sent_at = from.sent_at;
  m->received_at = from.received_at;
  m->state = static_cast<int>(from.state);
  m->outgoing = from.outgoing ? 1 : 0;
  m->id = copy(from.id);
  m->from = copy(from.from);
  m->to = copy(from.to);
  m->text = copy(from.text);
  return m.release();
}

void free_contact(const dws_contact* c) {
  if (c == nullptr) return;
  delete[] c->nickname;
  delete[] c->alias;
  delete[] c->public_key;
  delete[] c->display_name;
  delete[] c->safety_number;
  delete c;
}

const dws_contact* copy_contact(const Contact& from) {
  std::unique_ptr<dws_contact, decltype(&free_contact)> c(new dws_contact{}, &free_contact);
  c->key_changed = from.key_changed ? 1 : 0;
  c->nickname = copy(from.nickname);
  c->alias = copy(from.alias);
  c->public_key = copy(from.public_key);
  c->display_name = copy(from.display_name);
  c->safety_number = copy(from.safety_number);
  return c.release();
}

void free_chat(const dws_chat* c) {
  if (c == nullptr) return;
  delete[] c->peer;
  delete[] c->alias;
  delete[] c->display_name;
  free_message(c->last);
  delete c;
}

const dws_chat* copy_chat(const Chat& from) {
  std::unique_ptr<dws_chat, decltype(&free_chat)> c(new dws_chat{}, &free_chat);
  c->unread = from.unread;
  c->peer = copy(from.peer);
  c->alias = copy(from.alias);
  c->display_name = copy(from.display_name);
  if (!from.last.id.empty()) c->last = copy_message(from.last);
  return c.release();
}

void free_device(const dws_device* d) {
  if (d == nullptr) return;
  delete[] d->id;
  delete[] d->name;
  delete d;
}

const dws_device* copy_device(const DeviceInfo& from) {
  std::unique_ptr<dws_device, decltype(&free_device)> d(new dws_device{}, &free_device);
  d->added_at = from.added_at;
  d->this_device = from.this_device ? 1 : 0;
  d->id = copy(from.id);
  d->name = copy(from.name);
  return d.release();
}

void free_string(const char* s) { delete[] s; }
const char* copy_string(const std::string& s) { return copy(s); }

// One shape for every list: items[0..count) of pointers, each released by
// `free_item`; `count` grows with each item made, so a throw mid-way leaves
// a list its free function releases exactly.
template <typename List, typename Item, typename From>
List* make_list(const std::vector<From>& from, const Item* (*copy_item)(const From&), void (*free_list)(List*)) {
  std::unique_ptr<List, void (*)(List*)> list(new List{}, free_list);
  if (from.empty()) return list.release();
  auto* items = new const Item*[from.size()]();
  list->items = items;
  for (const From& f : from) {
    items[list->count] = copy_item(f);
    list->count += 1;
  }
  return list.release();
}

template <typename List, typename Free>
void free_list(List* list, Free free_item) {
  if (list == nullptr) return;
  for (std::size_t i = 0; i < list->count; ++i) free_item(list->items[i]);
  delete[] list->items;
  delete list;
}

dws_peer copy_peer(const PeerInfo& p) { return dws_peer{p.id, copy(p.address)}; }

}  // namespace

dws_message borrow(const Message& m) {
  dws_message out{};
  out.id = m.id.c_str();
  out.from = m.from.c_str();
  out.to = m.to.c_str();
  out.text = m.text.c_str();
  out.sent_at = m.sent_at;
  out.state = static_cast<int>(m.state);
  out.outgoing = m.outgoing ? 1 : 0;
  out.received_at = m.received_at;
  return out;
}

dws_message_list* make_message_list(const std::vector<Message>& messages) {
  return make_list<dws_message_list, dws_message, Message>(messages, &copy_message, &dws_message_list_free);
}

dws_contact_list* make_contact_list(const std::vector<Contact>& contacts) {
  return make_list<dws_contact_list, dws_contact, Contact>(contacts, &copy_contact, &dws_contact_list_free);
}

dws_chat_list* make_chat_list(const std::vector<Chat>& chats) {
  return make_list<dws_chat_list, dws_chat, Chat>(chats, &copy_chat, &dws_chat_list_free);
}

dws_device_list* make_device_list(const std::vector<DeviceInfo>& devices) {
  return make_list<dws_device_list, dws_device, DeviceInfo>(devices, &copy_device, &dws_device_list_free);
}

dws_string_list* make_string_list(const std::vector<std::string>& strings) {
  return make_list<dws_string_list, char, std::string>(strings, &copy_string, &dws_string_list_free);
}

dws_ring_view* make_ring_view(const RingView& view) {
  std::unique_ptr<dws_ring_view, void (*)(dws_ring_view*)> out(new dws_ring_view{}, &dws_ring_view_free);
  out->self = copy_peer(view.self);
  if (view.predecessor) {
    out->has_predecessor = 1;
    out->predecessor = copy_peer(*view.predecessor);
  }
  if (!view.successors.empty()) {
    auto* successors = new dws_peer[view.successors.size()]();
    out->successors = successors;
    for (const PeerInfo& p : view.successors) successors[out->successors_len++] = copy_peer(p);
  }
  if (!view.fingers.empty()) {
    auto* fingers = new dws_peer[view.fingers.size()]();
    out->fingers = fingers;
    for (const auto& f : view.fingers) {
      if (f) fingers[out->fingers_len] = copy_peer(*f);
      out->fingers_len += 1;
    }
  }
  return out.release();
}

const dws_contact* copy_one_contact(const Contact& from) { return copy_contact(from); }

}  // namespace dws::capi

extern "C" {

void dws_message_list_free(dws_message_list* list) { dws::capi::free_list(list, dws::capi::free_message); }
void dws_contact_list_free(dws_contact_list* list) { dws::capi::free_list(list, dws::capi::free_contact); }
void dws_contact_free(dws_contact* contact) { dws::capi::free_contact(contact); }
void dws_chat_list_free(dws_chat_list* list) { dws::capi::free_list(list, dws::capi::free_chat); }
void dws_device_list_free(dws_device_list* list) { dws::capi::free_list(list, dws::capi::free_device); }
void dws_string_list_free(dws_string_list* list) { dws::capi::free_list(list, dws::capi::free_string); }

void dws_ring_view_free(dws_ring_view* view) {
  if (view == nullptr) return;
  delete[] view->self.address;
  delete[] view->predecessor.address;
  for (std::size_t i = 0; i < view->successors_len; ++i) delete[] view->successors[i].address;
  delete[] view->successors;
  for (std::size_t i = 0; i < view->fingers_len; ++i) delete[] view->fingers[i].address;
  delete[] view->fingers;
  delete view;
}

}  // extern "C"
