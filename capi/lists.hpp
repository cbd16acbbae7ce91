// C copies of the C++ API's values: the structs dws_*_list and
// dws_ring_view hand out, each released by its own dws_*_free().
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "dwhatsapp/client.hpp"
#include "dwhatsapp/dwhatsapp.h"
#include "dwhatsapp/types.hpp"

namespace dws::capi {

/// A dws_message whose strings point into `m`: valid while `m` is.
dws_message borrow(const Message& m);

// Each builds a complete C copy or throws std::bad_alloc (leaking nothing).
dws_message_list* make_message_list(const std::vector<Message>& messages);
dws_contact_list* make_contact_list(const std::vector<Contact>& contacts);
/// One contact, for the caller to dws_contact_free().
const dws_contact* copy_one_contact(const Contact& from);
dws_chat_list* make_chat_list(const std::vector<Chat>& chats);
dws_device_list* make_device_list(const std::vector<DeviceInfo>& devices);
dws_string_list* make_string_list(const std::vector<std::string>& strings);
dws_ring_view* make_ring_view(const RingView& view);

}  // namespace dws::capi
