// The JSON form of a device list (GET and PUT /v1/devices), written and
// read here once for the node and the client:
//   {"owner": "bob", "public_key": <base64>, "version": 3,
//    "devices": [{"id": <16 hex>, "name": "laptop", "added_at": <unix ms>}],
//    "signature": <base64>}
#pragma once

#include <string>
#include <string_view>

#include "core/devices.hpp"
#include "dwhatsapp/status.hpp"

namespace dws::net {

std::string device_list_json(const core::DeviceList& list);
/// Strict: every field present with its type and encoding, no device over
/// the limits (kInvalidArgument "device list: field 'devices[2].id' ...").
/// Does not check the signature (core::verify_device_list does).
Result<core::DeviceList> parse_device_list_json(std::string_view body);

}  // namespace dws::net
