// The ring messages: ping, state, closest, notify, leave, info, and the
// {"id","address"} peers they carry.
#include <fmt/format.h>

#include "core/id.hpp"
#include "net/address.hpp"
#include "net/json_codec_parts.hpp"

namespace dws::net::codec {

namespace {

constexpr std::size_t kMaxFingers = 64;
constexpr std::size_t kMaxRingName = 64;

constexpr auto describe_info = [](auto& v, auto& i) {
  v.string("ring", i.ring_name, kMaxRingName);
  v.integer("id_bits", i.id_bits, 64, 64);
  v.integer("replicas", i.replicas, 1, 64);
  v.integer("successor_list", i.successor_list, 1, static_cast<int>(kMaxListEntries));
  v.integer("stabilize_ms", i.stabilize_ms, 1, 3600 * 1000);
  v.boolean("open", i.open_ring);
};

constexpr auto describe_closest = [](auto& v, auto& r) {
  v.boolean("done", r.done);
  v.peer("node", r.node);
};

constexpr auto describe_leave = [](auto& v, auto& r) {
  v.peer("leaving", r.leaving);
  v.optional_peer("predecessor", r.predecessor);
  v.peers("successors", r.successors);
};

}  // namespace

std::string Reader::address(const Value& obj, std::string_view path, const char* name) {
  const Value* v = member(obj, path, name);
  if (!v) return {};
  if (!v->IsString()) {
    fail(join_path(path, name), fmt::format("must be a \"host:port\" string, got {}", type_name(*v)));
    return {};
  }
  std::string s(v->GetString(), v->GetStringLength());
  // A ring position past a node's first is "host:port#i" (core::position_address).
  const auto hp = parse_host_port(core::host_of(s), "address");
  if (!hp.ok() || core::position_of(s) < 0)
    fail(join_path(path, name), fmt::format("must be host:port or host:port#<1..999>, got {}", quote(s)));
  return s;
}

PeerInfo Reader::peer(const Value& v, std::string_view path) {
  PeerInfo p;
  if (!object(v, path, "an {\"id\",\"address\"} object")) return p;
  p.id = id(v, path, "id");
  p.address = address(v, path, "address");
  return p;
}

PeerInfo Reader::peer_member(const Value& obj, std::string_view path, const char* name) {
  const Value* v = member(obj, path, name);
  if (!v) return {};
  return peer(*v, join_path(path, name));
}

std::optional<PeerInfo> Reader::optional_peer(const Value& obj, std::string_view path, const char* name) {
  const Value* v = member(obj, path, name);
  if (!v || v->IsNull()) return std::nullopt;
  return peer(*v, join_path(path, name));
}

std::vector<PeerInfo> Reader::peers(const Value& obj, std::string_view path, const char* name) {
  std::vector<PeerInfo> out;
  each(obj, path, name, kMaxListEntries, [&](const Value& v, const std::string& at) { out.push_back(peer(v, at)); });
  return out;
}

void write_peer_fields(Writer& w, const PeerInfo& p) {
  w.Key("id");
  write_string(w, core::to_hex(p.id));
  w.Key("address");
  write_string(w, p.address);
}

void write_peer(Writer& w, const PeerInfo& p) {
  w.StartObject();
  write_peer_fields(w, p);
  w.EndObject();
}

void write_optional_peer(Writer& w, const std::optional<PeerInfo>& p) {
  if (p) write_peer(w, *p);
  else w.Null();
}

void write_peers(Writer& w, const std::vector<PeerInfo>& peers) {
  w.StartArray();
  for (const auto& p : peers) write_peer(w, p);
  w.EndArray();
}

void write_body(Writer& w, const core::Ack&) {
  w.StartObject();
  w.EndObject();
}
Result<core::Ack> read_body(const Value&, Type<core::Ack>) { return core::Ack{}; }

void write_body(Writer& w, const core::PingResp& r) { write_peer(w, r.self); }
Result<core::PingResp> read_body(const Value& v, Type<core::PingResp>) {
  Reader r("ping response");
  core::PingResp out;
  out.self = r.peer(v, "");
  return r.finish(out);
}

void write_body(Writer& w, const core::StateResp& r) {
  w.StartObject();
  write_peer_fields(w, r.view.self);
  w.Key("predecessor");
  write_optional_peer(w, r.view.predecessor);
  w.Key("successors");
  write_peers(w, r.view.successors);
  w.Key("fingers");
  w.StartArray();
  for (const auto& f : r.view.fingers) write_optional_peer(w, f);
  w.EndArray();
  if (r.view.records) {
    w.Key("records");
    w.StartObject();
    w.Key("primary");
    w.Uint64(r.view.records->primary);
    w.Key("replica");
    w.Uint64(r.view.records->replica);
    w.EndObject();
  }
  w.EndObject();
}
Result<core::StateResp> read_body(const Value& v, Type<core::StateResp>) {
  Reader r("state response");
  core::StateResp out;
  out.view.self = r.peer(v, "");
  out.view.predecessor = r.optional_peer(v, "", "predecessor");
  out.view.successors = r.peers(v, "", "successors");
  if (const Value* fingers = r.array(v, "", "fingers", kMaxFingers)) {
    for (rapidjson::SizeType i = 0; i < fingers->Size() && !r.failed(); ++i) {
      const Value& f = (*fingers)[i];
      if (f.IsNull()) out.view.fingers.emplace_back(std::nullopt);
      else out.view.fingers.emplace_back(r.peer(f, fmt::format("fingers[{}]", i)));
    }
  }
  // Optional: a node without storage (the simulator's) does not report it.
  if (!r.failed() && v.IsObject()) {
    const auto it = v.FindMember("records");
    if (it != v.MemberEnd() && !it->value.IsNull()) {
      RecordCounts counts;
      counts.primary = r.uint64(it->value, "records", "primary");
      counts.replica = r.uint64(it->value, "records", "replica");
      out.view.records = counts;
    }
  }
  return r.finish(out);
}

void write_body(Writer& w, const core::ClosestResp& r) {
  write_described(w, r, describe_closest);
}
Result<core::ClosestResp> read_body(const Value& v, Type<core::ClosestResp>) {
  return read_described<core::ClosestResp>(v, "closest response", describe_closest);
}

void write_body(Writer& w, const core::InfoResp& r) {
  write_object(w, describe_info, r.info);
}
Result<core::InfoResp> read_body(const Value& v, Type<core::InfoResp>) {
  Reader r("info response");
  core::InfoResp out;
  FieldReader fields(r, v);
  describe_info(fields, out.info);
  return r.finish(out);
}

void encode_ping(const core::PingReq&, WireRequest&) {}
Result<core::PingReq> decode_ping(const WireRequest&) { return core::PingReq{}; }

void encode_state(const core::StateReq& req, WireRequest& wire) {
  if (req.with_fingers) wire.query.emplace_back("fingers", "1");
}
Result<core::StateReq> decode_state(const WireRequest& wire) {
  core::StateReq req;
  if (Status s = flag_param(wire, "ring/state request", "fingers", req.with_fingers); !s.ok()) return s;
  return req;
}

void encode_closest(const core::ClosestReq& req, WireRequest& wire) {
  wire.query.emplace_back("key", core::to_hex(req.key));
  if (!req.exclude.empty()) {
    std::string list;
    for (Id id : req.exclude) {
      if (!list.empty()) list += ',';
      list += core::to_hex(id);
    }
    wire.query.emplace_back("exclude", std::move(list));
  }
}
Result<core::ClosestReq> decode_closest(const WireRequest& wire) {
  core::ClosestReq req;
  if (Status s = id_param(wire, "ring/closest request", "key", req.key); !s.ok()) return s;
  if (const std::string* ex = wire.param("exclude"); ex && !ex->empty()) {
    std::string_view rest = *ex;
    while (true) {
      const auto comma = rest.find(',');
      const std::string_view item = rest.substr(0, comma);
      const auto id = core::parse_hex(item);
      if (!id)
        return Status::InvalidArgument(fmt::format(
            "ring/closest request: parameter 'exclude' must be comma-separated 16-hex-digit ids, got {}",
            quote(item)));
      if (req.exclude.size() >= kMaxListEntries)
        return Status::InvalidArgument(
            fmt::format("ring/closest request: parameter 'exclude' has more than {} ids", kMaxListEntries));
      req.exclude.push_back(*id);
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  return req;
}

void encode_notify(const core::NotifyReq& req, WireRequest& wire) {
  wire.body = to_json([&](Writer& w) { write_peer(w, req.from); });
}
Result<core::NotifyReq> decode_notify(const WireRequest& wire) {
  Reader r("ring/notify request");
  if (!r.parse(wire.body)) return r.status();
  const Value& doc = r.root();
  core::NotifyReq req;
  req.from = r.peer(doc, "");
  return r.finish(req);
}

void encode_leave(const core::LeaveReq& req, WireRequest& wire) {
  wire.body = to_json([&](Writer& w) { write_described(w, req, describe_leave); });
}
Result<core::LeaveReq> decode_leave(const WireRequest& wire) {
  return decode_described<core::LeaveReq>(wire, "ring/leave request", describe_leave);
}

void encode_info(const core::InfoReq&, WireRequest&) {}
Result<core::InfoReq> decode_info(const WireRequest&) { return core::InfoReq{}; }

}  // namespace dws::net::codec
