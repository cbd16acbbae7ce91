// Writing JSON with RapidJSON: the few helpers every JSON writer here uses
// (the node-to-node codec, the user-facing API, the client).
#pragma once

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <string>
#include <string_view>

namespace dws::net {

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

/// Runs `write(JsonWriter&)` and returns what it wrote.
template <typename F>
std::string to_json(F&& write) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  write(w);
  return std::string(buf.GetString(), buf.GetSize());
}

/// A JSON string of exactly these bytes (no NUL termination needed).
inline void write_string(JsonWriter& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

}  // namespace dws::net
