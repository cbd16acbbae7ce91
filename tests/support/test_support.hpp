// Small helpers shared by the C++ tests and benchmarks. Header-only on
// purpose: each test and benchmark is its own executable and none of them
// should need another library to link.
#pragma once

#include <stdlib.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>

namespace dws::test {

// A fresh directory under the system temp directory, removed with all it
// holds when the object goes. Failure to create one throws
// std::runtime_error naming the path: doctest reports it as a failed test
// case, and a benchmark's main may catch it or let it end the process.
class TempDir {
 public:
  explicit TempDir(std::string_view prefix) {
    std::string pattern = (std::filesystem::temp_directory_path() / (std::string(prefix) + "-XXXXXX")).string();
    if (::mkdtemp(pattern.data()) == nullptr)
      throw std::runtime_error("mkdtemp failed for " + pattern + ": " + std::strerror(errno));
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  std::string path() const { return path_.string(); }
  std::string sub(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// Polls condition every `poll` until it holds (true) or `limit` has passed
// (false): the way tests wait for another thread or node instead of sleeping.
template <typename F>
bool wait_for(F condition, std::chrono::milliseconds limit,
              std::chrono::milliseconds poll = std::chrono::milliseconds(20)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(poll);
  }
  return true;
}

}  // namespace dws::test
