// Reading fields out of a JSON body with RapidJSON: the one reader every JSON
// decoder here uses (the node-to-node codec, the user-facing API, the client,
// device lists). Each accessor checks type and limits and, on the first
// problem, records one message naming the field's path
// ("store/sync request: field 'records[3].payload' must be padded base64"),
// so that decoders read straight through and check once at the end.
//
// A Fields object is used by one thread; it is cheap and lives for one body.
#pragma once

#include <rapidjson/document.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "dwhatsapp/status.hpp"
#include "dwhatsapp/types.hpp"
#include "net/json_writer.hpp"

namespace dws::net {

using JsonValue = rapidjson::Value;

/// `text` in single quotes for an error message: printable ASCII only (the
/// message goes back out as JSON and into logs), at most 40 characters.
std::string quote(std::string_view text);
/// "a string", "an object", "null"...: what a value is, for an error message.
std::string_view type_name(const JsonValue& v);
/// "path.name", or "name" at the top level.
std::string join_path(std::string_view path, std::string_view name);
/// "path[i]".
std::string index_path(std::string_view path, std::size_t i);

/// Reads one JSON document; the first problem wins. `what` starts every
/// message ("account", "ring/notify request"); `code` is the Status code of
/// a failure (kInvalidArgument for a request, kUnavailable where a client
/// reads a server's answer).
class Fields {
 public:
  explicit Fields(std::string what, Code code = Code::kInvalidArgument);

  /// Parses `body` (iteratively, so a deeply nested hostile body cannot
  /// exhaust the stack) into the document root() returns. Fails unless it is
  /// valid JSON and, when `object` is set, a JSON object.
  bool parse(std::string_view body, bool object = true);
  const JsonValue& root() const { return doc_; }

  bool failed() const { return !error_.empty(); }
  /// Records "field 'PATH' WHY" unless a problem is recorded already.
  void fail(std::string_view path, std::string_view why);
  /// Records WHY as it stands (after "what: ").
  void fail_message(std::string_view why);
  Status status() const;
  template <typename T>
  Result<T> finish(T value) const {
    if (failed()) return status();
    return value;
  }

  /// Member `name` of object `obj` at `path`; nullptr (and a failure) when
  /// `obj` is not an object or has no such member.
  const JsonValue* member(const JsonValue& obj, std::string_view path, const char* name);
  /// Member `name` when `(value.*is)()` holds; else nullptr and "must be
  /// EXPECTED, got a number".
  const JsonValue* typed(const JsonValue& obj, std::string_view path, const char* name,
                         bool (JsonValue::*is)() const, std::string_view expected);
  /// Member `name`, or nullptr without a failure when absent or null.
  const JsonValue* optional(const JsonValue& obj, std::string_view path, const char* name);

  /// A string of 1 to max_len bytes.
  std::string string(const JsonValue& obj, std::string_view path, const char* name, std::size_t max_len);
  /// A string of 0 to max_len bytes.
  std::string text(const JsonValue& obj, std::string_view path, const char* name, std::size_t max_len);
  /// An integer in [min, max].
  int integer(const JsonValue& obj, std::string_view path, const char* name, int min, int max);
  std::uint64_t uint64(const JsonValue& obj, std::string_view path, const char* name);
  std::int64_t int64(const JsonValue& obj, std::string_view path, const char* name, std::int64_t min);
  bool boolean(const JsonValue& obj, std::string_view path, const char* name);
  /// 16 lower- or upper-case hex digits: a ring position.
  Id id(const JsonValue& obj, std::string_view path, const char* name);
  /// Standard padded base64 (one spelling per value), at most max_bytes once
  /// decoded; the bytes in a string.
  std::string bytes(const JsonValue& obj, std::string_view path, const char* name, std::size_t max_bytes);
  /// Base64 of exactly N bytes.
  template <std::size_t N>
  std::array<std::uint8_t, N> fixed(const JsonValue& obj, std::string_view path, const char* name) {
    std::array<std::uint8_t, N> out{};
    const std::string raw = bytes(obj, path, name, N);
    if (failed()) return out;
    if (raw.size() != N) {
      fail(join_path(path, name), "must hold " + std::to_string(N) + " bytes, got " + std::to_string(raw.size()));
      return out;
    }
    for (std::size_t i = 0; i < N; ++i) out[i] = static_cast<std::uint8_t>(raw[i]);
    return out;
  }
  /// An array of at most max_len entries.
  const JsonValue* array(const JsonValue& obj, std::string_view path, const char* name, std::size_t max_len);
  /// Calls read(entry, "path.name[i]") for each entry of array `name` until
  /// a problem is recorded.
  template <typename F>
  void each(const JsonValue& obj, std::string_view path, const char* name, std::size_t max_len, F&& read) {
    const JsonValue* arr = array(obj, path, name, max_len);
    if (!arr) return;
    const std::string base = join_path(path, name);
    for (rapidjson::SizeType i = 0; i < arr->Size() && !failed(); ++i) read((*arr)[i], index_path(base, i));
  }
  /// Fails unless `v` (at `path`) is an object; `shape` says which
  /// ("an {\"id\",\"address\"} object").
  bool object(const JsonValue& v, std::string_view path, std::string_view shape = "an object");

 private:
  std::string what_;
  Code code_;
  std::string error_;
  rapidjson::Document doc_;
};

template <typename Describe, typename T>
void write_object(JsonWriter& w, Describe&& describe, const T& body);
template <typename T, typename Describe>
T read_object(Fields& f, const JsonValue& obj, std::string_view path, Describe&& describe);

/// The two sides of a body's one description. A description is a function
/// template `describe(V& v, T& body)` listing the body's fields in wire
/// order with their limits (v.text("nickname", b.nickname, 64)); run with a
/// FieldWriter it writes the body, with a FieldReader it reads and checks it,
/// so the two cannot disagree.
class FieldWriter {
 public:
  explicit FieldWriter(JsonWriter& w) : w_(w) {}
  void text(const char* name, std::string_view s, std::size_t) { key(name); write_string(w_, s); }
  void string(const char* name, std::string_view s, std::size_t) { key(name); write_string(w_, s); }
  void uint64(const char* name, std::uint64_t v) { key(name); w_.Uint64(v); }
  void int64(const char* name, std::int64_t v, std::int64_t) { key(name); w_.Int64(v); }
  void boolean(const char* name, bool v) { key(name); w_.Bool(v); }
  void integer(const char* name, int v, int, int) { key(name); w_.Int(v); }
  void id(const char* name, Id v);
  void bytes(const char* name, std::string_view b, std::size_t) {
    key(name);
    write_base64(b);
  }
  /// An array of objects, each written by `describe`.
  template <typename T, typename Describe>
  void list(const char* name, const std::vector<T>& items, std::size_t, Describe&& describe) {
    key(name);
    w_.StartArray();
    for (const auto& item : items) write_object(w_, describe, item);
    w_.EndArray();
  }
  template <std::size_t N>
  void fixed(const char* name, const std::array<std::uint8_t, N>& a) {
    key(name);
    write_base64(std::string_view(reinterpret_cast<const char*>(a.data()), N));
  }

 protected:
  void key(const char* name) { w_.Key(name); }
  void write_base64(std::string_view bytes);
  JsonWriter& w_;
};

/// Reads the fields of object `obj` at `path` into a body through `fields`.
class FieldReader {
 public:
  FieldReader(Fields& fields, const JsonValue& obj, std::string path = {})
      : f_(fields), obj_(obj), path_(std::move(path)) {}
  void text(const char* name, std::string& s, std::size_t max) { s = f_.text(obj_, path_, name, max); }
  void string(const char* name, std::string& s, std::size_t max) { s = f_.string(obj_, path_, name, max); }
  void uint64(const char* name, std::uint64_t& v) { v = f_.uint64(obj_, path_, name); }
  void int64(const char* name, std::int64_t& v, std::int64_t min) { v = f_.int64(obj_, path_, name, min); }
  void boolean(const char* name, bool& v) { v = f_.boolean(obj_, path_, name); }
  void integer(const char* name, int& v, int min, int max) { v = f_.integer(obj_, path_, name, min, max); }
  void id(const char* name, Id& v) { v = f_.id(obj_, path_, name); }
  void bytes(const char* name, std::string& b, std::size_t max) { b = f_.bytes(obj_, path_, name, max); }
  template <typename T, typename Describe>
  void list(const char* name, std::vector<T>& items, std::size_t max, Describe&& describe) {
    items.clear();
    f_.each(obj_, path_, name, max, [&](const JsonValue& v, const std::string& at) {
      items.push_back(read_object<T>(f_, v, at, describe));
    });
  }
  template <std::size_t N>
  void fixed(const char* name, std::array<std::uint8_t, N>& a) {
    a = f_.fixed<N>(obj_, path_, name);
  }

 protected:
  Fields& f_;
  const JsonValue& obj_;
  std::string path_;
};

/// Writes `body` as one JSON object by its description.
template <typename Describe, typename T>
void write_object(JsonWriter& w, Describe&& describe, const T& body) {
  FieldWriter fw(w);
  w.StartObject();
  describe(fw, body);
  w.EndObject();
}

/// Reads object `obj` at `path` into a T by its description.
template <typename T, typename Describe>
T read_object(Fields& f, const JsonValue& obj, std::string_view path, Describe&& describe) {
  T body{};
  if (!f.object(obj, path)) return body;
  FieldReader fr(f, obj, std::string(path));
  describe(fr, body);
  return body;
}

}  // namespace dws::net
