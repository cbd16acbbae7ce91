#include "net/devices_json.hpp"

#include <rapidjson/document.h>

#include "crypto/encoding.hpp"
#include "net/json_writer.hpp"

namespace dws::net {

namespace {

Status bad(const std::string& field, const std::string& why) {
  return Status::InvalidArgument("device list: field '" + field + "' " + why);
}

Result<std::string> text(const rapidjson::Value& obj, const std::string& prefix, const char* name, std::size_t max) {
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd()) return bad(prefix + name, "is missing");
  if (!it->value.IsString()) return bad(prefix + name, "must be a string");
  if (it->value.GetStringLength() > max) return bad(prefix + name, "must have at most " + std::to_string(max) + " bytes");
  return std::string(it->value.GetString(), it->value.GetStringLength());
}

template <std::size_t N>
Result<std::array<std::uint8_t, N>> base64(const rapidjson::Value& obj, const char* name) {
  auto t = text(obj, "", name, N * 2 + 8);
  if (!t.ok()) return t.status();
  return crypto::from_base64_fixed<N>(*t, std::string("device list: field '") + name + "'");
}

Result<std::uint64_t> number(const rapidjson::Value& obj, const std::string& prefix, const char* name) {
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd()) return bad(prefix + name, "is missing");
  if (!it->value.IsUint64()) return bad(prefix + name, "must be a non-negative integer");
  return it->value.GetUint64();
}

}  // namespace

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
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseIterativeFlag>(body.data(), body.size());
  if (doc.HasParseError()) return Status::InvalidArgument("device list: body is not valid JSON");
  if (!doc.IsObject()) return Status::InvalidArgument("device list: body must be a JSON object");
  core::DeviceList l;
  auto owner = text(doc, "", "owner", 64);
  if (!owner.ok()) return owner.status();
  l.owner = std::move(owner).value();
  auto key = base64<crypto::kPublicKeySize>(doc, "public_key");
  if (!key.ok()) return key.status();
  l.public_key = *key;
  auto version = number(doc, "", "version");
  if (!version.ok()) return version.status();
  l.version = *version;
  auto devices = doc.FindMember("devices");
  if (devices == doc.MemberEnd() || !devices->value.IsArray())
    return bad("devices", "must be an array of {id, name, added_at} objects");
  if (devices->value.Size() > core::kMaxDevices)
    return bad("devices", "has " + std::to_string(devices->value.Size()) + " entries; an account has at most " +
                              std::to_string(core::kMaxDevices) + " devices");
  for (rapidjson::SizeType i = 0; i < devices->value.Size(); ++i) {
    const auto& v = devices->value[i];
    const std::string at = "devices[" + std::to_string(i) + "].";
    if (!v.IsObject()) return bad(at.substr(0, at.size() - 1), "must be an object");
    core::Device d;
    auto id = text(v, at, "id", core::kDeviceIdLength);
    if (!id.ok()) return id.status();
    d.id = std::move(id).value();
    auto name = text(v, at, "name", core::kMaxDeviceNameBytes);
    if (!name.ok()) return name.status();
    d.name = std::move(name).value();
    auto added = v.FindMember("added_at");
    if (added == v.MemberEnd() || !added->value.IsInt64() || added->value.GetInt64() < 0)
      return bad(at + "added_at", "must be a non-negative integer (unix ms)");
    d.added_at = added->value.GetInt64();
    l.devices.push_back(std::move(d));
  }
  auto sig = base64<crypto::kSignatureSize>(doc, "signature");
  if (!sig.ok()) return sig.status();
  l.signature = *sig;
  if (Status st = core::check_device_list(l); !st.ok()) return st;
  return l;
}

}  // namespace dws::net
