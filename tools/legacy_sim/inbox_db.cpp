#include "inbox_db.hpp"

#include <algorithm>

namespace cutover::legacy_sim {
namespace {

// The schema of the old app. Its ids are its own: 1, 2, 3, ... in insertion order.
constexpr const char* kSchema =
    "CREATE TABLE IF NOT EXISTS inbox_events ("
    "  event_id   INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  user_id    TEXT,"
    "  channel    TEXT,"
    "  kind       TEXT NOT NULL,"
    "  body       TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS inbox_by_user ON inbox_events (user_id, event_id);"
    "CREATE INDEX IF NOT EXISTS inbox_by_channel ON inbox_events (channel, event_id);";

std::string column_text(sqlite3_stmt* s, int col) {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s, col));
  return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(s, col))) : std::string();
}

void bind_text_or_null(sqlite3_stmt* s, int i, const std::string& v) {
  if (v.empty())
    sqlite3_bind_null(s, i);
  else
    sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
}

}  // namespace

std::optional<inbox_db> inbox_db::open(const std::string& path, std::string& error, bool create) {
  sqlite3* raw = nullptr;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  db_ptr db(raw);
  if (rc != SQLITE_OK) {
    error = "cannot open " + path + ": " + (raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc));
    return std::nullopt;
  }
  // Writers (the admin route) and readers (polls) overlap; WAL lets polls read through a
  // write, and the timeout covers the rest.
  sqlite3_busy_timeout(db.get(), 5000);
  if (create) {
    char* msg = nullptr;
    if (sqlite3_exec(db.get(), (std::string("PRAGMA journal_mode = WAL;") + kSchema).c_str(),
                     nullptr, nullptr, &msg) != SQLITE_OK) {
      error = std::string("cannot set up the inbox schema in ") + path + ": " +
              (msg ? msg : "unknown error");
      sqlite3_free(msg);
      return std::nullopt;
    }
  }
  return inbox_db(std::move(db));
}

bool inbox_db::prepare(stmt_ptr& out, const std::string& sql, std::string& error) {
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db_.get(), sql.c_str(), static_cast<int>(sql.size()), &raw, nullptr) !=
      SQLITE_OK) {
    error = std::string("sqlite prepare: ") + sqlite3_errmsg(db_.get());
    return false;
  }
  out.reset(raw);
  return true;
}

std::optional<std::vector<inbox_event>> inbox_db::read_after(
    const std::string& user, const std::vector<std::string>& channels, std::uint64_t after,
    std::size_t limit, std::string& error) {
  if (!range_ || range_channels_ != channels.size()) {
    std::string sql =
        "SELECT event_id, user_id, channel, kind, body, created_at FROM inbox_events"
        " WHERE event_id > ?1 AND (user_id = ?3";
    if (!channels.empty()) {
      sql += " OR channel IN (";
      for (std::size_t i = 0; i < channels.size(); ++i)
        sql += (i ? ",?" : "?") + std::to_string(i + 4);
      sql += ")";
    }
    sql += ") ORDER BY event_id LIMIT ?2";
    if (!prepare(range_, sql, error)) return std::nullopt;
    range_channels_ = channels.size();
  }
  sqlite3_stmt* s = range_.get();
  sqlite3_reset(s);
  // SQLite compares signed 64-bit integers; no id is larger than that.
  constexpr std::uint64_t kMaxId = (std::uint64_t{1} << 63) - 1;
  sqlite3_bind_int64(s, 1, static_cast<sqlite3_int64>(std::min(after, kMaxId)));
  sqlite3_bind_int64(s, 2, static_cast<sqlite3_int64>(limit));
  sqlite3_bind_text(s, 3, user.data(), static_cast<int>(user.size()), SQLITE_TRANSIENT);
  for (std::size_t i = 0; i < channels.size(); ++i)
    sqlite3_bind_text(s, static_cast<int>(i + 4), channels[i].data(),
                      static_cast<int>(channels[i].size()), SQLITE_TRANSIENT);
  std::vector<inbox_event> out;
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW)
    out.push_back({static_cast<std::uint64_t>(sqlite3_column_int64(s, 0)), column_text(s, 1),
                   column_text(s, 2), column_text(s, 3), column_text(s, 4),
                   sqlite3_column_int64(s, 5)});
  sqlite3_reset(s);  // ends the read transaction so writers and checkpoints go on meanwhile
  if (rc != SQLITE_DONE) {
    error = std::string("sqlite read: ") + sqlite3_errmsg(db_.get());
    return std::nullopt;
  }
  return out;
}

std::optional<std::uint64_t> inbox_db::insert(const inbox_event& e, std::string& error) {
  if (!insert_ &&
      !prepare(
          insert_,
          "INSERT INTO inbox_events (user_id, channel, kind, body, created_at) VALUES (?1, ?2, "
          "?3, ?4, ?5)",
          error))
    return std::nullopt;
  sqlite3_stmt* s = insert_.get();
  sqlite3_reset(s);
  bind_text_or_null(s, 1, e.user_id);
  bind_text_or_null(s, 2, e.channel);
  sqlite3_bind_text(s, 3, e.kind.data(), static_cast<int>(e.kind.size()), SQLITE_TRANSIENT);
  sqlite3_bind_text(s, 4, e.body.data(), static_cast<int>(e.body.size()), SQLITE_TRANSIENT);
  sqlite3_bind_int64(s, 5, e.created_at);
  int rc = sqlite3_step(s);
  sqlite3_reset(s);
  if (rc != SQLITE_DONE) {
    error = std::string("sqlite insert: ") + sqlite3_errmsg(db_.get());
    return std::nullopt;
  }
  return static_cast<std::uint64_t>(sqlite3_last_insert_rowid(db_.get()));
}

}  // namespace cutover::legacy_sim
