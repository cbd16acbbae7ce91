#include "net/devices_json.hpp"

#include "net/json_fields.hpp"
#include "net/json_writer.hpp"

namespace dws::net {

namespace {

constexpr auto describe_device = [](auto& v, auto& d) {
  v.text("id", d.id, core::kDeviceIdLength);
  v.text("name", d.name, core::kMaxDeviceNameBytes);
  v.int64("added_at", d.added_at, 0);
};

constexpr auto describe_device_list = [](auto& v, auto& l) {
  v.text("owner", l.owner, 64);
  v.fixed("public_key", l.public_key);
  v.uint64("version", l.version);
  v.list("devices", l.devices, core::kMaxDevices, describe_device);
  v.fixed("signature", l.signature);
};

}  // namespace

std::string device_list_json(const core::DeviceList& l) {
  return to_json([&](JsonWriter& w) { write_object(w, describe_device_list, l); });
}

Result<core::DeviceList> parse_device_list_json(std::string_view body) {
  Fields f("device list");
  if (!f.parse(body)) return f.status();
  auto l = read_object<core::DeviceList>(f, f.root(), "", describe_device_list);
  if (f.failed()) return f.status();
  if (Status st = core::check_device_list(l); !st.ok()) return st;
  return l;
}

}  // namespace dws::net
