// PositionTransport alone: calls to the node's own positions are answered
// in process by the position they name, the rest go to the network
// transport, and call_all keeps the order of its calls.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "core/messages.hpp"
#include "node/positions.hpp"

namespace dws::node {
namespace {

// Answers every call with a ring info naming who answered.
class Recorder final : public core::Transport {
 public:
  std::vector<std::string> called;
  Result<core::Response> call(const core::Address& to, const core::Request&, core::Deadline) override {
    called.push_back(to);
    core::InfoResp r;
    r.info.ring_name = "remote " + to;
    return core::Response(r);
  }
};

std::string who(const Result<core::Response>& r) {
  REQUIRE(r.ok());
  return std::get<core::InfoResp>(*r).info.ring_name;
}

TEST_CASE("positions: own positions answer in process, by position; others go out") {
  Recorder remote;
  std::vector<std::size_t> local;
  PositionTransport t(remote, [&](std::size_t i, const core::Request&) -> Result<core::Response> {
    local.push_back(i);
    core::InfoResp r;
    r.info.ring_name = "local #" + std::to_string(i);
    return core::Response(r);
  });
  t.set_addresses({"h:1", "h:1#1", "h:1#2"});
  CHECK(who(t.call("h:1#2", core::InfoReq{}, {})) == "local #2");
  CHECK(who(t.call("h:1", core::InfoReq{}, {})) == "local #0");
  CHECK(who(t.call("h:1#7", core::InfoReq{}, {})) == "remote h:1#7");  // not one of ours
  CHECK(who(t.call("g:1#1", core::InfoReq{}, {})) == "remote g:1#1");
  CHECK(local == std::vector<std::size_t>{2, 0});

  const std::vector<core::Transport::Call> calls{
      {"g:1", core::InfoReq{}}, {"h:1#1", core::InfoReq{}}, {"g:2", core::InfoReq{}}, {"h:1", core::InfoReq{}}};
  auto answers = t.call_all(calls, {});
  REQUIRE(answers.size() == 4);
  CHECK(who(answers[0]) == "remote g:1");
  CHECK(who(answers[1]) == "local #1");
  CHECK(who(answers[2]) == "remote g:2");
  CHECK(who(answers[3]) == "local #0");
  CHECK(remote.called == std::vector<std::string>{"h:1#7", "g:1#1", "g:1", "g:2"});
}

}  // namespace
}  // namespace dws::node
