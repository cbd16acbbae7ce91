#include "node/positions.hpp"

#include <optional>

#include "core/replication.hpp"
#include "core/ring.hpp"
#include "node/node_store.hpp"

namespace dws::node {

Position::Position() = default;
Position::~Position() {
  replicator.reset();
  ring.reset();
  store.reset();
}

PositionTransport::PositionTransport(core::Transport& remote, Local local) : remote_(remote), local_(std::move(local)) {}

int PositionTransport::local_position(const core::Address& to) const {
  for (std::size_t i = 0; i < addresses_.size(); ++i)
    if (addresses_[i] == to) return static_cast<int>(i);
  return -1;
}

Result<core::Response> PositionTransport::call(const core::Address& to, const core::Request& request,
                                               core::Deadline deadline) {
  const int here = local_position(to);
  if (here >= 0) return local_(static_cast<std::size_t>(here), request);
  return remote_.call(to, request, deadline);
}

std::vector<Result<core::Response>> PositionTransport::call_all(const std::vector<Call>& calls,
                                                                core::Deadline deadline) {
  std::vector<std::optional<Result<core::Response>>> answers(calls.size());
  std::vector<int> here(calls.size());
  std::vector<Call> remote;
  std::vector<std::size_t> remote_index;
  for (std::size_t i = 0; i < calls.size(); ++i) {
    here[i] = local_position(calls[i].to);
    if (here[i] >= 0) continue;
    remote.push_back(calls[i]);
    remote_index.push_back(i);
  }
  if (!remote.empty()) {
    auto r = remote_.call_all(remote, deadline);
    for (std::size_t j = 0; j < r.size() && j < remote_index.size(); ++j) answers[remote_index[j]].emplace(std::move(r[j]));
  }
  for (std::size_t i = 0; i < calls.size(); ++i)
    if (here[i] >= 0) answers[i].emplace(local_(static_cast<std::size_t>(here[i]), calls[i].request));
  std::vector<Result<core::Response>> out;
  out.reserve(calls.size());
  for (auto& a : answers) out.push_back(a ? std::move(*a) : Result<core::Response>(Status::Internal("no answer")));
  return out;
}

}  // namespace dws::node
