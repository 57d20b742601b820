#include "store/owner_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace cutover::store {
namespace {

std::string host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "unknown host";
  return buf;
}

// What the holder wrote: "pid 123 on host h (serve)". Best effort: the file may be empty
// while its holder is between taking the lock and writing (then "unknown").
std::string read_holder(int fd) {
  char buf[512] = {};
  ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
  std::string s = n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  for (char& c : s)
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  return s.empty() ? "an unknown process (it has not written its pid yet)" : s;
}

}  // namespace

owner_lock::~owner_lock() {
  if (fd_ >= 0) ::close(fd_);  // closing the last descriptor releases the flock
}

owner_lock& owner_lock::operator=(owner_lock&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.fd_;
    path_ = std::move(o.path_);
    o.fd_ = -1;
  }
  return *this;
}

result<owner_lock> owner_lock::acquire(const std::string& db_path, const std::string& what) {
  owner_lock l;
  l.path_ = path_for(db_path);
  // O_CLOEXEC: a child (none today) must not keep the store locked after we die.
  l.fd_ = ::open(l.path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (l.fd_ < 0 && (errno == EROFS || errno == EACCES)) {
    // A directory no one may write in: an existing lock file can still be locked; without
    // one no process can write the store here either (SQLite needs its -wal beside it), so
    // go on unlocked and let opening the store say what is wrong with it.
    l.fd_ = ::open(l.path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (l.fd_ < 0) {
      l.path_.clear();
      return l;
    }
  }
  if (l.fd_ < 0)
    return error{"cannot open the store's lock file " + l.path_ + ": " + std::strerror(errno)};
  if (::flock(l.fd_, LOCK_EX | LOCK_NB) != 0) {
    int e = errno;
    if (e == EWOULDBLOCK)
      return error{"store " + db_path + " is already in use by " + read_holder(l.fd_) +
                       " (lock file " + l.path_ +
                       "); one serve or import per store: give this one its own --db",
                   kBusy};
    return error{"cannot lock " + l.path_ + ": " + std::strerror(e)};
  }
  std::string record =
      "pid " + std::to_string(::getpid()) + " on host " + host_name() + " (" + what + ")\n";
  // Rewritten in place; a failure here (a read-only lock file) leaves the lock held and
  // only the record stale.
  if (::ftruncate(l.fd_, 0) == 0) {
    ssize_t n = ::pwrite(l.fd_, record.data(), record.size(), 0);
    (void)n;
  }
  return l;
}

}  // namespace cutover::store
