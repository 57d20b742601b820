#pragma once
// The old app's own database: one SQLite table of inbox events with autoincrement ids,
// written the way the old app did it — a connection per request, plain statements, no
// cache. A user reads the events addressed to them plus those of the broadcast channels.
// One object is used by one worker thread at a time (the one holding the request).

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace cutover::legacy_sim {

struct inbox_event {
  std::uint64_t id = 0;  // event_id: AUTOINCREMENT, never reused
  std::string user_id;   // recipient, or empty for a broadcast
  std::string channel;   // broadcast channel, or empty
  std::string kind;
  std::string body;         // JSON text as stored (re-serialised at insert)
  std::int64_t created_at;  // unix seconds
};

class inbox_db {
 public:
  // Opens `path`; with `create`, also creates the file and its schema if needed (done
  // once at start). On failure returns nullopt with `error`.
  static std::optional<inbox_db> open(const std::string& path, std::string& error,
                                      bool create = false);

  // Events for `user` and `channels` with event_id > `after`, oldest first, at most `limit`.
  std::optional<std::vector<inbox_event>> read_after(const std::string& user,
                                                     const std::vector<std::string>& channels,
                                                     std::uint64_t after, std::size_t limit,
                                                     std::string& error);

  // Stores one event; returns its id.
  std::optional<std::uint64_t> insert(const inbox_event& e, std::string& error);

 private:
  struct db_closer {
    void operator()(sqlite3* db) const noexcept { sqlite3_close_v2(db); }
  };
  struct stmt_finalizer {
    void operator()(sqlite3_stmt* s) const noexcept { sqlite3_finalize(s); }
  };
  using db_ptr = std::unique_ptr<sqlite3, db_closer>;
  using stmt_ptr = std::unique_ptr<sqlite3_stmt, stmt_finalizer>;

  explicit inbox_db(db_ptr db) : db_(std::move(db)) {}
  bool prepare(stmt_ptr& out, const std::string& sql, std::string& error);

  db_ptr db_;  // declared first: statements are finalized before the connection closes
  stmt_ptr range_;
  std::size_t range_channels_ = 0;  // how many channel parameters range_ was prepared for
  stmt_ptr insert_;
};

}  // namespace cutover::legacy_sim
