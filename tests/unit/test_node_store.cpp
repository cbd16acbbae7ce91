// A node's record store on a real data directory: made 0700, records kept
// across a reopen, and a second node refused while the first holds it.
#include <doctest/doctest.h>

#include <sys/stat.h>

#include <string>

#include "core/record.hpp"
#include "node/node_store.hpp"
#include "support/test_support.hpp"

namespace dws::node {
namespace {

NodeOptions in(const std::string& dir) {
  NodeOptions o;
  o.data_dir = dir;
  o.map_size = std::uint64_t{16} << 20;
  return o;
}

TEST_CASE("node store: the data directory is made 0700 and its records survive a reopen") {
  test::TempDir dir("dws-node-store");
  const NodeOptions o = in(dir.sub("data"));
  {
    auto store = NodeStore::open(o);
    REQUIRE(store.ok());
    REQUIRE((*store)->records().merge(core::Record{42, "", 3, false, 0, "payload"}, 0).ok());
    REQUIRE((*store)->flush().ok());
  }
  struct stat st {};
  REQUIRE(::stat(o.data_dir.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0700);
  auto again = NodeStore::open(o);
  REQUIRE(again.ok());
  auto got = (*again)->records().get(42, "");
  REQUIRE(got.ok());
  REQUIRE(got->has_value());
  CHECK((*got)->payload == "payload");
  CHECK((*got)->version == 3);
}

TEST_CASE("node store: a second node on the same data directory is refused until the first closes") {
  test::TempDir dir("dws-node-lock");
  const NodeOptions o = in(dir.sub("data"));
  auto first = NodeStore::open(o);
  REQUIRE(first.ok());
  REQUIRE((*first)->records().merge(core::Record{7, "x", 1, false, 0, "kept"}, 0).ok());
  auto second = NodeStore::open(o);
  REQUIRE_FALSE(second.ok());
  CHECK(second.status().code() == Code::kUnavailable);
  CHECK(second.status().message().find("another dws-node is using the data directory " + o.data_dir) !=
        std::string::npos);
  // The refusal touched nothing: the first still reads its record.
  auto kept = (*first)->records().get(7, "x");
  REQUIRE(kept.ok());
  CHECK(kept->has_value());
  first->reset();
  CHECK(NodeStore::open(o).ok());
}

TEST_CASE("node store: without a data directory the records live in memory") {
  auto store = NodeStore::open(NodeOptions{});
  REQUIRE(store.ok());
  REQUIRE((*store)->records().merge(core::Record{1, "", 1, false, 0, "m"}, 0).ok());
  CHECK((*store)->records().get(1, "")->has_value());
}

}  // namespace
}  // namespace dws::node
