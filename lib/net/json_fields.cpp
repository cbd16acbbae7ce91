#include "net/json_fields.hpp"

#include <fmt/format.h>
#include <rapidjson/error/en.h>

#include <utility>

#include "core/id.hpp"
#include "crypto/encoding.hpp"

namespace dws::net {

std::string quote(std::string_view text) {
  std::string out = "'";
  const std::size_t n = text.size() < 40 ? text.size() : 40;
  for (std::size_t i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f && c != '\'' && c != '\\') out += static_cast<char>(c);
    else out += fmt::format("\\x{:02x}", c);
  }
  out += text.size() > n ? "'..." : "'";
  return out;
}

std::string_view type_name(const JsonValue& v) {
  switch (v.GetType()) {
    case rapidjson::kNullType: return "null";
    case rapidjson::kFalseType:
    case rapidjson::kTrueType: return "a boolean";
    case rapidjson::kObjectType: return "an object";
    case rapidjson::kArrayType: return "an array";
    case rapidjson::kStringType: return "a string";
    case rapidjson::kNumberType: return "a number";
  }
  return "unknown";
}

std::string join_path(std::string_view path, std::string_view name) {
  if (path.empty()) return std::string(name);
  return fmt::format("{}.{}", path, name);
}

std::string index_path(std::string_view path, std::size_t i) { return fmt::format("{}[{}]", path, i); }

Fields::Fields(std::string what, Code code) : what_(std::move(what)), code_(code) {}

bool Fields::parse(std::string_view body, bool object) {
  doc_.Parse<rapidjson::kParseIterativeFlag>(body.data(), body.size());
  if (doc_.HasParseError())
    fail_message(fmt::format("body is not valid JSON ({} at offset {})", rapidjson::GetParseError_En(doc_.GetParseError()),
                             doc_.GetErrorOffset()));
  else if (object && !doc_.IsObject())
    fail_message(fmt::format("body must be a JSON object, got {}", type_name(doc_)));
  return !failed();
}

void Fields::fail(std::string_view path, std::string_view why) {
  if (error_.empty()) error_ = fmt::format("field '{}' {}", path, why);
}

void Fields::fail_message(std::string_view why) {
  if (error_.empty()) error_ = std::string(why);
}

Status Fields::status() const { return Status(code_, what_ + ": " + error_); }

bool Fields::object(const JsonValue& v, std::string_view path, std::string_view shape) {
  if (failed()) return false;
  if (v.IsObject()) return true;
  if (path.empty()) fail_message(fmt::format("body must be a JSON object, got {}", type_name(v)));
  else fail(path, fmt::format("must be {}, got {}", shape, type_name(v)));
  return false;
}

const JsonValue* Fields::member(const JsonValue& obj, std::string_view path, const char* name) {
  if (!object(obj, path)) return nullptr;
  const auto it = obj.FindMember(name);
  if (it == obj.MemberEnd()) {
    fail(join_path(path, name), "is missing");
    return nullptr;
  }
  return &it->value;
}

const JsonValue* Fields::typed(const JsonValue& obj, std::string_view path, const char* name,
                                bool (JsonValue::*is)() const, std::string_view expected) {
  const JsonValue* v = member(obj, path, name);
  if (!v) return nullptr;
  if (!(v->*is)()) {
    fail(join_path(path, name), fmt::format("must be {}, got {}", expected, type_name(*v)));
    return nullptr;
  }
  return v;
}

const JsonValue* Fields::optional(const JsonValue& obj, std::string_view path, const char* name) {
  if (!object(obj, path)) return nullptr;
  const auto it = obj.FindMember(name);
  if (it == obj.MemberEnd() || it->value.IsNull()) return nullptr;
  return &it->value;
}

std::string Fields::string(const JsonValue& obj, std::string_view path, const char* name, std::size_t max_len) {
  const JsonValue* v = typed(obj, path, name, &JsonValue::IsString, "a string");
  if (!v) return {};
  std::string s(v->GetString(), v->GetStringLength());
  if (s.empty() || s.size() > max_len)
    fail(join_path(path, name), fmt::format("must have 1 to {} characters, got {}", max_len, s.size()));
  return s;
}

std::string Fields::text(const JsonValue& obj, std::string_view path, const char* name, std::size_t max_len) {
  const JsonValue* v = typed(obj, path, name, &JsonValue::IsString, "a string");
  if (!v) return {};
  if (v->GetStringLength() > max_len) {
    fail(join_path(path, name), fmt::format("must have at most {} bytes, got {}", max_len, v->GetStringLength()));
    return {};
  }
  return std::string(v->GetString(), v->GetStringLength());
}

int Fields::integer(const JsonValue& obj, std::string_view path, const char* name, int min, int max) {
  const JsonValue* v = typed(obj, path, name, &JsonValue::IsInt, "an integer");
  if (!v) return 0;
  const int i = v->GetInt();
  if (i < min || i > max) fail(join_path(path, name), fmt::format("must be in [{}, {}], got {}", min, max, i));
  return i;
}

std::uint64_t Fields::uint64(const JsonValue& obj, std::string_view path, const char* name) {
  const JsonValue* v = member(obj, path, name);
  if (!v) return 0;
  if (!v->IsUint64()) {
    fail(join_path(path, name), fmt::format("must be an integer in [0, 2^64), got {}",
                                            v->IsInt64() ? std::to_string(v->GetInt64()) : std::string(type_name(*v))));
    return 0;
  }
  return v->GetUint64();
}

std::int64_t Fields::int64(const JsonValue& obj, std::string_view path, const char* name, std::int64_t min) {
  const JsonValue* v = typed(obj, path, name, &JsonValue::IsInt64, "a 64-bit integer");
  if (!v) return 0;
  const std::int64_t i = v->GetInt64();
  if (i < min) fail(join_path(path, name), fmt::format("must be at least {}, got {}", min, i));
  return i;
}

bool Fields::boolean(const JsonValue& obj, std::string_view path, const char* name) {
  const JsonValue* v = typed(obj, path, name, &JsonValue::IsBool, "true or false");
  if (!v) return false;
  return v->GetBool();
}

Id Fields::id(const JsonValue& obj, std::string_view path, const char* name) {
  const JsonValue* v = typed(obj, path, name, &JsonValue::IsString, "16 hex digits in a string");
  if (!v) return 0;
  const std::string_view s(v->GetString(), v->GetStringLength());
  const auto parsed = core::parse_hex(s);
  if (!parsed) {
    fail(join_path(path, name), fmt::format("must be 16 hex digits, got {}", quote(s)));
    return 0;
  }
  return *parsed;
}

std::string Fields::bytes(const JsonValue& obj, std::string_view path, const char* name, std::size_t max_bytes) {
  const JsonValue* v = typed(obj, path, name, &JsonValue::IsString, "a base64 string");
  if (!v) return {};
  const std::string_view b64(v->GetString(), v->GetStringLength());
  // Checked before decoding, so that an oversized value costs no allocation.
  if (b64.size() / 4 * 3 > max_bytes + 2) {
    fail(join_path(path, name), fmt::format("must hold at most {} bytes, got about {}", max_bytes, b64.size() / 4 * 3));
    return {};
  }
  auto bin = crypto::from_base64(b64);
  if (!bin.ok()) {
    fail(join_path(path, name), "must be padded base64 (A-Z a-z 0-9 + /), and is corrupt or truncated");
    return {};
  }
  if (bin->size() > max_bytes) {
    fail(join_path(path, name), fmt::format("must hold at most {} bytes, got {}", max_bytes, bin->size()));
    return {};
  }
  return std::move(bin).value();
}

const JsonValue* Fields::array(const JsonValue& obj, std::string_view path, const char* name, std::size_t max_len) {
  const JsonValue* v = typed(obj, path, name, &JsonValue::IsArray, "an array");
  if (!v) return nullptr;
  if (v->Size() > max_len) {
    fail(join_path(path, name), fmt::format("must have at most {} entries, got {}", max_len, v->Size()));
    return nullptr;
  }
  return v;
}

void FieldWriter::id(const char* name, Id v) {
  key(name);
  write_string(w_, core::to_hex(v));
}

void FieldWriter::write_base64(std::string_view bytes) { write_string(w_, crypto::to_base64(bytes)); }

}  // namespace dws::net
