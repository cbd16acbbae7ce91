// The pieces of the node-to-node codec (net/json_codec.hpp) that its files
// share: the endpoint table in json_codec.cpp routes to the readers and
// writers of json_ring.cpp (ring messages), json_store.cpp (store messages)
// and json_users.cpp (login and user list). Internal to lib/net.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/messages.hpp"
#include "net/json_codec.hpp"
#include "net/json_fields.hpp"
#include "net/json_writer.hpp"

namespace dws::net::codec {

using Writer = JsonWriter;
using Value = JsonValue;

// Bounds on list lengths a peer may send; far above any sane ring setting,
// low enough that a hostile body cannot make us allocate much.
inline constexpr std::size_t kMaxListEntries = 256;

// Reads the codec's own shapes (peers, records, bucket lists) on top of the
// shared field reader.
class Reader : public Fields {
 public:
  using Fields::Fields;

  std::string address(const Value& obj, std::string_view path, const char* name);
  // Records in the core::encode_records form, carried as base64.
  std::vector<core::Record> records(const Value& obj, std::string_view path, const char* name);
  // A list of bucket indices in [0, 64).
  std::vector<int> buckets(const Value& obj, std::string_view path, const char* name);
  // The {"key","sub","version","tombstone","expires_at","payload"} members
  // of `v`, which may hold others.
  void read_record_fields(const Value& v, std::string_view path, core::Record& rec);
  core::Record record(const Value& v, std::string_view path);
  // A {"id","address"} object at `path`.
  PeerInfo peer(const Value& v, std::string_view path);
  PeerInfo peer_member(const Value& obj, std::string_view path, const char* name);
  std::optional<PeerInfo> optional_peer(const Value& obj, std::string_view path, const char* name);
  std::vector<PeerInfo> peers(const Value& obj, std::string_view path, const char* name);
};

void write_peer_fields(Writer& w, const PeerInfo& p);
void write_peer(Writer& w, const PeerInfo& p);
void write_optional_peer(Writer& w, const std::optional<PeerInfo>& p);
void write_peers(Writer& w, const std::vector<PeerInfo>& peers);
void write_record_fields(Writer& w, const core::Record& r);
void write_records(Writer& w, const std::vector<core::Record>& records);
void write_buckets(Writer& w, const std::vector<int>& buckets);

// The description visitors with the codec's own shapes added, for bodies
// that carry peers, records or bucket lists.
class CodecWriter : public FieldWriter {
 public:
  using FieldWriter::FieldWriter;
  void peer(const char* name, const PeerInfo& p) {
    key(name);
    write_peer(w_, p);
  }
  void optional_peer(const char* name, const std::optional<PeerInfo>& p) {
    key(name);
    write_optional_peer(w_, p);
  }
  void peers(const char* name, const std::vector<PeerInfo>& p) {
    key(name);
    write_peers(w_, p);
  }
  void records(const char* name, const std::vector<core::Record>& r) {
    key(name);
    write_records(w_, r);
  }
  void buckets(const char* name, const std::vector<int>& b) {
    key(name);
    write_buckets(w_, b);
  }
};

class CodecReader : public FieldReader {
 public:
  CodecReader(Reader& r, const Value& obj) : FieldReader(r, obj), r_(r) {}
  void peer(const char* name, PeerInfo& p) { p = r_.peer_member(obj_, path_, name); }
  void optional_peer(const char* name, std::optional<PeerInfo>& p) { p = r_.optional_peer(obj_, path_, name); }
  void peers(const char* name, std::vector<PeerInfo>& p) { p = r_.peers(obj_, path_, name); }
  void records(const char* name, std::vector<core::Record>& r) { r = r_.records(obj_, path_, name); }
  void buckets(const char* name, std::vector<int>& b) { b = r_.buckets(obj_, path_, name); }

 private:
  Reader& r_;
};

// A body as one object by its description.
template <typename T, typename Describe>
void write_described(Writer& w, const T& body, Describe&& describe) {
  CodecWriter fields(w);
  w.StartObject();
  describe(fields, body);
  w.EndObject();
}
// `v` read by its description; `what` names the body in errors.
template <typename T, typename Describe>
Result<T> read_described(const Value& v, std::string what, Describe&& describe) {
  Reader r(std::move(what));
  T out{};
  if (r.object(v, "")) {
    CodecReader fields(r, v);
    describe(fields, out);
  }
  return r.finish(std::move(out));
}
// A request body by its description.
template <typename T, typename Describe>
Result<T> decode_described(const WireRequest& wire, std::string what, Describe&& describe) {
  Reader r(what);
  if (!r.parse(wire.body)) return r.status();
  return read_described<T>(r.root(), std::move(what), describe);
}

// Query parameters: each names the request ("store/get request") and the
// parameter in its error.
Status id_param(const WireRequest& wire, std::string_view what, const char* name, Id& out);
// "0"/"false" or "1"/"true"; absent leaves `out` as it is.
Status flag_param(const WireRequest& wire, std::string_view what, const char* name, bool& out);
// At most max_len bytes; absent leaves `out` as it is.
Status text_param(const WireRequest& wire, std::string_view what, const char* name, std::size_t max_len,
                  std::string& out);
// An integer in [1, max]; absent leaves `out` as it is.
Status count_param(const WireRequest& wire, std::string_view what, const char* name, std::uint32_t max,
                   std::uint32_t& out);

// Tags read_body overloads by the response type they read.
template <typename T>
struct Type {};

// One writer and one reader per response type, one encoder and decoder per
// request type.
#define DWS_CODEC_MESSAGE(Req, Resp, name)                      \
  void write_body(Writer& w, const core::Resp& r);                \
  Result<core::Resp> read_body(const Value& v, Type<core::Resp>); \
  void encode_##name(const core::Req& req, WireRequest& wire);    \
  Result<core::Req> decode_##name(const WireRequest& wire);

DWS_CODEC_MESSAGE(PingReq, PingResp, ping)
DWS_CODEC_MESSAGE(StateReq, StateResp, state)
DWS_CODEC_MESSAGE(ClosestReq, ClosestResp, closest)
DWS_CODEC_MESSAGE(InfoReq, InfoResp, info)
DWS_CODEC_MESSAGE(StorePutReq, StorePutResp, store_put)
DWS_CODEC_MESSAGE(StoreGetReq, StoreGetResp, store_get)
DWS_CODEC_MESSAGE(StoreSyncReq, StoreSyncResp, store_sync)
DWS_CODEC_MESSAGE(StoreScanReq, StoreScanResp, store_scan)
DWS_CODEC_MESSAGE(LoginReq, LoginResp, login)
DWS_CODEC_MESSAGE(UserListReq, UserListResp, user_list)
#undef DWS_CODEC_MESSAGE

// Requests answered by an empty object.
void write_body(Writer& w, const core::Ack&);
Result<core::Ack> read_body(const Value&, Type<core::Ack>);
void encode_notify(const core::NotifyReq& req, WireRequest& wire);
Result<core::NotifyReq> decode_notify(const WireRequest& wire);
void encode_leave(const core::LeaveReq& req, WireRequest& wire);
Result<core::LeaveReq> decode_leave(const WireRequest& wire);

}  // namespace dws::net::codec
