// The web page's files (launchers/web/), compiled into dws-chat by
// launchers/web/embed.py.
#pragma once

#include <cstddef>
#include <string_view>

namespace dws_chat {

struct WebAsset {
  std::string_view name;          // file name, e.g. "app.js"
  std::string_view content_type;  // for the Content-Type header
  const char* data;
  std::size_t size;
};

/// The file called `name`, or nullptr.
const WebAsset* find_web_asset(std::string_view name);

}  // namespace dws_chat
