#pragma once
// One owner per store (DESIGN §3): `serve` and `import` hold an OS lock (flock) on
// `<db>.lock` for as long as they write the store. The kernel drops the lock when the
// process dies, even by kill -9, so a crash never leaves a stale owner behind. The file
// records the holder's pid and host so a refused second owner can name it. Read-only
// commands (`replay`, `db status`) never take it. Control plane: throws nothing, returns
// result<>.

#include <string>

#include "core/result.hpp"

namespace cutover::store {

class owner_lock {
 public:
  static constexpr error_code kBusy{error_domain::store, 1};  // another process holds the lock

  owner_lock() = default;
  ~owner_lock();
  owner_lock(owner_lock&& o) noexcept : fd_(o.fd_), path_(std::move(o.path_)) { o.fd_ = -1; }
  owner_lock& operator=(owner_lock&& o) noexcept;
  owner_lock(const owner_lock&) = delete;
  owner_lock& operator=(const owner_lock&) = delete;

  // The lock file of the store at `db_path`.
  static std::string path_for(const std::string& db_path) { return db_path + ".lock"; }

  // Takes the lock without waiting. Refused (code kBusy) when another process holds it:
  // the message names the store, the holder's pid and host, and the lock file.
  // `what` names the taker in the holder's record ("serve", "import").
  static result<owner_lock> acquire(const std::string& db_path, const std::string& what);

  // False when the lock file could not be created because nothing may be written beside the
  // store (a read-only file system or directory): opening the store then says why.
  bool held() const noexcept { return fd_ >= 0; }
  const std::string& path() const noexcept { return path_; }

 private:
  int fd_ = -1;
  std::string path_;
};

}  // namespace cutover::store
