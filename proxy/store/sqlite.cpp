#include "store/sqlite.hpp"

namespace cutover::store::sql {

error last_error(sqlite3* db, std::string_view context) {
  std::string msg(context);
  if (db) {
    msg += ": ";
    msg += sqlite3_errmsg(db);
    return error{std::move(msg), sqlite_code(sqlite3_extended_errcode(db))};
  }
  return error{std::move(msg), sqlite_code(SQLITE_ERROR)};
}

result<db_handle> open(const std::string& path, open_mode mode) {
  sqlite3* raw = nullptr;
  int flags = SQLITE_OPEN_READWRITE | (mode == open_mode::create ? SQLITE_OPEN_CREATE : 0) |
              SQLITE_OPEN_NOMUTEX;
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  db_handle db(raw);
  if (rc != SQLITE_OK) {
    std::string msg =
        "cannot open database '" + path + "': " + (raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc));
    return error{std::move(msg), sqlite_code(rc)};
  }
  sqlite3_extended_result_codes(raw, 1);
  return db;
}

status exec(sqlite3* db, std::string_view sql_text, std::string_view context) {
  std::string copy(sql_text);  // sqlite3_exec needs a terminated string
  char* err = nullptr;
  int rc = sqlite3_exec(db, copy.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = std::string(context) + ": " + (err ? err : sqlite3_errstr(rc));
    sqlite3_free(err);
    return error{std::move(msg), sqlite_code(rc)};
  }
  return ok_status();
}

result<statement> statement::prepare(sqlite3* db, std::string_view sql_text) {
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v3(db, sql_text.data(), static_cast<int>(sql_text.size()),
                              SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
  if (rc != SQLITE_OK) return last_error(db, "prepare failed");
  statement s;
  s.s_.reset(raw);
  return s;
}

result<transaction> transaction::begin(sqlite3* db, bool immediate) {
  if (auto st = exec(db, immediate ? "BEGIN IMMEDIATE" : "BEGIN DEFERRED", "begin transaction");
      !st)
    return st.err();
  return transaction(db);
}

transaction::~transaction() {
  if (db_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
}

status transaction::commit() {
  auto st = exec(db_, "COMMIT", "commit");
  if (st) db_ = nullptr;
  return st;
}

result<std::int64_t> pragma_int(sqlite3* db, std::string_view name) {
  auto s = statement::prepare(db, "PRAGMA " + std::string(name));
  if (!s) return s.err();
  if (s->step() != SQLITE_ROW) return last_error(db, "PRAGMA " + std::string(name));
  return s->int64(0);
}

}  // namespace cutover::store::sql
