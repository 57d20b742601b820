#include "notification_db.hpp"

namespace cutover::legacy_sim {
namespace {

std::string column_text(sqlite3_stmt* s, int col) {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s, col));
  return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(s, col))) : std::string();
}

std::uint64_t column_u64(sqlite3_stmt* s, int col) {
  auto v = sqlite3_column_int64(s, col);
  return v < 0 ? 0 : static_cast<std::uint64_t>(v);
}

}  // namespace

std::optional<notification_db> notification_db::open(const std::string& path, std::string& error) {
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr);
  db_ptr db(raw);
  if (rc != SQLITE_OK) {
    error = "cannot open " + path + ": " + (raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc));
    return std::nullopt;
  }
  // Cutover's writer holds short write transactions; WAL lets us read through them, and
  // the timeout covers a checkpoint in progress.
  sqlite3_busy_timeout(db.get(), 5000);
  return notification_db(std::move(db));
}

bool notification_db::prepare(stmt_ptr& out, const std::string& sql, std::string& error) {
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db_.get(), sql.c_str(), static_cast<int>(sql.size()), &raw, nullptr) !=
      SQLITE_OK) {
    error = std::string("sqlite prepare: ") + sqlite3_errmsg(db_.get());
    return false;
  }
  out.reset(raw);
  return true;
}

std::optional<std::vector<stored_notification>> notification_db::read_after(
    const std::vector<std::string>& topics, position after, std::size_t limit, std::string& error) {
  if (!range_ || range_topics_ != topics.size()) {
    std::string sql =
        "SELECT ms, seq, type, data FROM notifications"
        " WHERE (ms > ?1 OR (ms = ?1 AND seq > ?2)) AND topic IN (";
    for (std::size_t i = 0; i < topics.size(); ++i)
      sql += i ? ",?" + std::to_string(i + 4) : "?" + std::to_string(i + 4);
    sql += ") ORDER BY ms, seq LIMIT ?3";
    if (!prepare(range_, sql, error)) return std::nullopt;
    range_topics_ = topics.size();
  }
  sqlite3_stmt* s = range_.get();
  sqlite3_reset(s);
  sqlite3_bind_int64(s, 1, static_cast<sqlite3_int64>(after.ms));
  sqlite3_bind_int64(s, 2, static_cast<sqlite3_int64>(after.seq));
  sqlite3_bind_int64(s, 3, static_cast<sqlite3_int64>(limit));
  for (std::size_t i = 0; i < topics.size(); ++i)
    sqlite3_bind_text(s, static_cast<int>(i + 4), topics[i].data(),
                      static_cast<int>(topics[i].size()), SQLITE_TRANSIENT);
  std::vector<stored_notification> out;
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW)
    out.push_back({column_u64(s, 0), column_u64(s, 1), column_text(s, 2), column_text(s, 3)});
  sqlite3_reset(s);  // ends the read transaction so the writer can checkpoint meanwhile
  if (rc != SQLITE_DONE) {
    error = std::string("sqlite read: ") + sqlite3_errmsg(db_.get());
    return std::nullopt;
  }
  return out;
}

std::optional<std::uint64_t> notification_db::newest_legacy_id(std::string& error) {
  if (!newest_ &&
      !prepare(newest_, "SELECT ms, seq FROM notifications ORDER BY ms DESC, seq DESC LIMIT 1",
               error))
    return std::nullopt;
  sqlite3_stmt* s = newest_.get();
  sqlite3_reset(s);
  int rc = sqlite3_step(s);
  std::uint64_t out = rc == SQLITE_ROW ? legacy_id(column_u64(s, 0), column_u64(s, 1)) : 0;
  sqlite3_reset(s);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
    error = std::string("sqlite read: ") + sqlite3_errmsg(db_.get());
    return std::nullopt;
  }
  return out;
}

}  // namespace cutover::legacy_sim
