// The peer surface's request and answer parsers: every endpoint of the codec
// table (lib/net/json_codec.cpp), fed arbitrary queries and bodies. The first
// input byte picks the endpoint; up to the first newline is the query string,
// the rest the body. Nothing may crash, hang or leak; a request that decodes
// must encode and decode again to the same endpoint.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "core/messages.hpp"
#include "net/json_codec.hpp"

namespace {

template <std::size_t... I>
std::vector<dws::core::Request> every_request(std::index_sequence<I...>) {
  return {dws::core::Request(std::variant_alternative_t<I, dws::core::Request>{})...};
}

// "a=1&b=x%20y" as the server would have decoded it.
dws::net::QueryParams parse_query(std::string_view q) {
  dws::net::QueryParams out;
  while (!q.empty()) {
    const auto amp = q.find('&');
    const std::string_view pair = q.substr(0, amp);
    const auto eq = pair.find('=');
    out.emplace_back(std::string(pair.substr(0, eq)), eq == std::string_view::npos ? "" : std::string(pair.substr(eq + 1)));
    if (amp == std::string_view::npos) break;
    q.remove_prefix(amp + 1);
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const auto routes = dws::net::ring_routes();
  static const auto requests = every_request(std::make_index_sequence<std::variant_size_v<dws::core::Request>>{});
  if (size < 1) return 0;
  const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  const auto nl = in.find('\n');
  const std::string_view query = in.substr(0, nl);
  const std::string_view body = nl == std::string_view::npos ? std::string_view() : in.substr(nl + 1);

  const auto& route = routes[data[0] % routes.size()];
  dws::net::WireRequest wire;
  wire.method = std::string(route.method);
  wire.path = std::string(route.path);
  wire.query = parse_query(query);
  wire.body = std::string(body);
  auto decoded = dws::net::decode_request(wire);
  if (decoded.ok()) {
    const dws::net::WireRequest again = dws::net::encode_request(*decoded);
    auto twice = dws::net::decode_request(again);
    if (!twice.ok() || twice->index() != decoded->index()) __builtin_trap();
  }

  // The client side: a peer's answer to each kind of request, as a success
  // and as an error.
  const auto& request = requests[data[0] % requests.size()];
  (void)dws::net::decode_reply(request, 200, in);
  (void)dws::net::decode_reply(request, 421, in);
  return 0;
}
