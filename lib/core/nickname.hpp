// Nicknames: 1 to 32 of [a-z0-9_.-], upper case folded to lower case
// (DESIGN.md section 2). A nickname names a user's record, mailbox and ring
// key, so every layer checks it through these two functions.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "dwhatsapp/status.hpp"

namespace dws::core {

inline constexpr std::size_t kMaxNicknameLength = 32;

/// What a person typed, folded to the stored form ("Alice" -> "alice").
/// kInvalidArgument saying what is wrong and what is allowed:
/// "nickname 'Al ice' has a space: use a-z, 0-9, '_', '.', '-'".
Result<std::string> fold_nickname(std::string_view typed);

/// Checks a nickname that must already be in stored form (on the wire, in a
/// record): as fold_nickname, and upper case is an error too.
Status check_nickname(std::string_view nickname);

}  // namespace dws::core
