#include "node/node_store.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "core/record.hpp"
#include "store/lmdb_store.hpp"
#include "store/memory_store.hpp"

namespace dws::node {

NodeStore::~NodeStore() {
  records_.reset();
  store_.reset();
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

Status NodeStore::lock(const std::string& data_dir) {
  const std::string path = data_dir + "/LOCK";
  lock_fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd_ < 0) return Status::Internal(fmt::format("cannot open {}: {}", path, std::strerror(errno)));
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0)
    return Status::Unavailable(fmt::format("another dws-node is using the data directory {}: stop it first, or "
                                           "give this one another --data",
                                           data_dir));
  return Status::Ok();
}

Result<std::unique_ptr<NodeStore>> NodeStore::open(const NodeOptions& o, int digest_bits) {
  std::unique_ptr<NodeStore> out(new NodeStore());
  if (o.data_dir.empty()) {
    out->store_ = std::make_unique<store::MemoryStore>();
  } else {
    std::error_code ec;
    std::filesystem::create_directories(o.data_dir, ec);
    if (!ec)
      std::filesystem::permissions(o.data_dir, std::filesystem::perms::owner_all,
                                   std::filesystem::perm_options::replace, ec);
    if (ec)
      return Status::Internal(
          fmt::format("cannot create the data directory {} with mode 0700: {}", o.data_dir, ec.message()));
    if (Status s = out->lock(o.data_dir); !s.ok()) return s;
    store::LmdbOptions lo;
    lo.fsync = o.fsync;
    if (o.map_size != 0) lo.map_size = o.map_size;
    auto lmdb = store::LmdbStore::open(o.data_dir, lo);
    if (!lmdb.ok()) return lmdb.status();
    out->store_ = std::move(lmdb).value();
  }
  auto rs = core::RecordStore::open(*out->store_, core::RecordStoreOptions{.fine_bits = digest_bits});
  if (!rs.ok())
    return Status(rs.status().code(), fmt::format("cannot open the records in {}: {}",
                                                  o.data_dir.empty() ? std::string("memory") : o.data_dir,
                                                  rs.status().message()));
  out->records_ = std::move(rs).value();
  return out;
}

Status NodeStore::flush() { return store_->flush(); }

}  // namespace dws::node
