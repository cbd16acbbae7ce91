// The user surface's request parsers (lib/node/api_parse.hpp): every JSON
// body, the {nick} of /v1/users/{nick} and every query parameter the
// handlers read. The first input byte picks the parser (and, for an integer
// parameter, its bounds); the rest is the body, the path after /v1/users/,
// or the query string as the server decodes it. Nothing may crash, hang or
// leak; an error must be kInvalidArgument (or kPayloadTooLarge) with a
// message; what parses must hold what the parser promises.
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include "core/envelope.hpp"
#include "core/mailbox.hpp"
#include "core/nickname.hpp"
#include "core/devices.hpp"
#include "net/devices_json.hpp"
#include "net/http_parse.hpp"
#include "node/api_parse.hpp"

namespace {

namespace parse = dws::node::parse;

template <class T>
bool checked(const dws::Result<T>& r) {
  if (!r.ok()) {
    const dws::Code c = r.status().code();
    if (r.status().message().empty() || (c != dws::Code::kInvalidArgument && c != dws::Code::kPayloadTooLarge))
      __builtin_trap();
  }
  return r.ok();
}

void stored_form(std::string_view nick) {
  if (!dws::core::check_nickname(nick).ok()) __builtin_trap();
}

struct Bounds {
  std::int64_t fallback, min, max;
};

// The handlers' bounds (wait, mailbox limit, user list limit), then the widest.
constexpr Bounds kBounds[] = {
    {0, 0, 3600},
    {100, 1, dws::core::kMaxMailboxList},
    {50, 1, 500},
    {0, std::numeric_limits<std::int64_t>::min(), std::numeric_limits<std::int64_t>::max()},
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  dws::net::WireRequest w;
  w.method = "GET";
  w.path = "/v1/mailbox";
  w.query = dws::net::http::parse_query(in);
  switch (data[0] % 9) {
    case 0:
      if (auto a = parse::account(in); checked(a)) {
        if (a->nickname.size() > 64 || a->display_name.size() > 1024) __builtin_trap();
      }
      break;
    case 1:
      if (auto e = parse::envelope(in); checked(e)) {
        auto back = dws::core::from_view(dws::core::to_view(*e));
        if (!back.ok() || !(*back == *e)) __builtin_trap();
        auto decoded = dws::core::decode_envelope(dws::core::encode_envelope(*e));
        if (!decoded.ok() || !(*decoded == *e)) __builtin_trap();
      }
      break;
    case 2:
      if (auto l = parse::login(in); checked(l)) stored_form(l->nickname);
      break;
    case 3:
      (void)checked(parse::deletion(in));
      (void)checked(parse::session_open(in));
      break;
    case 4:
      if (auto acks = parse::acks(in); checked(acks)) {
        if (acks->entries.size() > parse::kMaxAckIds) __builtin_trap();
        if (!acks->device.empty() && !dws::core::check_device_id(acks->device).ok()) __builtin_trap();
        for (const auto& a : acks->entries) {
          stored_form(a.from);
          if (!dws::core::MessageId::parse(a.id.hex()).ok()) __builtin_trap();
        }
      }
      // PUT /v1/devices: what parses is a list within the limits, and its
      // JSON form reads back the same.
      if (auto list = dws::net::parse_device_list_json(in); checked(list)) {
        if (!dws::core::check_device_list(*list).ok()) __builtin_trap();
        auto again = dws::net::parse_device_list_json(dws::net::device_list_json(*list));
        if (!again.ok() || !(*again == *list)) __builtin_trap();
      }
      break;
    case 5: {
      // The path as the router hands it (the server percent-decoded it).
      w.path = "/v1/users/" + std::string(in);
      if (auto nick = parse::path_nick(w); checked(nick)) stored_form(*nick);
      w.path = std::string(in);
      (void)checked(parse::path_nick(w));
      break;
    }
    case 6: {
      const Bounds b = kBounds[(data[0] / 9) % 4];
      auto n = parse::int_param(w, "limit", b.fallback, b.min, b.max);
      if (checked(n)) {
        if (!w.param("limit") && *n != b.fallback) __builtin_trap();
        if (w.param("limit") && (*n < b.min || *n > b.max)) __builtin_trap();
      }
      break;
    }
    case 7:
      if (auto id = parse::message_id_param(w, "after"); checked(id) && !id->empty()) {
        auto again = dws::core::MessageId::parse(*id);
        if (!again.ok() || again->hex() != *id) __builtin_trap();
      }
      if (auto device = parse::device_param(w); checked(device) && !device->empty())
        if (!dws::core::check_device_id(*device).ok()) __builtin_trap();
      break;
    default:
      if (auto prefix = parse::nick_prefix_param(w, "prefix"); checked(prefix) && !prefix->empty())
        stored_form(*prefix);
      break;
  }
  return 0;
}
