#pragma once
// Moves SQLite WAL checkpoints (copying committed pages back into the database file, and
// its fsync) off the writer thread: runs on a thread of its own with its own connection, so
// a commit never stalls behind a checkpoint and a backlog drains faster. PASSIVE
// checkpoints never block the writer. The writer thread wakes it from SQLite's WAL hook.

#include <sqlite3.h>

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "core/log.hpp"
#include "core/result.hpp"
#include "store/sqlite.hpp"

namespace cutover::ingest {

class wal_checkpointer {
 public:
  // Checkpoints in the background once the WAL holds `threshold_pages`; past
  // `inline_limit_pages` the writer checkpoints itself once, so a long backlog (which keeps
  // the background from ever catching up fully) cannot grow the WAL without bound.
  wal_checkpointer(const core::logger& log, int threshold_pages, int inline_limit_pages);
  ~wal_checkpointer();
  wal_checkpointer(const wal_checkpointer&) = delete;
  wal_checkpointer& operator=(const wal_checkpointer&) = delete;

  // Opens its own connection to `db_path` and starts the thread.
  status start(const std::string& db_path);
  // Takes over checkpointing for the writer connection (replaces SQLite's autocheckpoint).
  // The writer connection must not commit after this object is destroyed.
  void attach(sqlite3* writer_db);
  void stop();

 private:
  static int on_commit(void* self, sqlite3* db, const char* schema, int wal_pages);
  void run();

  const core::logger& log_;
  core::rate_limited_log noisy_;
  const int threshold_, inline_limit_;
  store::sql::db_handle db_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool due_ = false, stopping_ = false;
  std::thread thread_;
};

}  // namespace cutover::ingest
