#include "net/json_codec.hpp"

#include <fmt/format.h>
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cctype>
#include <charconv>
#include <cstdint>
#include <limits>
#include <optional>
#include <tuple>
#include <type_traits>

#include "core/id.hpp"
#include "core/record.hpp"
#include "crypto/encoding.hpp"
#include "net/address.hpp"
#include "net/json_fields.hpp"
#include "net/json_writer.hpp"

namespace dws::net {

namespace {

using Writer = JsonWriter;
using Value = rapidjson::Value;

// Bounds on list lengths a peer may send; far above any sane ring setting,
// low enough that a hostile body cannot make us allocate much.
constexpr std::size_t kMaxListEntries = 256;
constexpr std::size_t kMaxFingers = 64;
constexpr std::size_t kMaxRingName = 64;
// Records in one sync body. The server's body limit bounds the bytes; this
// bounds the work a body of many tiny records can cause.
constexpr std::size_t kMaxSyncRecords = 100000;

// Reads the codec's own shapes (peers, records, bucket lists) on top of the
// shared field reader.
class Reader : public Fields {
 public:
  using Fields::Fields;

  std::string address(const Value& obj, std::string_view path, const char* name) {
    const Value* v = member(obj, path, name);
    if (!v) return {};
    if (!v->IsString()) {
      fail(join_path(path, name), fmt::format("must be a \"host:port\" string, got {}", type_name(*v)));
      return {};
    }
    std::string s(v->GetString(), v->GetStringLength());
    const auto hp = parse_host_port(s, "address");
    if (!hp.ok()) fail(join_path(path, name), fmt::format("must be host:port, got {}", quote(s)));
    return s;
  }

  // Records in the core::encode_records form, carried as base64.
  std::vector<core::Record> records(const Value& obj, std::string_view path, const char* name) {
    const std::string bin = bytes(obj, path, name, std::numeric_limits<std::uint32_t>::max());
    if (failed()) return {};
    auto decoded = core::decode_records(bin, kMaxSyncRecords);
    if (!decoded.ok()) {
      fail(join_path(path, name), fmt::format("does not hold valid records: {}", decoded.status().message()));
      return {};
    }
    return std::move(decoded).value();
  }

  // A list of bucket indices in [0, 64).
  std::vector<int> buckets(const Value& obj, std::string_view path, const char* name) {
    std::vector<int> out;
    each(obj, path, name, core::kDigestBuckets, [&](const Value& b, const std::string& at) {
      if (!b.IsInt() || b.GetInt() < 0 || b.GetInt() >= core::kDigestBuckets)
        fail(at, fmt::format("must be a bucket index in [0, {}), got {}", core::kDigestBuckets,
                             b.IsInt() ? std::to_string(b.GetInt()) : std::string(type_name(b))));
      else out.push_back(b.GetInt());
    });
    if (failed()) out.clear();
    return out;
  }

  // A {"key","sub","version","tombstone","expires_at","payload"} object.
  core::Record record(const Value& v, std::string_view path) {
    core::Record rec;
    if (object(v, path, "a record object")) read_record_fields(v, path, rec);
    return rec;
  }

  void read_record_fields(const Value& v, std::string_view path, core::Record& rec) {
    rec.key = id(v, path, "key");
    rec.sub = text(v, path, "sub", core::kMaxSubSize);
    rec.version = uint64(v, path, "version");
    rec.tombstone = boolean(v, path, "tombstone");
    rec.expires_at = int64(v, path, "expires_at", 0);
    rec.payload = bytes(v, path, "payload", std::numeric_limits<std::uint32_t>::max());
  }

  // A {"id","address"} object at `path`.
  PeerInfo peer(const Value& v, std::string_view path) {
    PeerInfo p;
    if (!object(v, path, "an {\"id\",\"address\"} object")) return p;
    p.id = id(v, path, "id");
    p.address = address(v, path, "address");
    return p;
  }

  PeerInfo peer_member(const Value& obj, std::string_view path, const char* name) {
    const Value* v = member(obj, path, name);
    if (!v) return {};
    return peer(*v, join_path(path, name));
  }

  std::optional<PeerInfo> optional_peer(const Value& obj, std::string_view path, const char* name) {
    const Value* v = member(obj, path, name);
    if (!v || v->IsNull()) return std::nullopt;
    return peer(*v, join_path(path, name));
  }

  std::vector<PeerInfo> peers(const Value& obj, std::string_view path, const char* name) {
    std::vector<PeerInfo> out;
    each(obj, path, name, kMaxListEntries, [&](const Value& v, const std::string& at) { out.push_back(peer(v, at)); });
    return out;
  }
};

// --- JSON writers -------------------------------------------------------------

void write_peer_fields(Writer& w, const PeerInfo& p) {
  const std::string hex = core::to_hex(p.id);
  w.Key("id");
  w.String(hex.data(), static_cast<rapidjson::SizeType>(hex.size()));
  w.Key("address");
  w.String(p.address.data(), static_cast<rapidjson::SizeType>(p.address.size()));
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


void write_id(Writer& w, Id id) { write_string(w, core::to_hex(id)); }

void write_record_fields(Writer& w, const core::Record& r) {
  w.Key("key");
  write_id(w, r.key);
  w.Key("sub");
  write_string(w, r.sub);
  w.Key("version");
  w.Uint64(r.version);
  w.Key("tombstone");
  w.Bool(r.tombstone);
  w.Key("expires_at");
  w.Int64(r.expires_at);
  w.Key("payload");
  write_string(w, crypto::to_base64(r.payload));
}

void write_records(Writer& w, const std::vector<core::Record>& records) {
  write_string(w, crypto::to_base64(core::encode_records(records)));
}

void write_buckets(Writer& w, const std::vector<int>& buckets) {
  w.StartArray();
  for (int b : buckets) w.Int(b);
  w.EndArray();
}


// --- Response bodies: one writer and one reader per response type ---------------

template <typename T>
struct Type {};

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
  w.StartObject();
  w.Key("done");
  w.Bool(r.done);
  w.Key("node");
  write_peer(w, r.node);
  w.EndObject();
}
Result<core::ClosestResp> read_body(const Value& v, Type<core::ClosestResp>) {
  Reader r("closest response");
  core::ClosestResp out;
  out.done = r.boolean(v, "", "done");
  out.node = r.peer_member(v, "", "node");
  return r.finish(out);
}

void write_body(Writer& w, const core::InfoResp& r) {
  w.StartObject();
  w.Key("ring");
  write_string(w, r.info.ring_name);
  w.Key("id_bits");
  w.Int(r.info.id_bits);
  w.Key("replicas");
  w.Int(r.info.replicas);
  w.Key("successor_list");
  w.Int(r.info.successor_list);
  w.Key("stabilize_ms");
  w.Int(r.info.stabilize_ms);
  w.Key("open");
  w.Bool(r.info.open_ring);
  w.EndObject();
}
Result<core::InfoResp> read_body(const Value& v, Type<core::InfoResp>) {
  Reader r("info response");
  core::InfoResp out;
  out.info.ring_name = r.string(v, "", "ring", kMaxRingName);
  out.info.id_bits = r.integer(v, "", "id_bits", 64, 64);
  out.info.replicas = r.integer(v, "", "replicas", 1, 64);
  out.info.successor_list = r.integer(v, "", "successor_list", 1, static_cast<int>(kMaxListEntries));
  out.info.stabilize_ms = r.integer(v, "", "stabilize_ms", 1, 3600 * 1000);
  out.info.open_ring = r.boolean(v, "", "open");
  return r.finish(out);
}

void write_body(Writer& w, const core::StorePutResp& r) {
  w.StartObject();
  w.Key("copies");
  w.Int(r.copies);
  w.Key("version");
  w.Uint64(r.version);
  w.EndObject();
}
Result<core::StorePutResp> read_body(const Value& v, Type<core::StorePutResp>) {
  Reader r("store/put response");
  core::StorePutResp out;
  out.copies = r.integer(v, "", "copies", 0, 64);
  out.version = r.uint64(v, "", "version");
  return r.finish(out);
}

void write_body(Writer& w, const core::StoreGetResp& r) {
  w.StartObject();
  w.Key("record");
  if (r.record) {
    w.StartObject();
    write_record_fields(w, *r.record);
    w.EndObject();
  } else {
    w.Null();
  }
  w.EndObject();
}
Result<core::StoreGetResp> read_body(const Value& v, Type<core::StoreGetResp>) {
  Reader r("store/get response");
  core::StoreGetResp out;
  const Value* rec = r.member(v, "", "record");
  if (rec && !rec->IsNull()) out.record = r.record(*rec, "record");
  return r.finish(out);
}

void write_body(Writer& w, const core::StoreSyncResp& r) {
  w.StartObject();
  w.Key("differing");
  write_buckets(w, r.differing);
  w.Key("records");
  write_records(w, r.records);
  w.Key("more");
  w.Bool(r.more);
  w.Key("merged");
  w.Uint64(r.merged);
  w.EndObject();
}
Result<core::StoreSyncResp> read_body(const Value& v, Type<core::StoreSyncResp>) {
  Reader r("store/sync response");
  core::StoreSyncResp out;
  out.differing = r.buckets(v, "", "differing");
  out.records = r.records(v, "", "records");
  out.more = r.boolean(v, "", "more");
  out.merged = r.uint64(v, "", "merged");
  return r.finish(out);
}

void write_body(Writer& w, const core::StoreScanResp& r) {
  w.StartObject();
  w.Key("records");
  write_records(w, r.records);
  w.Key("more");
  w.Bool(r.more);
  w.EndObject();
}
Result<core::StoreScanResp> read_body(const Value& v, Type<core::StoreScanResp>) {
  Reader r("store/scan response");
  core::StoreScanResp out;
  out.records = r.records(v, "", "records");
  out.more = r.boolean(v, "", "more");
  return r.finish(std::move(out));
}

void write_body(Writer& w, const core::LoginResp& r) {
  w.StartObject();
  w.Key("retry_after_s");
  w.Int64(r.retry_after_s);
  w.Key("ok");
  w.Bool(r.ok);
  w.Key("sealed_secret");
  write_string(w, crypto::to_base64(r.sealed_secret));
  w.Key("public_key");
  write_string(w, crypto::to_base64(r.public_key));
  w.Key("version");
  w.Uint64(r.version);
  w.EndObject();
}
Result<core::LoginResp> read_body(const Value& v, Type<core::LoginResp>) {
  Reader r("node/login response");
  core::LoginResp out;
  out.retry_after_s = r.int64(v, "", "retry_after_s", 0);
  out.ok = r.boolean(v, "", "ok");
  out.sealed_secret = r.bytes(v, "", "sealed_secret", 1024);
  out.public_key = r.bytes(v, "", "public_key", 64);
  out.version = r.uint64(v, "", "version");
  return r.finish(std::move(out));
}

void write_body(Writer& w, const core::UserListResp& r) {
  w.StartObject();
  w.Key("users");
  w.StartArray();
  for (const auto& u : r.users) {
    w.StartObject();
    w.Key("nickname");
    write_string(w, u.nickname);
    w.Key("display_name");
    write_string(w, u.display_name);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
}
Result<core::UserListResp> read_body(const Value& v, Type<core::UserListResp>) {
  Reader r("node/users response");
  core::UserListResp out;
  if (const Value* users = r.array(v, "", "users", core::kMaxScanLimit)) {
    for (rapidjson::SizeType i = 0; i < users->Size() && !r.failed(); ++i) {
      const std::string path = fmt::format("users[{}]", i);
      core::UserListEntry e;
      e.nickname = r.string((*users)[i], path, "nickname", 64);
      e.display_name = r.text((*users)[i], path, "display_name", 256);
      out.users.push_back(std::move(e));
    }
  }
  return r.finish(std::move(out));
}

// --- Requests: query or body, one encoder and decoder per request type --------

void encode_ping(const core::PingReq&, WireRequest&) {}
Result<core::PingReq> decode_ping(const WireRequest&) { return core::PingReq{}; }

void encode_state(const core::StateReq& req, WireRequest& wire) {
  if (req.with_fingers) wire.query.emplace_back("fingers", "1");
}
Result<core::StateReq> decode_state(const WireRequest& wire) {
  core::StateReq req;
  if (const std::string* f = wire.param("fingers")) {
    if (*f == "1" || *f == "true") req.with_fingers = true;
    else if (*f == "0" || *f == "false") req.with_fingers = false;
    else
      return Status::InvalidArgument(
          fmt::format("ring/state request: parameter 'fingers' must be 0 or 1, got {}", quote(*f)));
  }
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
  const std::string* key = wire.param("key");
  if (!key) return Status::InvalidArgument("ring/closest request: parameter 'key' is missing (16 hex digits)");
  const auto k = core::parse_hex(*key);
  if (!k)
    return Status::InvalidArgument(
        fmt::format("ring/closest request: parameter 'key' must be 16 hex digits, got {}", quote(*key)));
  req.key = *k;
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
  wire.body = to_json([&](Writer& w) {
    w.StartObject();
    w.Key("leaving");
    write_peer(w, req.leaving);
    w.Key("predecessor");
    write_optional_peer(w, req.predecessor);
    w.Key("successors");
    write_peers(w, req.successors);
    w.EndObject();
  });
}
Result<core::LeaveReq> decode_leave(const WireRequest& wire) {
  Reader r("ring/leave request");
  if (!r.parse(wire.body)) return r.status();
  const Value& doc = r.root();
  core::LeaveReq req;
  req.leaving = r.peer_member(doc, "", "leaving");
  req.predecessor = r.optional_peer(doc, "", "predecessor");
  req.successors = r.peers(doc, "", "successors");
  return r.finish(req);
}

void encode_info(const core::InfoReq&, WireRequest&) {}
Result<core::InfoReq> decode_info(const WireRequest&) { return core::InfoReq{}; }

void encode_store_put(const core::StorePutReq& req, WireRequest& wire) {
  wire.body = to_json([&](Writer& w) {
    w.StartObject();
    write_record_fields(w, req.record);
    w.Key("replica");
    w.Bool(req.replica);
    if (req.forward) {
      w.Key("forward");
      w.Bool(true);
    }
    if (req.condition.if_absent) {
      w.Key("if_absent");
      w.Bool(true);
    }
    if (req.condition.max_items > 0) {
      w.Key("max_items");
      w.Uint(req.condition.max_items);
      w.Key("quota_prefix");
      write_string(w, req.condition.quota_prefix);
    }
    if (req.takeover) {
      w.Key("takeover");
      write_string(w, core::to_hex(*req.takeover));
    }
    w.EndObject();
  });
}
Result<core::StorePutReq> decode_store_put(const WireRequest& wire) {
  Reader r("store/put request");
  if (!r.parse(wire.body)) return r.status();
  const Value& doc = r.root();
  core::StorePutReq req;
  r.read_record_fields(doc, "", req.record);
  req.replica = r.boolean(doc, "", "replica");
  // Optional: only clients set it.
  if (doc.HasMember("forward")) req.forward = r.boolean(doc, "", "forward");
  // Optional: the conditions of a create or a quota (PutCondition).
  if (doc.HasMember("if_absent")) req.condition.if_absent = r.boolean(doc, "", "if_absent");
  if (doc.HasMember("max_items")) {
    req.condition.max_items = static_cast<std::uint32_t>(r.integer(doc, "", "max_items", 0, 1 << 30));
    req.condition.quota_prefix = r.text(doc, "", "quota_prefix", core::kMaxSubSize);
  }
  if (!r.failed() && req.condition.active() && req.replica)
    r.fail("replica", "must be false when a condition is set: only the primary checks conditions");
  // Optional: the unreachable primary whose role this write asks for.
  if (doc.HasMember("takeover")) req.takeover = r.id(doc, "", "takeover");
  if (!r.failed() && req.takeover && req.replica)
    r.fail("takeover", "must be absent when 'replica' is true: only a primary's role is taken over");
  if (!r.failed() && req.forward && req.replica)
    r.fail("forward", "must be false when 'replica' is true: a replica copy goes to its node, never forwarded");
  return r.finish(std::move(req));
}

void encode_store_get(const core::StoreGetReq& req, WireRequest& wire) {
  wire.query.emplace_back("key", core::to_hex(req.key));
  wire.query.emplace_back("sub", req.sub);
  if (req.local) wire.query.emplace_back("local", "1");
  if (req.forward) wire.query.emplace_back("forward", "1");
}
Result<core::StoreGetReq> decode_store_get(const WireRequest& wire) {
  core::StoreGetReq req;
  const std::string* key = wire.param("key");
  if (!key) return Status::InvalidArgument("store/get request: parameter 'key' is missing (16 hex digits)");
  const auto k = core::parse_hex(*key);
  if (!k)
    return Status::InvalidArgument(
        fmt::format("store/get request: parameter 'key' must be 16 hex digits, got {}", quote(*key)));
  req.key = *k;
  // A missing sub is the key's main item (sub ""), as a user record is.
  if (const std::string* sub = wire.param("sub")) {
    if (sub->size() > core::kMaxSubSize)
      return Status::InvalidArgument(fmt::format("store/get request: parameter 'sub' must have at most {} bytes, "
                                                 "got {}",
                                                 core::kMaxSubSize, sub->size()));
    req.sub = *sub;
  }
  for (auto [name, flag] : {std::pair{"local", &req.local}, std::pair{"forward", &req.forward}}) {
    const std::string* value = wire.param(name);
    if (!value) continue;
    if (*value == "1" || *value == "true") *flag = true;
    else if (*value == "0" || *value == "false") *flag = false;
    else
      return Status::InvalidArgument(
          fmt::format("store/get request: parameter '{}' must be 0 or 1, got {}", name, quote(*value)));
  }
  if (req.local && req.forward)
    return Status::InvalidArgument(
        "store/get request: parameters 'local' and 'forward' exclude each other: read one copy, or the ring");
  return req;
}

void encode_store_sync(const core::StoreSyncReq& req, WireRequest& wire) {
  using Phase = core::StoreSyncReq::Phase;
  wire.body = to_json([&](Writer& w) {
    w.StartObject();
    w.Key("phase");
    w.String(req.phase == Phase::kCompare ? "compare" : "push");
    w.Key("from");
    write_peer(w, req.from);
    w.Key("a");
    write_id(w, req.a);
    w.Key("b");
    write_id(w, req.b);
    if (req.phase == Phase::kCompare) {
      w.Key("digests");
      w.StartArray();
      for (const auto& d : req.digests) write_string(w, core::to_hex(d));
      w.EndArray();
      if (req.after) {
        w.Key("after");
        w.StartObject();
        w.Key("key");
        write_id(w, req.after->key);
        w.Key("sub");
        write_string(w, req.after->sub);
        w.EndObject();
      }
    } else {
      w.Key("buckets");
      write_buckets(w, req.buckets);
      w.Key("records");
      write_records(w, req.records);
    }
    w.EndObject();
  });
}
// Only the fields of the phase are read: compare needs digests, push needs
// buckets and records.
Result<core::StoreSyncReq> decode_store_sync(const WireRequest& wire) {
  using Phase = core::StoreSyncReq::Phase;
  Reader r("store/sync request");
  if (!r.parse(wire.body)) return r.status();
  const Value& doc = r.root();
  core::StoreSyncReq req;
  const std::string phase = r.string(doc, "", "phase", 16);
  if (!r.failed()) {
    if (phase == "compare") req.phase = Phase::kCompare;
    else if (phase == "push") req.phase = Phase::kPush;
    else r.fail("phase", fmt::format("must be \"compare\" or \"push\", got {}", quote(phase)));
  }
  req.from = r.peer_member(doc, "", "from");
  req.a = r.id(doc, "", "a");
  req.b = r.id(doc, "", "b");
  if (r.failed()) return r.status();
  if (req.phase == Phase::kCompare) {
    const Value* digests = r.array(doc, "", "digests", core::kDigestBuckets);
    if (digests && digests->Size() != core::kDigestBuckets)
      r.fail("digests", fmt::format("must have exactly {} entries, got {}", core::kDigestBuckets, digests->Size()));
    for (rapidjson::SizeType i = 0; digests && !r.failed() && i < digests->Size(); ++i) {
      const Value& d = (*digests)[i];
      const auto h = d.IsString() ? core::parse_hash128(std::string_view(d.GetString(), d.GetStringLength()))
                                  : std::nullopt;
      if (!h) r.fail(fmt::format("digests[{}]", i), "must be 32 hex digits in a string");
      else req.digests[i] = *h;
    }
    // The cursor of a resumed compare: only items after it are wanted.
    if (!r.failed() && doc.HasMember("after")) {
      const Value* after = r.member(doc, "", "after");
      if (after && !after->IsNull()) {
        core::ItemKey cursor;
        if (!after->IsObject()) r.fail("after", "must be a {\"key\",\"sub\"} object or null");
        cursor.key = r.id(*after, "after", "key");
        cursor.sub = r.text(*after, "after", "sub", core::kMaxSubSize);
        if (!r.failed()) req.after = std::move(cursor);
      }
    }
  } else {
    req.buckets = r.buckets(doc, "", "buckets");
    req.records = r.records(doc, "", "records");
  }
  return r.finish(std::move(req));
}

void encode_store_scan(const core::StoreScanReq& req, WireRequest& wire) {
  wire.query.emplace_back("key", core::to_hex(req.key));
  wire.query.emplace_back("prefix", req.prefix);
  wire.query.emplace_back("after", req.after);
  wire.query.emplace_back("limit", std::to_string(req.limit));
  if (req.local) wire.query.emplace_back("local", "1");
}
Result<core::StoreScanReq> decode_store_scan(const WireRequest& wire) {
  core::StoreScanReq req;
  const std::string* key = wire.param("key");
  const auto k = key ? core::parse_hex(*key) : std::nullopt;
  if (!k)
    return Status::InvalidArgument(fmt::format("store/scan request: parameter 'key' must be 16 hex digits, got {}",
                                               key ? quote(*key) : std::string("nothing")));
  req.key = *k;
  for (auto [name, out] : {std::pair{"prefix", &req.prefix}, std::pair{"after", &req.after}}) {
    const std::string* v = wire.param(name);
    if (!v) continue;
    if (v->size() > core::kMaxSubSize)
      return Status::InvalidArgument(fmt::format("store/scan request: parameter '{}' must have at most {} bytes, "
                                                 "got {}",
                                                 name, core::kMaxSubSize, v->size()));
    *out = *v;
  }
  if (const std::string* v = wire.param("limit")) {
    std::uint32_t n = 0;
    const auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
    if (ec != std::errc() || end != v->data() + v->size() || n < 1 || n > core::kMaxScanLimit)
      return Status::InvalidArgument(fmt::format("store/scan request: parameter 'limit' must be in [1, {}], got {}",
                                                 core::kMaxScanLimit, quote(*v)));
    req.limit = n;
  }
  if (const std::string* v = wire.param("local")) {
    if (*v == "1" || *v == "true") req.local = true;
    else if (*v == "0" || *v == "false") req.local = false;
    else
      return Status::InvalidArgument(
          fmt::format("store/scan request: parameter 'local' must be 0 or 1, got {}", quote(*v)));
  }
  return req;
}

void encode_login(const core::LoginReq& req, WireRequest& wire) {
  wire.body = to_json([&](Writer& w) {
    w.StartObject();
    w.Key("nickname");
    write_string(w, req.nickname);
    w.Key("auth_key");
    write_string(w, crypto::to_base64(req.auth_key));
    w.Key("source");
    write_string(w, req.source);
    w.EndObject();
  });
}
Result<core::LoginReq> decode_login(const WireRequest& wire) {
  Reader r("node/login request");
  if (!r.parse(wire.body)) return r.status();
  const Value& doc = r.root();
  core::LoginReq req;
  req.nickname = r.string(doc, "", "nickname", 64);
  req.auth_key = r.bytes(doc, "", "auth_key", 32);
  req.source = r.string(doc, "", "source", 64);
  if (!r.failed() && req.auth_key.size() != 32)
    r.fail("auth_key", fmt::format("must hold 32 bytes, got {}", req.auth_key.size()));
  return r.finish(std::move(req));
}

void encode_user_list(const core::UserListReq& req, WireRequest& wire) {
  wire.query.emplace_back("prefix", req.prefix);
  wire.query.emplace_back("limit", std::to_string(req.limit));
}
Result<core::UserListReq> decode_user_list(const WireRequest& wire) {
  core::UserListReq req;
  if (const std::string* v = wire.param("prefix")) {
    if (v->size() > 64)
      return Status::InvalidArgument(
          fmt::format("node/users request: parameter 'prefix' must have at most 64 bytes, got {}", v->size()));
    req.prefix = *v;
  }
  if (const std::string* v = wire.param("limit")) {
    std::uint32_t n = 0;
    const auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
    if (ec != std::errc() || end != v->data() + v->size() || n < 1 || n > core::kMaxScanLimit)
      return Status::InvalidArgument(fmt::format("node/users request: parameter 'limit' must be in [1, {}], got {}",
                                                 core::kMaxScanLimit, quote(*v)));
    req.limit = n;
  }
  return req;
}

// --- The table ------------------------------------------------------------------

template <typename Req, typename Resp>
struct Endpoint {
  using Request = Req;
  using Response = Resp;
  std::string_view method;
  std::string_view path;
  void (*encode)(const Req&, WireRequest&);
  Result<Req> (*decode)(const WireRequest&);
};

constexpr std::tuple kEndpoints{
    Endpoint<core::PingReq, core::PingResp>{"GET", "/v1/ring/ping", encode_ping, decode_ping},
    Endpoint<core::StateReq, core::StateResp>{"GET", "/v1/ring/state", encode_state, decode_state},
    Endpoint<core::ClosestReq, core::ClosestResp>{"GET", "/v1/ring/closest", encode_closest, decode_closest},
    Endpoint<core::NotifyReq, core::Ack>{"POST", "/v1/ring/notify", encode_notify, decode_notify},
    Endpoint<core::LeaveReq, core::Ack>{"POST", "/v1/ring/leave", encode_leave, decode_leave},
    Endpoint<core::InfoReq, core::InfoResp>{"GET", "/v1/ring/info", encode_info, decode_info},
    Endpoint<core::StorePutReq, core::StorePutResp>{"POST", "/v1/store/put", encode_store_put, decode_store_put},
    Endpoint<core::StoreGetReq, core::StoreGetResp>{"GET", "/v1/store/get", encode_store_get, decode_store_get},
    Endpoint<core::StoreSyncReq, core::StoreSyncResp>{"POST", "/v1/store/sync", encode_store_sync,
                                                      decode_store_sync},
    Endpoint<core::StoreScanReq, core::StoreScanResp>{"GET", "/v1/store/scan", encode_store_scan,
                                                      decode_store_scan},
    Endpoint<core::LoginReq, core::LoginResp>{"POST", "/v1/node/login", encode_login, decode_login},
    Endpoint<core::UserListReq, core::UserListResp>{"GET", "/v1/node/users", encode_user_list, decode_user_list},
};
constexpr std::size_t kEndpointCount = std::tuple_size_v<decltype(kEndpoints)>;

// The row that carries request type Req.
template <typename Req, std::size_t I = 0>
constexpr const auto& row_for() {
  static_assert(I < kEndpointCount, "a core::Request alternative has no row in kEndpoints");
  using Row = std::remove_cvref_t<decltype(std::get<I>(kEndpoints))>;
  if constexpr (std::is_same_v<typename Row::Request, Req>) return std::get<I>(kEndpoints);
  else return row_for<Req, I + 1>();
}

// Every request alternative must have a row (checked at compile time).
template <std::size_t... I>
constexpr bool all_requests_routed(std::index_sequence<I...>) {
  return ((row_for<std::variant_alternative_t<I, core::Request>>().path.size() > 0) && ...);
}
static_assert(all_requests_routed(std::make_index_sequence<std::variant_size_v<core::Request>>{}));

template <typename F, std::size_t... I>
void for_each_row(F&& f, std::index_sequence<I...>) {
  (f(std::get<I>(kEndpoints)), ...);
}
template <typename F>
void for_each_row(F&& f) {
  for_each_row(std::forward<F>(f), std::make_index_sequence<kEndpointCount>{});
}

bool unreserved(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
         c == '_' || c == '~' || c == ',';
}

void append_encoded(std::string& out, std::string_view s) {
  for (char c : s) {
    if (unreserved(c)) out += c;
    else out += fmt::format("%{:02X}", static_cast<unsigned char>(c));
  }
}

}  // namespace

std::string WireRequest::target() const {
  std::string t = path;
  char sep = '?';
  for (const auto& [name, value] : query) {
    t += sep;
    sep = '&';
    append_encoded(t, name);
    t += '=';
    append_encoded(t, value);
  }
  return t;
}

const std::string* WireRequest::param(std::string_view name) const {
  for (const auto& [n, v] : query)
    if (n == name) return &v;
  return nullptr;
}

const std::string* WireRequest::header(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (n.size() != name.size()) continue;
    bool same = true;
    for (std::size_t i = 0; i < n.size() && same; ++i)
      same = std::tolower(static_cast<unsigned char>(n[i])) == std::tolower(static_cast<unsigned char>(name[i]));
    if (same) return &v;
  }
  return nullptr;
}

std::vector<Route> ring_routes() {
  std::vector<Route> routes;
  for_each_row([&](const auto& row) { routes.push_back({row.method, row.path}); });
  return routes;
}

WireRequest encode_request(const core::Request& request) {
  return std::visit(
      [](const auto& req) {
        const auto& row = row_for<std::decay_t<decltype(req)>>();
        WireRequest wire;
        wire.method = std::string(row.method);
        wire.path = std::string(row.path);
        row.encode(req, wire);
        return wire;
      },
      request);
}

Result<core::Request> decode_request(const WireRequest& wire) {
  Result<core::Request> out = Status::NotFound(fmt::format("no endpoint {} {}", wire.method, quote(wire.path)));
  for_each_row([&](const auto& row) {
    if (row.method != wire.method || row.path != wire.path) return;
    using Req = typename std::remove_cvref_t<decltype(row)>::Request;
    auto decoded = row.decode(wire);
    if (decoded.ok()) out = core::Request(std::in_place_type<Req>, std::move(decoded).value());
    else out = decoded.status();
  });
  return out;
}

WireResponse encode_response(const core::Response& response) {
  WireResponse out;
  out.body = to_json([&](Writer& w) { std::visit([&](const auto& r) { write_body(w, r); }, response); });
  return out;
}

WireResponse encode_error(const Status& status) {
  const Code code = status.ok() ? Code::kInternal : status.code();
  WireResponse out;
  out.status = http_status(code);
  out.body = to_json([&](Writer& w) {
    w.StartObject();
    w.Key("error");
    w.StartObject();
    w.Key("code");
    write_string(w, code_name(code));
    w.Key("message");
    write_string(w, status.ok() ? std::string_view("error without a cause") : std::string_view(status.message()));
    w.EndObject();
    w.EndObject();
  });
  return out;
}

Code code_for_http_status(int http) {
  switch (http) {
    case 400: return Code::kInvalidArgument;
    case 401: return Code::kUnauthenticated;
    case 403: return Code::kForbidden;
    case 404: return Code::kNotFound;
    case 409: return Code::kExists;
    case 413: return Code::kPayloadTooLarge;
    case 421: return Code::kNotResponsible;
    case 429: return Code::kRateLimited;
    case 503: return Code::kUnavailable;
    default: return Code::kInternal;
  }
}

namespace {

Status decode_error(int http, std::string_view body) {
  if (auto err = read_error_body(body); err && err->code && err->message && !err->code->empty() &&
                                        err->code->size() <= 64) {
    Code c = code_from_name(*err->code);
    if (c == Code::kOk) c = Code::kInternal;
    return Status(c, *err->message);
  }
  return Status(code_for_http_status(http), fmt::format("HTTP {} without a JSON error body: {}", http, quote(body)));
}

}  // namespace

std::optional<ErrorBody> read_error_body(std::string_view body) {
  Fields f("error response");
  if (!f.parse(body)) return std::nullopt;
  const Value* err = f.optional(f.root(), "", "error");
  if (!err || !err->IsObject()) return std::nullopt;
  ErrorBody out;
  for (auto [name, field] : {std::pair{"code", &out.code}, std::pair{"message", &out.message},
                             std::pair{"primary", &out.primary}}) {
    const Value* v = f.optional(*err, "error", name);
    if (v && v->IsString()) *field = std::string(v->GetString(), v->GetStringLength());
  }
  return out;
}

Result<core::Response> decode_reply(const core::Request& request, int http, std::string_view body) {
  if (http < 200 || http > 299) return decode_error(http, body);
  return std::visit(
      [&](const auto& req) -> Result<core::Response> {
        using Resp = typename std::remove_cvref_t<decltype(row_for<std::decay_t<decltype(req)>>())>::Response;
        const auto& row = row_for<std::decay_t<decltype(req)>>();
        Fields f(fmt::format("response to {} {}", row.method, row.path));
        if (!f.parse(body)) return f.status();
        auto resp = read_body(f.root(), Type<Resp>{});
        if (!resp.ok()) return resp.status();
        return core::Response(std::move(resp).value());
      },
      request);
}

std::string encode_peers(const std::vector<PeerInfo>& peers) {
  return to_json([&](Writer& w) { write_peers(w, peers); });
}

std::string encode_health(const PeerInfo& self) {
  return to_json([&](Writer& w) {
    w.StartObject();
    w.Key("status");
    w.String("ok");
    write_peer_fields(w, self);
    w.EndObject();
  });
}

}  // namespace dws::net
