// A node's records: LMDB under <data_dir>/store, or memory without a data
// directory. The data directory is the node's alone: mode 0700, and
// <data_dir>/LOCK (flock, released by the kernel however the process ends)
// refuses a second node on it, which would take the records for its own.
#pragma once

#include <memory>
#include <string>

#include "dwhatsapp/node.hpp"

namespace dws::core {
class RecordStore;
class Store;
}  // namespace dws::core

namespace dws::node {

/// Not copyable; the lock is held until the NodeStore is destroyed, after
/// the store closes. Safe for concurrent use as core::RecordStore is.
class NodeStore {
 public:
  /// Opens (creating) the records of the node `o` describes: data_dir, fsync,
  /// map_size. kUnavailable when another node holds the directory;
  /// kInternal naming the path when it cannot be made or read.
  /// `digest_bits`: the digest index's size (core::RecordStoreOptions::fine_bits,
  /// 24 bytes x 2^bits); a node's several ring positions each take a smaller
  /// one, since each holds a share of its records (peers agree whatever the size).
  static Result<std::unique_ptr<NodeStore>> open(const NodeOptions& o, int digest_bits = 16);
  ~NodeStore();
  NodeStore(const NodeStore&) = delete;
  NodeStore& operator=(const NodeStore&) = delete;

  core::RecordStore& records() { return *records_; }
  /// Makes every write so far durable (LMDB's sync; nothing in memory).
  Status flush();

 private:
  NodeStore() = default;
  Status lock(const std::string& data_dir);

  int lock_fd_ = -1;  // declared first: released after the store closes
  std::unique_ptr<core::Store> store_;
  std::unique_ptr<core::RecordStore> records_;
};

}  // namespace dws::node
