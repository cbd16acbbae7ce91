// How core messages travel over HTTP: method, path with query, JSON body.
// The server (lib/node) and the client (HttpTransport) share this one codec,
// so both sides always agree on the wire format.
//
// Every endpoint is one row of a table in json_codec.cpp (method, path,
// request encoder and decoder, response type); adding a message means adding
// its row and its JSON reader and writer there. Decoders never trust their
// input: anything malformed is kInvalidArgument naming the field.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/messages.hpp"
#include "dwhatsapp/status.hpp"
#include "dwhatsapp/types.hpp"

namespace dws::net {

using QueryParams = std::vector<std::pair<std::string, std::string>>;

/// An HTTP request as the codec sees it: no headers, no connection.
struct WireRequest {
  std::string method;  // "GET" or "POST"
  std::string path;    // "/v1/ring/closest"
  QueryParams query;   // decoded names and values, in order
  std::string body;    // JSON for POST, empty for GET
  // Filled by the server only: the request's headers, and its target as on
  // the request line (what signed requests are signed over).
  QueryParams headers;
  std::string raw_target;
  // Filled by the server only: the connecting peer's IP address ("127.0.0.1",
  // "::1"), which per-address limits count by.
  std::string remote_address;

  /// The first value of header `name` (case-insensitive), or nullptr.
  const std::string* header(std::string_view name) const;
  /// path plus the percent-encoded query: what goes on the request line.
  std::string target() const;
  /// The first value of query parameter `name`, or nullptr.
  const std::string* param(std::string_view name) const;
};

/// An HTTP response as the codec sees it.
struct WireResponse {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  QueryParams headers;  // extra response headers (Retry-After)
};

/// An endpoint a server must route to the codec.
struct Route {
  std::string_view method;
  std::string_view path;
};

/// Every endpoint that carries a core::Request, in table order.
std::vector<Route> ring_routes();

/// The HTTP form of a request (client side).
WireRequest encode_request(const core::Request& request);
/// The request an HTTP request carries (server side). kNotFound when no
/// endpoint has this method and path; kInvalidArgument naming the field when
/// the query or body is malformed.
Result<core::Request> decode_request(const WireRequest& wire);

/// The HTTP form of a successful answer (server side).
WireResponse encode_response(const core::Response& response);
/// The HTTP form of an error: {"error":{"code","message","primary"?}} with
/// the status http_status(code); `primary` (421 not_responsible only) names
/// the node to ask instead, and is left out when empty.
WireResponse encode_error(const Status& status, std::string_view primary = {});

/// What an HTTP answer to `request` means (client side): the response for a
/// 2xx status, else the Status the error body names. A malformed 2xx body is
/// kInvalidArgument naming the field.
Result<core::Response> decode_reply(const core::Request& request, int http_status, std::string_view body);

/// What an error body {"error":{"code","message","primary"?}} holds: each
/// member that is there as a string. nullopt when the body is not JSON or
/// has no "error" object (a proxy's page, not a node's answer).
struct ErrorBody {
  std::optional<std::string> code;
  std::optional<std::string> message;
  std::optional<std::string> primary;  // only with 421 not_responsible
};
std::optional<ErrorBody> read_error_body(std::string_view body);

/// {"id","address"} objects, as GET /v1/ring/nodes answers.
std::string encode_peers(const std::vector<PeerInfo>& peers);
/// One {"id","address"} object, as GET /v1/users/{nick}/node answers.
std::string encode_peer(const PeerInfo& peer);
/// {"id","address"}, as GET /v1/health extends it.
std::string encode_health(const PeerInfo& self);

/// The code an HTTP status stands for when the body does not say (404 ->
/// kNotFound, 503 -> kUnavailable, unknown -> kInternal).
Code code_for_http_status(int http_status);

}  // namespace dws::net
