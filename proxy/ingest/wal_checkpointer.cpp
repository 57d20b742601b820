#include "ingest/wal_checkpointer.hpp"

namespace cutover::ingest {

wal_checkpointer::wal_checkpointer(const core::logger& log, int threshold_pages,
                                   int inline_limit_pages)
    : log_(log), noisy_(log), threshold_(threshold_pages), inline_limit_(inline_limit_pages) {}

wal_checkpointer::~wal_checkpointer() {
  stop();
}

status wal_checkpointer::start(const std::string& db_path) {
  auto db = store::sql::open(db_path, store::sql::open_mode::existing);
  if (!db) return db.err();
  db_ = std::move(*db);
  thread_ = std::thread([this] { run(); });
  return ok_status();
}

void wal_checkpointer::attach(sqlite3* writer_db) {
  sqlite3_wal_hook(writer_db, &on_commit, this);
}

int wal_checkpointer::on_commit(void* self, sqlite3* db, const char* schema, int wal_pages) {
  auto* me = static_cast<wal_checkpointer*>(self);
  if (wal_pages >= me->inline_limit_) {
    // Between two write transactions the writer's own checkpoint can finish, so the next
    // transaction starts the WAL from its beginning again.
    sqlite3_wal_checkpoint_v2(db, schema, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    return SQLITE_OK;
  }
  if (wal_pages >= me->threshold_) {
    {
      std::lock_guard lk(me->mu_);
      me->due_ = true;
    }
    me->cv_.notify_one();
  }
  return SQLITE_OK;
}

void wal_checkpointer::run() {
  while (true) {
    {
      std::unique_lock lk(mu_);
      cv_.wait(lk, [&] { return due_ || stopping_; });
      if (stopping_) return;
      due_ = false;
    }
    int rc =
        sqlite3_wal_checkpoint_v2(db_.get(), nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    if (rc != SQLITE_OK && rc != SQLITE_BUSY && rc != SQLITE_LOCKED)
      noisy_.line(std::string("store: background WAL checkpoint failed: ") +
                  sqlite3_errmsg(db_.get()));
  }
}

void wal_checkpointer::stop() {
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace cutover::ingest
