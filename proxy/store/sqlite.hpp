#pragma once
// Thin RAII over the SQLite C API in the spirit of SQLiteCpp: a connection, a prepared
// statement that resets itself, and a transaction that rolls back unless committed.
// Used from one thread at a time per connection. Errors are values, never exceptions.

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace cutover::store::sql {

struct db_closer {
  void operator()(sqlite3* db) const noexcept { sqlite3_close_v2(db); }
};
using db_handle = std::unique_ptr<sqlite3, db_closer>;

struct stmt_finalizer {
  void operator()(sqlite3_stmt* s) const noexcept { sqlite3_finalize(s); }
};

// An SQLite result code as an error code of its own domain (never equal to another
// subsystem's code of the same number).
constexpr error_code sqlite_code(int rc) {
  return {error_domain::sqlite, rc};
}

enum class open_mode { create, existing };
// Opens `path` read-write; `existing` refuses to create a missing file. The error names the path.
result<db_handle> open(const std::string& path, open_mode mode);

error last_error(sqlite3* db, std::string_view context);

// Runs one or more statements with no results.
status exec(sqlite3* db, std::string_view sql_text, std::string_view context);

class statement {
 public:
  statement() = default;
  static result<statement> prepare(sqlite3* db, std::string_view sql_text);

  statement& bind(int i, std::int64_t v) noexcept {
    sqlite3_bind_int64(s_.get(), i, v);
    return *this;
  }
  statement& bind(int i, std::string_view v) noexcept {
    sqlite3_bind_text(s_.get(), i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  // Binds without copying; `v` must outlive the step.
  statement& bind_static(int i, std::string_view v) noexcept {
    sqlite3_bind_text(s_.get(), i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
    return *this;
  }
  statement& bind_null(int i) noexcept {
    sqlite3_bind_null(s_.get(), i);
    return *this;
  }

  // SQLITE_ROW, SQLITE_DONE, or an error code.
  int step() noexcept { return sqlite3_step(s_.get()); }
  void reset() noexcept {
    sqlite3_reset(s_.get());
    sqlite3_clear_bindings(s_.get());
  }

  std::int64_t int64(int col) const noexcept { return sqlite3_column_int64(s_.get(), col); }
  std::string_view text(int col) const noexcept {
    auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s_.get(), col));
    return p ? std::string_view(p, static_cast<std::size_t>(sqlite3_column_bytes(s_.get(), col)))
             : std::string_view();
  }
  bool is_null(int col) const noexcept { return sqlite3_column_type(s_.get(), col) == SQLITE_NULL; }

  sqlite3_stmt* get() const noexcept { return s_.get(); }
  explicit operator bool() const noexcept { return static_cast<bool>(s_); }

 private:
  std::unique_ptr<sqlite3_stmt, stmt_finalizer> s_;
};

// Resets a statement when it goes out of scope so its read lock is released.
class scoped_reset {
 public:
  explicit scoped_reset(statement& s) noexcept : s_(s) {}
  ~scoped_reset() { s_.reset(); }
  scoped_reset(const scoped_reset&) = delete;
  scoped_reset& operator=(const scoped_reset&) = delete;

 private:
  statement& s_;
};

// BEGIN IMMEDIATE (or DEFERRED) ... COMMIT; rolls back in the destructor unless committed.
class transaction {
 public:
  static result<transaction> begin(sqlite3* db, bool immediate = true);
  transaction(transaction&& o) noexcept : db_(o.db_) { o.db_ = nullptr; }
  transaction& operator=(transaction&&) = delete;
  ~transaction();
  status commit();

 private:
  explicit transaction(sqlite3* db) : db_(db) {}
  sqlite3* db_;
};

// Reads `PRAGMA user_version` / `application_id` style integer pragmas.
result<std::int64_t> pragma_int(sqlite3* db, std::string_view name);

}  // namespace cutover::store::sql
