// Ring identifiers: hashing names onto the 64-bit ring and interval tests.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "dwhatsapp/types.hpp"

namespace dws::core {

/// First 8 bytes, big-endian, of BLAKE2b-256 of `name` (DESIGN.md section 2).
Id id_of(std::string_view name);
/// id("node:" + address): a node's position, stable across restarts.
Id node_id(std::string_view address);
/// A node with virtual nodes sits at several ring positions: the first at
/// its address "host:port", the others at "host:port#<i>" (i = 1, 2, ...),
/// each with node_id of that string.
std::string position_address(std::string_view host_address, int position);
/// The physical node a position's address belongs to: the address up to '#'.
/// Copies of a record go to distinct physical nodes.
std::string_view host_of(std::string_view address);
/// The position within its physical node: the number after '#', 0 without
/// one, -1 when what follows '#' is not a number in 1..999.
int position_of(std::string_view address);
/// id("user:" + nickname): where a user's record and mailbox live.
Id user_key(std::string_view nickname);

/// True when x lies strictly between a and b going clockwise: x in (a, b).
/// When a == b the interval is the whole ring except a.
bool between(Id a, Id x, Id b);
/// True when x in (a, b] going clockwise. When a == b this is the whole ring.
bool in_half_open(Id a, Id x, Id b);

/// Clockwise distance from a to b.
inline Id distance(Id a, Id b) { return b - a; }

/// 16 lower-case hex digits, the only form ids take in JSON.
std::string to_hex(Id id);
/// Parses exactly 16 hex digits (either case); nullopt otherwise.
std::optional<Id> parse_hex(std::string_view text);

}  // namespace dws::core
