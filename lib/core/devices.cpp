#include "core/devices.hpp"

#include <set>

#include "core/account.hpp"
#include "core/nickname.hpp"
#include "core/validation.hpp"
#include "core/wire.hpp"

namespace dws::core {

namespace {

constexpr std::uint8_t kDeviceListFormat = 1;
constexpr std::string_view kDevicesTag{"dws1 devices\0", 13};

void write_body(wire::Writer& w, const DeviceList& l) {
  w.str(l.owner);
  w.fixed(l.public_key);
  w.varint(l.version);
  w.varint(l.devices.size());
  for (const auto& d : l.devices) {
    w.str(d.id);
    w.str(d.name);
    w.varint(static_cast<std::uint64_t>(d.added_at));
  }
}

}  // namespace

bool DeviceList::has(std::string_view device) const {
  for (const auto& d : devices)
    if (d.id == device) return true;
  return false;
}

Status check_device_id(std::string_view id) {
  bool hex = id.size() == kDeviceIdLength;
  for (char c : id) hex = hex && ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
  if (!hex)
    return Status::InvalidArgument("device id '" + std::string(id.substr(0, 40)) + "' is not " +
                                   std::to_string(kDeviceIdLength) + " lowercase hex digits");
  return Status::Ok();
}

Status check_device_name(std::string_view name) {
  // The same rules as a display name: UTF-8, no control characters, 64 bytes.
  if (Status st = check_display_name(name); !st.ok())
    return Status::InvalidArgument("device name: " + st.message());
  return Status::Ok();
}

Status check_device_list(const DeviceList& l) {
  if (Status st = check_nickname(l.owner); !st.ok()) return Status::InvalidArgument("device list owner: " + st.message());
  if (l.version == 0 || l.version > kMaxVersion)
    return Status::InvalidArgument("device list version " + std::to_string(l.version) + " is outside 1 to 2^48");
  if (l.devices.size() > kMaxDevices)
    return Status::InvalidArgument("the device list of '" + l.owner + "' has " + std::to_string(l.devices.size()) +
                                   " devices; an account has at most " + std::to_string(kMaxDevices));
  std::set<std::string_view> ids;
  for (const auto& d : l.devices) {
    if (Status st = check_device_id(d.id); !st.ok()) return st;
    if (Status st = check_device_name(d.name); !st.ok()) return st;
    if (d.added_at < 0) return Status::InvalidArgument("device " + d.id + ": added_at is negative");
    if (!ids.insert(d.id).second) return Status::InvalidArgument("device " + d.id + " is listed twice");
  }
  return Status::Ok();
}

std::string device_list_signing_bytes(const DeviceList& l) {
  wire::Writer w;
  w.raw(kDevicesTag);
  write_body(w, l);
  return std::move(w.out());
}

void sign_device_list(DeviceList& l, const crypto::SecretKey& key) {
  l.public_key = crypto::public_key_of(key);
  l.signature = crypto::sign(key, device_list_signing_bytes(l));
}

Status verify_device_list(const DeviceList& l) {
  if (Status st = check_device_list(l); !st.ok()) return st;
  if (!crypto::verify(l.public_key, device_list_signing_bytes(l), l.signature).ok())
    return Status::Unauthenticated("the device list of '" + l.owner + "' is not signed by its key");
  return Status::Ok();
}

std::string encode_device_list(const DeviceList& l) {
  wire::Writer w;
  w.byte(kDeviceListFormat);
  write_body(w, l);
  w.fixed(l.signature);
  return std::move(w.out());
}

Result<DeviceList> decode_device_list(std::string_view bytes) {
  wire::Reader r(bytes);
  DeviceList l;
  std::uint8_t format = 0;
  std::uint64_t count = 0;
  bool ok = r.byte(format, "device list format") &&
            (format == kDeviceListFormat || r.fail("device list format", "unknown format")) &&
            r.str(l.owner, kMaxNicknameLength, "owner") && r.fixed(l.public_key, "public_key") &&
            r.varint(l.version, "version") && r.varint(count, "device count") &&
            (count <= kMaxDevices || r.fail("device count", "more than the 16 an account may have"));
  for (std::uint64_t i = 0; ok && i < count; ++i) {
    Device d;
    std::uint64_t added = 0;
    ok = r.str(d.id, kDeviceIdLength, "device id") && r.str(d.name, kMaxDeviceNameBytes, "device name") &&
         r.varint(added, "added_at") && (added <= (std::uint64_t{1} << 62) || r.fail("added_at", "out of range"));
    d.added_at = static_cast<std::int64_t>(added);
    l.devices.push_back(std::move(d));
  }
  ok = ok && r.fixed(l.signature, "signature") && r.end("device list");
  if (!ok) return Status::InvalidArgument("device list: " + r.error());
  return l;
}

std::string device_ack_sub(std::string_view device, const MessageId& id, std::string_view sender) {
  std::string s(kDeviceAckPrefix);
  s += device;
  s += '/';
  s += mailbox_entry_sub(id, sender).substr(kMailboxSubPrefix.size());
  return s;
}

Result<DeviceAckSub> parse_device_ack_sub(std::string_view sub) {
  constexpr std::size_t kDeviceAt = kDeviceAckPrefix.size();
  constexpr std::size_t kRestAt = kDeviceAt + kDeviceIdLength + 1;
  if (sub.size() < kRestAt || sub.substr(0, kDeviceAt) != kDeviceAckPrefix || sub[kRestAt - 1] != '/')
    return Status::InvalidArgument("device acknowledgement sub '" + std::string(sub.substr(0, 80)) +
                                   "' is not of the form a/<device>/<32 hex id>/<sender>");
  DeviceAckSub out{std::string(sub.substr(kDeviceAt, kDeviceIdLength)),
                   std::string(kMailboxSubPrefix) + std::string(sub.substr(kRestAt))};
  if (Status st = check_device_id(out.device); !st.ok())
    return Status::InvalidArgument("device acknowledgement sub: " + st.message());
  if (auto entry = parse_entry_sub(out.entry_sub); !entry.ok())
    return Status::InvalidArgument("device acknowledgement sub: " + entry.status().message());
  return out;
}

}  // namespace dws::core
