#include "store/importer.hpp"

#include <chrono>
#include <map>

#include "store/store.hpp"

namespace cutover::store {
namespace {

std::int64_t i64(std::uint64_t v) {
  return static_cast<std::int64_t>(v);
}

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

result<importer> importer::open(const std::string& path) {
  auto db = open_and_migrate(path);
  if (!db) return db.err();
  importer im;
  im.db_ = std::move(*db);
  sqlite3* d = im.db_.get();
  std::pair<sql::statement*, std::string_view> list[] = {
      {&im.insert_,
       "INSERT INTO notifications (ms, seq, topic, type, data, kept_ms, created_at) "
       "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT DO NOTHING"},
      {&im.find_,
       "SELECT topic, type, data, kept_ms FROM notifications WHERE ms = ?1 AND seq = ?2"},
      {&im.bump_topic_,
       "INSERT INTO topics (topic, count) VALUES (?1, ?2) "
       "ON CONFLICT (topic) DO UPDATE SET count = count + excluded.count"},
      {&im.get_meta_, "SELECT value FROM meta WHERE key = ?1"},
      {&im.put_meta_,
       "INSERT INTO meta (key, value) VALUES (?1, ?2) "
       "ON CONFLICT (key) DO UPDATE SET value = excluded.value"},
  };
  for (auto [slot, text] : list) {
    auto s = sql::statement::prepare(d, text);
    if (!s) return s.err();
    *slot = std::move(*s);
  }
  return im;
}

result<std::optional<stream_id>> importer::oldest_ingested() {
  // Imported rows come first in id order; start the search after them.
  stream_id after;
  {
    sql::scoped_reset r(get_meta_);
    get_meta_.bind(1, std::string_view("imported_through"));
    int rc = get_meta_.step();
    if (rc == SQLITE_ROW) {
      if (auto id = parse_stream_id(get_meta_.text(0))) after = *id;
    } else if (rc != SQLITE_DONE) {
      return sql::last_error(db_.get(), "read the imported range");
    }
  }
  auto s = sql::statement::prepare(db_.get(),
                                   "SELECT ms, seq FROM notifications WHERE (ms, seq) > (?1, ?2) "
                                   "AND kept_ms IS NULL ORDER BY ms, seq LIMIT 1");
  if (!s) return s.err();
  s->bind(1, i64(after.ms)).bind(2, i64(after.seq));
  int rc = s->step();
  if (rc == SQLITE_DONE) return std::optional<stream_id>();
  if (rc != SQLITE_ROW) return sql::last_error(db_.get(), "read the oldest ingested entry");
  return std::optional<stream_id>(
      stream_id{static_cast<std::uint64_t>(s->int64(0)), static_cast<std::uint64_t>(s->int64(1))});
}

result<std::optional<std::uint64_t>> importer::recorded_offset() {
  sql::scoped_reset r(get_meta_);
  get_meta_.bind(1, std::string_view("legacy_id_offset"));
  int rc = get_meta_.step();
  if (rc == SQLITE_DONE) return std::optional<std::uint64_t>();
  if (rc != SQLITE_ROW) return sql::last_error(db_.get(), "read the recorded id offset");
  auto v = parse_legacy_id(get_meta_.text(0));
  if (!v)
    return error{"meta legacy_id_offset is not a number: '" + std::string(get_meta_.text(0)) + "'"};
  return std::optional<std::uint64_t>(*v);
}

result<import_outcome> importer::store(std::span<const import_row> rows, std::uint64_t offset) {
  sqlite3* d = db_.get();
  auto tx = sql::transaction::begin(d);
  if (!tx) return tx.err();
  import_outcome out;
  const std::int64_t now = wall_ms();
  std::map<std::string_view, std::int64_t> per_topic;
  std::optional<stream_id> newest;
  {
    sql::scoped_reset r(get_meta_);
    get_meta_.bind(1, std::string_view("imported_through"));
    if (get_meta_.step() == SQLITE_ROW) newest = parse_stream_id(get_meta_.text(0));
  }
  for (const auto& row : rows) {
    {
      sql::scoped_reset r(insert_);
      insert_.bind(1, i64(row.id.ms)).bind(2, i64(row.id.seq));
      insert_.bind_static(3, row.topic).bind_static(4, row.type).bind_static(5, row.data);
      insert_.bind(6, i64(row.kept_ms)).bind(7, now);
      if (insert_.step() != SQLITE_DONE)
        return sql::last_error(d, "insert imported entry " + row.id.str());
    }
    if (sqlite3_changes(d) == 1) {
      ++out.stored;
      ++per_topic[row.topic];
      if (!newest || *newest < row.id) newest = row.id;
      continue;
    }
    sql::scoped_reset r(find_);
    find_.bind(1, i64(row.id.ms)).bind(2, i64(row.id.seq));
    if (find_.step() != SQLITE_ROW) return sql::last_error(d, "look up entry " + row.id.str());
    bool same = find_.text(0) == row.topic && find_.text(1) == row.type &&
                find_.text(2) == row.data && !find_.is_null(3) &&
                find_.int64(3) == i64(row.kept_ms);
    if (same)
      ++out.already;
    else
      out.conflicts.emplace_back(
          row.line, "stream id " + row.id.str() + " is already taken by a different entry");
  }
  for (const auto& [topic, n] : per_topic) {
    sql::scoped_reset r(bump_topic_);
    bump_topic_.bind_static(1, topic).bind(2, n);
    if (bump_topic_.step() != SQLITE_DONE) return sql::last_error(d, "count topic");
  }
  auto put = [&](std::string_view key, const std::string& value) -> status {
    sql::scoped_reset r(put_meta_);
    put_meta_.bind(1, key).bind(2, value);
    if (put_meta_.step() != SQLITE_DONE) return sql::last_error(d, "record the import");
    return ok_status();
  };
  if (auto st = put("legacy_id_offset", std::to_string(offset)); !st) return st.err();
  if (newest)
    if (auto st = put("imported_through", newest->str()); !st) return st.err();
  if (auto st = tx->commit(); !st) return st.err();
  return out;
}

}  // namespace cutover::store
