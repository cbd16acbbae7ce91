// The store messages: put, get, sync and scan, and the records they carry.
#include <fmt/format.h>

#include <limits>

#include "core/id.hpp"
#include "core/record.hpp"
#include "crypto/encoding.hpp"
#include "net/json_codec_parts.hpp"

namespace dws::net::codec {

namespace {

// Records in one sync body. The server's body limit bounds the bytes; this
// bounds the work a body of many tiny records can cause.
constexpr std::size_t kMaxSyncRecords = 100000;

constexpr auto describe_record = [](auto& v, auto& r) {
  v.id("key", r.key);
  v.text("sub", r.sub, core::kMaxSubSize);
  v.uint64("version", r.version);
  v.boolean("tombstone", r.tombstone);
  v.int64("expires_at", r.expires_at, 0);
  v.bytes("payload", r.payload, std::numeric_limits<std::uint32_t>::max());
};

constexpr auto describe_put_answer = [](auto& v, auto& r) {
  v.integer("copies", r.copies, 0, 64);
  v.uint64("version", r.version);
};

constexpr auto describe_sync_answer = [](auto& v, auto& r) {
  v.buckets("differing", r.differing);
  v.records("records", r.records);
  v.boolean("more", r.more);
  v.uint64("merged", r.merged);
};

constexpr auto describe_scan_answer = [](auto& v, auto& r) {
  v.records("records", r.records);
  v.boolean("more", r.more);
};

}  // namespace

std::vector<core::Record> Reader::records(const Value& obj, std::string_view path, const char* name) {
  const std::string bin = bytes(obj, path, name, std::numeric_limits<std::uint32_t>::max());
  if (failed()) return {};
  auto decoded = core::decode_records(bin, kMaxSyncRecords);
  if (!decoded.ok()) {
    fail(join_path(path, name), fmt::format("does not hold valid records: {}", decoded.status().message()));
    return {};
  }
  return std::move(decoded).value();
}

std::vector<int> Reader::buckets(const Value& obj, std::string_view path, const char* name) {
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

core::Record Reader::record(const Value& v, std::string_view path) {
  core::Record rec;
  if (object(v, path, "a record object")) read_record_fields(v, path, rec);
  return rec;
}

void Reader::read_record_fields(const Value& v, std::string_view path, core::Record& rec) {
  FieldReader fields(*this, v, std::string(path));
  describe_record(fields, rec);
}

void write_record_fields(Writer& w, const core::Record& r) {
  FieldWriter fields(w);
  describe_record(fields, r);
}

void write_records(Writer& w, const std::vector<core::Record>& records) {
  write_string(w, crypto::to_base64(core::encode_records(records)));
}

void write_buckets(Writer& w, const std::vector<int>& buckets) {
  w.StartArray();
  for (int b : buckets) w.Int(b);
  w.EndArray();
}

void write_body(Writer& w, const core::StorePutResp& r) {
  write_object(w, describe_put_answer, r);
}
Result<core::StorePutResp> read_body(const Value& v, Type<core::StorePutResp>) {
  Reader r("store/put response");
  auto out = read_object<core::StorePutResp>(r, v, "", describe_put_answer);
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
  write_described(w, r, describe_sync_answer);
}
Result<core::StoreSyncResp> read_body(const Value& v, Type<core::StoreSyncResp>) {
  return read_described<core::StoreSyncResp>(v, "store/sync response",
                                             describe_sync_answer);
}

void write_body(Writer& w, const core::StoreScanResp& r) {
  write_described(w, r, describe_scan_answer);
}
Result<core::StoreScanResp> read_body(const Value& v, Type<core::StoreScanResp>) {
  return read_described<core::StoreScanResp>(v, "store/scan response",
                                             describe_scan_answer);
}

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
  constexpr std::string_view kWhat = "store/get request";
  core::StoreGetReq req;
  // A missing sub is the key's main item (sub ""), as a user record is.
  for (Status s : {id_param(wire, kWhat, "key", req.key), text_param(wire, kWhat, "sub", core::kMaxSubSize, req.sub),
                   flag_param(wire, kWhat, "local", req.local), flag_param(wire, kWhat, "forward", req.forward)})
    if (!s.ok()) return s;
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
    write_string(w, core::to_hex(req.a));
    w.Key("b");
    write_string(w, core::to_hex(req.b));
    if (req.phase == Phase::kCompare) {
      w.Key("digests");
      w.StartArray();
      for (const auto& d : req.digests) write_string(w, core::to_hex(d));
      w.EndArray();
      if (req.after) {
        w.Key("after");
        w.StartObject();
        w.Key("key");
        write_string(w, core::to_hex(req.after->key));
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
  constexpr std::string_view kWhat = "store/scan request";
  core::StoreScanReq req;
  for (Status s : {id_param(wire, kWhat, "key", req.key), text_param(wire, kWhat, "prefix", core::kMaxSubSize, req.prefix),
                   text_param(wire, kWhat, "after", core::kMaxSubSize, req.after),
                   count_param(wire, kWhat, "limit", core::kMaxScanLimit, req.limit),
                   flag_param(wire, kWhat, "local", req.local)})
    if (!s.ok()) return s;
  return req;
}

}  // namespace dws::net::codec
