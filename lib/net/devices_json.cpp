#include "net/devices_json.hpp"

#include "crypto/encoding.hpp"
#include "net/json_fields.hpp"
#include "net/json_writer.hpp"

namespace dws::net {

std::string device_list_json(const core::DeviceList& l) {
  return to_json([&](JsonWriter& w) {
    w.StartObject();
    w.Key("owner");
    write_string(w, l.owner);
    w.Key("public_key");
    write_string(w, crypto::to_base64(l.public_key));
    w.Key("version");
    w.Uint64(l.version);
    w.Key("devices");
    w.StartArray();
    for (const auto& d : l.devices) {
      w.StartObject();
      w.Key("id");
      write_string(w, d.id);
      w.Key("name");
      write_string(w, d.name);
      w.Key("added_at");
      w.Int64(d.added_at);
      w.EndObject();
    }
    w.EndArray();
    w.Key("signature");
    write_string(w, crypto::to_base64(l.signature));
    w.EndObject();
  });
}

Result<core::DeviceList> parse_device_list_json(std::string_view body) {
  Fields f("device list");
  if (!f.parse(body)) return f.status();
  const JsonValue& o = f.root();
  core::DeviceList l;
  l.owner = f.text(o, "", "owner", 64);
  l.public_key = f.fixed<crypto::kPublicKeySize>(o, "", "public_key");
  l.version = f.uint64(o, "", "version");
  f.each(o, "", "devices", core::kMaxDevices, [&](const JsonValue& v, const std::string& at) {
    if (!f.object(v, at, "an {id, name, added_at} object")) return;
    core::Device d;
    d.id = f.text(v, at, "id", core::kDeviceIdLength);
    d.name = f.text(v, at, "name", core::kMaxDeviceNameBytes);
    d.added_at = f.int64(v, at, "added_at", 0);
    l.devices.push_back(std::move(d));
  });
  l.signature = f.fixed<crypto::kSignatureSize>(o, "", "signature");
  if (f.failed()) return f.status();
  if (Status st = core::check_device_list(l); !st.ok()) return st;
  return l;
}

}  // namespace dws::net
