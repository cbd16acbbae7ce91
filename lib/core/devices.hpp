// The devices of an account (DESIGN.md section 7, "Several devices per
// account"): every device logged in to an account is listed in one record
// signed by the account's key, and the mailbox keeps an entry until every
// listed device has acknowledged it (or its TTL passed).
//
// Storage, all under the owner's ring key:
//   "d"                              the DeviceList, version = list version,
//                                    never expiring; an update is signed by
//                                    the same key and raises the version.
//   "a/<device>/<id>/<sender>"       one device's acknowledgement of the
//                                    entry m/<id>/<sender>: version 1, the
//                                    owner's AckProof over the ENTRY's sub,
//                                    expiring with the entry.
// Once every listed device holds an "a/" record for an entry, the primary
// turns the entry into its tombstone with one of those proofs (every
// device signs with the account key, so each proof is the owner's).
//
// Pure: no I/O.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/envelope.hpp"
#include "crypto/keys.hpp"
#include "dwhatsapp/status.hpp"

namespace dws::core {

inline constexpr std::string_view kDeviceListSub = "d";
inline constexpr std::string_view kDeviceAckPrefix = "a/";
/// An account lists at most this many devices.
inline constexpr std::size_t kMaxDevices = 16;
/// A device id is this many lowercase hex digits (8 random bytes).
inline constexpr std::size_t kDeviceIdLength = 16;
inline constexpr std::size_t kMaxDeviceNameBytes = 64;

struct Device {
  std::string id;    // kDeviceIdLength lowercase hex digits
  std::string name;  // what the user calls it ("laptop"); UTF-8, no control characters
  std::int64_t added_at = 0;  // unix ms, the adding device's clock

  bool operator==(const Device&) const = default;
};

/// Who may read the mailbox of `owner`: signed by the account's key.
struct DeviceList {
  std::string owner;
  crypto::PublicKey public_key{};  // the account key that signed it
  std::uint64_t version = 0;       // >= 1, raised by every change
  std::vector<Device> devices;     // at most kMaxDevices, ids unique
  crypto::Signature signature{};

  bool operator==(const DeviceList&) const = default;
  /// Whether `device` is listed.
  bool has(std::string_view device) const;
};

/// kInvalidArgument unless `id` is kDeviceIdLength lowercase hex digits.
Status check_device_id(std::string_view id);
/// kInvalidArgument naming the problem: too long, not UTF-8, control characters.
Status check_device_name(std::string_view name);
/// Field checks: owner, version >= 1, at most kMaxDevices, unique ids,
/// names. Does not check the signature.
Status check_device_list(const DeviceList& list);

/// What the owner signs: a tag, owner, public key, version, then each
/// device's id, name and added_at.
std::string device_list_signing_bytes(const DeviceList& list);
/// Sets public_key and signature with the account's secret key.
void sign_device_list(DeviceList& list, const crypto::SecretKey& key);
/// check_device_list, then the signature by list.public_key:
/// kUnauthenticated "the device list of 'bob' is not signed by its key".
Status verify_device_list(const DeviceList& list);

std::string encode_device_list(const DeviceList& list);
/// Strict inverse; kInvalidArgument with the offset for anything else.
Result<DeviceList> decode_device_list(std::string_view bytes);

/// "a/" + device + "/" + id + "/" + sender.
std::string device_ack_sub(std::string_view device, const MessageId& id, std::string_view sender);
struct DeviceAckSub {
  std::string device;
  std::string entry_sub;  // "m/<id>/<sender>"
};
/// kInvalidArgument unless `sub` is exactly that form.
Result<DeviceAckSub> parse_device_ack_sub(std::string_view sub);

}  // namespace dws::core
