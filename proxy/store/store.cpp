#include "store/store.hpp"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <queue>

#include "core/json_text.hpp"
#include "store/migrations.hpp"

namespace cutover::store {
namespace {

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Before any statement, even the schema check: the first connection after a crash recovers
// the WAL while holding a lock, and one without a busy handler fails at once ("database is
// locked") instead of waiting for it.
void wait_when_busy(sqlite3* db, const open_options& opt) {
  sqlite3_busy_timeout(db, static_cast<int>(opt.busy_timeout.count()));
}

status configure(sqlite3* db, bool writer) {
  std::string pragmas = "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = OFF;";
  if (writer)
    pragmas = "PRAGMA journal_mode = WAL; " + pragmas;
  else
    pragmas += "PRAGMA query_only = ON;";
  return sql::exec(db, pragmas, "configure database");
}

result<sql::statement> prep(sqlite3* db, std::string_view text) {
  return sql::statement::prepare(db, text);
}

// Prepares every statement in `list`, stopping at the first failure.
status prepare_all(sqlite3* db,
                   std::initializer_list<std::pair<sql::statement*, std::string_view>> list) {
  for (auto [slot, text] : list) {
    auto s = prep(db, text);
    if (!s) return s.err();
    *slot = std::move(*s);
  }
  return ok_status();
}

stream_id id_of(std::int64_t ms, std::int64_t seq) {
  return {static_cast<std::uint64_t>(ms), static_cast<std::uint64_t>(seq)};
}

std::int64_t i64(std::uint64_t v) {
  return static_cast<std::int64_t>(v);
}

result<std::map<std::string, stream_digest>> read_digests(sqlite3* d) {
  auto s = prep(d, "SELECT stream, digest, digest_entries FROM ingest_offsets");
  if (!s) return s.err();
  std::map<std::string, stream_digest> out;
  while (true) {
    int rc = s->step();
    if (rc == SQLITE_DONE) return out;
    if (rc != SQLITE_ROW) return sql::last_error(d, "read ingest digests");
    out[std::string(s->text(0))] = {static_cast<std::uint64_t>(s->int64(1)), s->int64(2)};
  }
}

std::string digest_meta_key(const std::string& stream) {
  return "digest_basis:" + stream;
}

// "comparable: ..." or "not comparable: ..." as recorded in meta.
std::optional<digest_basis> read_digest_basis(sqlite3* d, const std::string& stream) {
  auto s = prep(d, "SELECT value FROM meta WHERE key = ?1");
  if (!s) return std::nullopt;
  const std::string key = digest_meta_key(stream);  // bound without a copy: must outlive step()
  s->bind_static(1, key);
  if (s->step() != SQLITE_ROW) return std::nullopt;
  std::string v(s->text(0));
  bool no = v.starts_with("not comparable");
  return digest_basis{!no, v};
}

// Entries stored from one stream up to its offset (imports have a kept time and are not).
result<std::int64_t> stream_entries_held(sqlite3* d, std::uint64_t modulus, std::uint64_t rest,
                                         stream_id offset) {
  auto s = prep(d,
                "SELECT count(*) FROM notifications WHERE kept_ms IS NULL AND seq % ?1 = ?2 AND "
                "(ms, seq) <= (?3, ?4)");
  if (!s) return s.err();
  s->bind(1, static_cast<std::int64_t>(modulus))
      .bind(2, static_cast<std::int64_t>(rest))
      .bind(3, static_cast<std::int64_t>(offset.ms))
      .bind(4, static_cast<std::int64_t>(offset.seq));
  if (s->step() != SQLITE_ROW) return sql::last_error(d, "count a stream's entries");
  return s->int64(0);
}

std::string now_iso() {
  auto t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

result<std::optional<std::uint64_t>> read_oldest_time(sqlite3* d) {
  auto s = prep(d, "SELECT COALESCE(kept_ms, ms) FROM notifications ORDER BY ms, seq LIMIT 1");
  if (!s) return s.err();
  int rc = s->step();
  if (rc == SQLITE_DONE) return std::optional<std::uint64_t>();
  if (rc != SQLITE_ROW) return sql::last_error(d, "read the oldest entry");
  return std::optional<std::uint64_t>(static_cast<std::uint64_t>(s->int64(0)));
}

}  // namespace

std::uint64_t entry_digest(stream_id id, std::string_view topic, std::string_view type,
                           std::string_view data) noexcept {
  std::uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a 64, fields separated by their lengths
  auto add = [&h](std::string_view s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 0x100000001b3ull;
    }
  };
  auto add_num = [&](std::uint64_t v) {
    for (int i = 0; i < 8; ++i) {
      h ^= (v >> (8 * i)) & 0xff;
      h *= 0x100000001b3ull;
    }
  };
  add_num(id.ms);
  add_num(id.seq);
  for (auto f : {topic, type, data}) {
    add_num(f.size());
    add(f);
  }
  // A final mix (splitmix64's): FNV's last bytes barely reach the high bits, and the
  // digest adds hashes, so every bit should depend on every byte.
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebull;
  h ^= h >> 31;
  return h;
}

std::string digest_hex(std::uint64_t value) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i, value >>= 4) out[static_cast<std::size_t>(i)] = kHex[value & 0xf];
  return out;
}

result<sql::db_handle> open_and_migrate(const std::string& path, const open_options& opt,
                                        migrate_report* report) {
  auto db = sql::open(path, sql::open_mode::create);
  if (!db) return db.err();
  // SQLite quietly opens a write-protected file read-only; the store would then start and
  // fail every commit. Say so now instead (file permissions, or a read-only mount).
  if (sqlite3_db_readonly(db->get(), "main") == 1)
    return error{"store '" + path +
                     "' is read-only (file permissions or a read-only file system); "
                     "Cutover must be able to write to it",
                 sql::sqlite_code(SQLITE_READONLY)};
  wait_when_busy(db->get(), opt);
  // Refuse newer/foreign files before anything (even journal_mode) writes to them.
  if (auto v = check_version(db->get(), embedded_migrations()); !v) return v.err();
  if (auto st = configure(db->get(), true); !st) return st.err();
  auto r = migrate(db->get(), embedded_migrations());
  if (!r) return r.err();
  if (report) *report = *r;
  return std::move(*db);
}

// ---- writer ----------------------------------------------------------------

result<writer> writer::open(const std::string& path, const open_options& opt) {
  auto db = open_and_migrate(path, opt);
  if (!db) return db.err();
  writer w;
  w.db_ = std::move(*db);
  sqlite3* d = w.db_.get();
  auto st = prepare_all(
      d,
      {
          {&w.insert_,
           "INSERT INTO notifications (ms, seq, topic, type, data, idem_key, created_at) "
           "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT DO NOTHING"},
          {&w.find_id_, "SELECT topic, type, data FROM notifications WHERE ms = ?1 AND seq = ?2"},
          {&w.insert_dead_,
           "INSERT INTO dead_letters (source, entry_id, raw, reason, created_at) VALUES (?1, ?2, "
           "?3, ?4, ?5)"},
          {&w.upsert_offset_,
           "INSERT INTO ingest_offsets (stream, ms, seq, updated_at, digest, digest_entries) "
           "VALUES (?1, ?2, ?3, ?4, ?5, ?6) "
           "ON CONFLICT (stream) DO UPDATE SET ms = excluded.ms, seq = excluded.seq, updated_at = "
           "excluded.updated_at, digest = excluded.digest, digest_entries = "
           "excluded.digest_entries"},
          {&w.bump_topic_,
           "INSERT INTO topics (topic, count) VALUES (?1, ?2) "
           "ON CONFLICT (topic) DO UPDATE SET count = count + excluded.count"},
          // By the id's time, after the imported range (which keeps times of its own).
          {&w.select_aged_,
           "SELECT id, topic, ms, seq FROM notifications WHERE (ms, seq) > (?3, ?4) AND ms < ?1 "
           "AND kept_ms IS NULL ORDER BY ms, seq LIMIT ?2"},
          {&w.select_aged_kept_,
           "SELECT id, topic, ms, seq FROM notifications WHERE kept_ms IS NOT NULL AND kept_ms < "
           "?1 "
           "ORDER BY kept_ms LIMIT ?2"},
          {&w.select_imported_through_, "SELECT value FROM meta WHERE key = 'imported_through'"},
          {&w.select_over_, "SELECT topic, count FROM topics WHERE count > ?1 LIMIT 64"},
          {&w.select_topic_oldest_,
           "SELECT id, topic, ms, seq FROM notifications WHERE topic = ?1 ORDER BY ms, seq LIMIT "
           "?2"},
          {&w.delete_row_, "DELETE FROM notifications WHERE id = ?1"},
          {&w.mark_pruned_,
           "INSERT INTO topics (topic, count, pruned_ms, pruned_seq) VALUES (?1, -?2, ?3, ?4) "
           "ON CONFLICT (topic) DO UPDATE SET count = count - ?2, "
           "pruned_ms = CASE WHEN pruned_ms IS NULL OR (pruned_ms, pruned_seq) < (?3, ?4) THEN ?3 "
           "ELSE pruned_ms END, "
           "pruned_seq = CASE WHEN pruned_ms IS NULL OR (pruned_ms, pruned_seq) < (?3, ?4) THEN ?4 "
           "ELSE pruned_seq END"},
          {&w.select_oldest_all_, "SELECT ms, seq FROM notifications ORDER BY ms, seq LIMIT 1"},
          // The newest mark below a bound, through topics_by_prune_mark (migration 0006).
          {&w.select_foldable_,
           "SELECT pruned_ms, pruned_seq FROM topics WHERE pruned_ms IS NOT NULL AND "
           "(pruned_ms, pruned_seq) < (?1, ?2) ORDER BY pruned_ms DESC, pruned_seq DESC LIMIT 1"},
          {&w.delete_folded_,
           "DELETE FROM topics WHERE pruned_ms IS NOT NULL AND (pruned_ms, pruned_seq) <= (?1, "
           "?2) AND count <= 0"},
          {&w.clear_folded_,
           "UPDATE topics SET pruned_ms = NULL, pruned_seq = NULL WHERE pruned_ms IS NOT NULL AND "
           "(pruned_ms, pruned_seq) <= (?1, ?2)"},
      });
  if (!st) return st.err();
  auto dg = read_digests(d);
  if (!dg) return dg.err();
  for (auto& [k, v] : *dg) w.digests_.emplace(k, v);
  return w;
}

result<std::optional<std::uint64_t>> writer::oldest_time() {
  return read_oldest_time(db_.get());
}

result<loss_outcome> writer::record_loss(const redis_loss& loss) {
  sqlite3* d = db_.get();
  auto tx = sql::transaction::begin(d);
  if (!tx) return tx.err();
  loss_outcome out;
  // A trim, or delivered entries withdrawn before their commit, only records its range.
  const bool rewinds = loss.kind == "lost";
  if (rewinds) {
    auto s = prep(d, "SELECT ms, seq FROM ingest_offsets WHERE stream = ?1");
    if (!s) return s.err();
    s->bind_static(1, loss.stream);
    if (s->step() != SQLITE_ROW || id_of(s->int64(0), s->int64(1)) != loss.expect_offset)
      return out;  // committed further meanwhile: the reader looks again
  }
  const std::int64_t now = wall_ms();
  auto take = prep(d, "SELECT topic, type, data FROM notifications WHERE ms = ?1 AND seq = ?2");
  auto move = prep(d,
                   "INSERT INTO orphans (stream, entry_id, ms, seq, topic, type, data, idem_key, "
                   "created_at, orphaned_at, reason) SELECT ?3, ?4, ms, seq, topic, type, data, "
                   "idem_key, created_at, ?5, ?6 FROM notifications WHERE ms = ?1 AND seq = ?2");
  auto del = prep(d, "DELETE FROM notifications WHERE ms = ?1 AND seq = ?2");
  auto dec = prep(d, "UPDATE topics SET count = count - 1 WHERE topic = ?1");
  if (!take || !move || !del || !dec)
    return error{"prepare loss statements: " + std::string(sqlite3_errmsg(d))};
  for (const auto& [id, raw] : loss.lost) {
    take->reset();
    take->bind(1, i64(id.ms)).bind(2, i64(id.seq));
    if (take->step() != SQLITE_ROW) continue;
    std::string topic(take->text(0));
    out.removed.push_back(std::make_shared<const notification>(
        id, topic, std::string(take->text(1)), std::string(take->text(2))));
    take->reset();
    move->reset();
    move->bind(1, i64(id.ms)).bind(2, i64(id.seq)).bind_static(3, loss.stream);
    move->bind_static(4, raw).bind(5, now).bind_static(6, loss.detail);
    if (move->step() != SQLITE_DONE) return sql::last_error(d, "move orphan " + id.str());
    del->reset();
    del->bind(1, i64(id.ms)).bind(2, i64(id.seq));
    if (del->step() != SQLITE_DONE) return sql::last_error(d, "remove orphan " + id.str());
    dec->reset();
    dec->bind_static(1, topic);
    if (dec->step() != SQLITE_DONE) return sql::last_error(d, "count orphan " + id.str());
  }
  std::sort(out.removed.begin(), out.removed.end(),
            [](const notification_ptr& a, const notification_ptr& b) { return a->id < b->id; });
  auto range = prep(d,
                    "INSERT INTO lost_ranges (stream, kind, after_ms, after_seq, through_ms, "
                    "through_seq, entries, detected_at, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
                    "?7, ?8, ?9)");
  if (!range) return range.err();
  range->bind_static(1, loss.stream).bind_static(2, loss.kind);
  range->bind(3, i64(loss.after.ms)).bind(4, i64(loss.after.seq));
  range->bind(5, i64(loss.through.ms)).bind(6, i64(loss.through.seq));
  range->bind(7, static_cast<std::int64_t>(out.removed.size())).bind(8, now);
  range->bind_static(9, loss.detail);
  if (range->step() != SQLITE_DONE) return sql::last_error(d, "record lost range");
  std::optional<stream_digest> digest;
  if (rewinds) {
    // The digest goes back to what it was at the agreed entry: orphans are subtracted.
    auto it = digests_.find(loss.stream);
    stream_digest dg = it == digests_.end() ? stream_digest{} : it->second;
    for (const auto& n : out.removed) {
      dg.value -= entry_digest(n->id, n->topic, n->type, n->data);
      --dg.entries;
    }
    digest = dg;
    sql::scoped_reset r(upsert_offset_);
    upsert_offset_.bind_static(1, loss.stream)
        .bind(2, i64(loss.rewind_to.ms))
        .bind(3, i64(loss.rewind_to.seq))
        .bind(4, now)
        .bind(5, i64(dg.value))
        .bind(6, dg.entries);
    if (upsert_offset_.step() != SQLITE_DONE) return sql::last_error(d, "rewind ingest offset");
  }
  if (auto st = tx->commit(); !st) return st.err();
  if (digest) digests_[loss.stream] = *digest;
  out.digest = digest;
  out.applied = true;
  return out;
}

status writer::put_meta(const std::string& key, const std::string& value) {
  auto s = prep(db_.get(),
                "INSERT INTO meta (key, value) VALUES (?1, ?2) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value");
  if (!s) return s.err();
  s->bind_static(1, key).bind_static(2, value);
  if (s->step() != SQLITE_DONE) return sql::last_error(db_.get(), "write meta " + key);
  return ok_status();
}

result<std::optional<digest_basis>> writer::settle_digest(const std::string& stream,
                                                          std::uint64_t modulus,
                                                          std::uint64_t rest) {
  sqlite3* d = db_.get();
  if (auto known = read_digest_basis(d, stream)) return std::optional<digest_basis>(*known);
  auto off = prep(d, "SELECT ms, seq FROM ingest_offsets WHERE stream = ?1");
  if (!off) return off.err();
  off->bind_static(1, stream);
  if (off->step() != SQLITE_ROW) return std::optional<digest_basis>();
  const stream_id offset = id_of(off->int64(0), off->int64(1));
  auto held = stream_entries_held(d, modulus, rest, offset);
  if (!held) return held.err();
  stream_digest now = digests_.count(stream) ? digests_.find(stream)->second : stream_digest{};
  // Retention only ever lowers what is held, so fewer held than covered is the normal case.
  if (*held <= now.entries) return std::optional<digest_basis>();
  // Retention removed entries once (a mark or the floor): what it removed before the digest
  // existed cannot be put back into the sum.
  auto pruned = prep(d,
                     "SELECT EXISTS (SELECT 1 FROM topics WHERE pruned_ms IS NOT NULL) OR EXISTS "
                     "(SELECT 1 FROM meta WHERE key = 'prune_floor')");
  if (!pruned) return pruned.err();
  if (pruned->step() != SQLITE_ROW) return sql::last_error(d, "look for retention marks");
  const bool ever_pruned = pruned->int64(0) != 0;
  auto tx = sql::transaction::begin(d);
  if (!tx) return tx.err();
  digest_basis b;
  if (ever_pruned) {
    b.comparable = false;
    b.note = "not comparable: the store predates the digest (schema 4), it covers " +
             std::to_string(now.entries) + " of " + std::to_string(*held) +
             " entries held, and retention removed entries it can no longer add (found " +
             now_iso() + "); compare instances by their entries, or start one from a snapshot";
  } else {
    stream_digest rebuilt;
    auto rows = prep(d,
                     "SELECT ms, seq, topic, type, data FROM notifications WHERE kept_ms IS NULL "
                     "AND seq % ?1 = ?2 AND (ms, seq) <= (?3, ?4)");
    if (!rows) return rows.err();
    rows->bind(1, static_cast<std::int64_t>(modulus))
        .bind(2, static_cast<std::int64_t>(rest))
        .bind(3, static_cast<std::int64_t>(offset.ms))
        .bind(4, static_cast<std::int64_t>(offset.seq));
    int rc;
    while ((rc = rows->step()) == SQLITE_ROW) {
      rebuilt.value += entry_digest(id_of(rows->int64(0), rows->int64(1)), rows->text(2),
                                    rows->text(3), rows->text(4));
      ++rebuilt.entries;
    }
    if (rc != SQLITE_DONE) return sql::last_error(d, "rebuild the digest of " + stream);
    auto up =
        prep(d, "UPDATE ingest_offsets SET digest = ?2, digest_entries = ?3 WHERE stream = ?1");
    if (!up) return up.err();
    up->bind_static(1, stream)
        .bind(2, static_cast<std::int64_t>(rebuilt.value))
        .bind(3, rebuilt.entries);
    if (up->step() != SQLITE_DONE) return sql::last_error(d, "store the rebuilt digest");
    b.note = "comparable: rebuilt " + now_iso() + " from the " + std::to_string(rebuilt.entries) +
             " entries stored before the digest existed (schema 4) and since";
    now = rebuilt;
  }
  if (auto st = put_meta(digest_meta_key(stream), b.note); !st) return st.err();
  if (auto st = tx->commit(); !st) return st.err();
  digests_[stream] = now;
  return std::optional<digest_basis>(b);
}

status writer::tune(std::size_t cache_kib) {
  return sql::exec(db_.get(),
                   "PRAGMA cache_size = -" + std::to_string(cache_kib) +
                       "; PRAGMA journal_size_limit = 67108864;",
                   "tune the store writer");
}

dead_letter collision_dead_letter(const pending_entry& p) {
  const auto& e = p.entry;
  std::string raw = "{\"topic\":" + json_text::quoted(e.topic) +
                    ",\"type\":" + json_text::quoted(e.type) + ",\"data\":" + e.data + "}";
  return {std::string(p.source), p.id.str(), std::move(raw),
          "id " + p.id.str() + " is already used by a different entry (id collision)"};
}

result<append_outcome> writer::append(const append_batch& batch,
                                      const std::function<bool()>& proceed) {
  sqlite3* d = db_.get();
  auto tx = sql::transaction::begin(d);
  if (!tx) return tx.err();
  append_outcome out;
  if (proceed && !proceed()) {
    out.abandoned = true;
    return out;  // rolled back by the transaction's destructor
  }
  out.duplicate_ids = batch.skipped_duplicate_ids;
  out.duplicate_keys = batch.skipped_duplicate_keys;
  out.added.reserve(batch.entries.size());
  const std::int64_t now = wall_ms();
  std::map<std::string_view, std::int64_t> per_topic;
  std::vector<dead_letter> collisions;
  // Digests as they will be once this commits (the members change only after COMMIT).
  std::map<std::string_view, stream_digest> digest_next;
  for (const auto& o : batch.offsets) {
    auto it = digests_.find(o.stream);
    digest_next[o.stream] = it == digests_.end() ? stream_digest{} : it->second;
  }

  for (const auto& p : batch.entries) {
    const auto& e = p.entry;
    {
      sql::scoped_reset r(insert_);
      insert_.bind(1, i64(p.id.ms)).bind(2, i64(p.id.seq));
      insert_.bind_static(3, e.topic).bind_static(4, e.type).bind_static(5, e.data);
      if (e.key)
        insert_.bind_static(6, *e.key);
      else
        insert_.bind_null(6);
      insert_.bind(7, now);
      if (insert_.step() != SQLITE_DONE)
        return sql::last_error(d, "insert notification " + p.id.str());
    }
    if (sqlite3_changes(d) == 1) {
      ++per_topic[e.topic];
      if (auto dg = digest_next.find(p.source); dg != digest_next.end()) {
        dg->second.value += entry_digest(p.id, e.topic, e.type, e.data);
        ++dg->second.entries;
      }
      out.added.push_back(
          p.shared ? p.shared
                   : std::make_shared<const notification>(p.id, e.topic, e.type, e.data));
      continue;
    }
    // Conflict: the same entry again, another entry with this id, or a repeated key.
    sql::scoped_reset r(find_id_);
    find_id_.bind(1, i64(p.id.ms)).bind(2, i64(p.id.seq));
    int rc = find_id_.step();
    if (rc == SQLITE_ROW) {
      if (find_id_.text(0) == e.topic && find_id_.text(1) == e.type && find_id_.text(2) == e.data) {
        ++out.duplicate_ids;
      } else {
        collisions.push_back(collision_dead_letter(p));
      }
    } else if (rc == SQLITE_DONE) {
      ++out.duplicate_keys;
    } else {
      return sql::last_error(d, "look up conflicting id " + p.id.str());
    }
  }

  auto add_dead = [&](const dead_letter& dl) -> status {
    sql::scoped_reset r(insert_dead_);
    insert_dead_.bind_static(1, dl.source).bind_static(2, dl.entry_id);
    insert_dead_.bind_static(3, dl.raw).bind_static(4, dl.reason).bind(5, now);
    if (insert_dead_.step() != SQLITE_DONE) return sql::last_error(d, "insert dead letter");
    ++out.dead_letters;
    return ok_status();
  };
  for (const auto& dl : batch.dead)
    if (auto st = add_dead(dl); !st) return st.err();
  for (const auto& dl : collisions)
    if (auto st = add_dead(dl); !st) return st.err();

  for (const auto& [topic, n] : per_topic) {
    sql::scoped_reset r(bump_topic_);
    bump_topic_.bind_static(1, topic).bind(2, n);
    if (bump_topic_.step() != SQLITE_DONE) return sql::last_error(d, "count topic");
  }
  for (const auto& o : batch.offsets) {
    const stream_digest& dg = digest_next[o.stream];
    sql::scoped_reset r(upsert_offset_);
    upsert_offset_.bind_static(1, o.stream)
        .bind(2, i64(o.id.ms))
        .bind(3, i64(o.id.seq))
        .bind(4, now)
        .bind(5, i64(dg.value))
        .bind(6, dg.entries);
    if (upsert_offset_.step() != SQLITE_DONE) return sql::last_error(d, "commit ingest offset");
  }
  if (auto st = tx->commit(); !st) return st.err();
  for (const auto& [k, v] : digest_next) {
    digests_[std::string(k)] = v;
    out.digests[std::string(k)] = v;
  }
  return out;
}

result<prune_outcome> writer::prune_chunk(const prune_policy& policy, std::uint64_t now_ms) {
  sqlite3* d = db_.get();
  struct victim {
    std::int64_t row;
    std::string topic;
    stream_id id;
  };
  std::vector<victim> victims;
  auto collect = [&](sql::statement& s) -> status {
    while (true) {
      int rc = s.step();
      if (rc == SQLITE_DONE) return ok_status();
      if (rc != SQLITE_ROW) return sql::last_error(d, "select rows to prune");
      victims.push_back({s.int64(0), std::string(s.text(1)), id_of(s.int64(2), s.int64(3))});
    }
  };
  const auto chunk = static_cast<std::int64_t>(policy.chunk);
  auto tx = sql::transaction::begin(d);
  if (!tx) return tx.err();

  if (policy.max_age) {
    auto age = static_cast<std::uint64_t>(policy.max_age->count());
    std::int64_t cutoff = now_ms > age ? i64(now_ms - age) : 0;
    {
      // Imported entries age by the old app's time, not by their small ids (DESIGN §4).
      sql::scoped_reset r(select_aged_kept_);
      select_aged_kept_.bind(1, cutoff).bind(2, chunk);
      if (auto st = collect(select_aged_kept_); !st) return st.err();
    }
    stream_id after_imported;
    {
      sql::scoped_reset r(select_imported_through_);
      int rc = select_imported_through_.step();
      if (rc == SQLITE_ROW) {
        if (auto id = parse_stream_id(select_imported_through_.text(0))) after_imported = *id;
      } else if (rc != SQLITE_DONE) {
        return sql::last_error(d, "read the imported range");
      }
    }
    if (static_cast<std::int64_t>(victims.size()) < chunk) {
      sql::scoped_reset r(select_aged_);
      select_aged_.bind(1, cutoff)
          .bind(2, chunk - static_cast<std::int64_t>(victims.size()))
          .bind(3, i64(after_imported.ms))
          .bind(4, i64(after_imported.seq));
      if (auto st = collect(select_aged_); !st) return st.err();
    }
  }
  // A chunk is either all by age or all by count, so the two never pick one row twice.
  bool count_more = false;
  if (policy.max_per_topic && victims.empty()) {
    std::vector<std::pair<std::string, std::int64_t>> over;
    {
      sql::scoped_reset r(select_over_);
      select_over_.bind(1, *policy.max_per_topic);
      int rc;
      while ((rc = select_over_.step()) == SQLITE_ROW)
        over.emplace_back(std::string(select_over_.text(0)), select_over_.int64(1));
      if (rc != SQLITE_DONE) return sql::last_error(d, "select topics over their count");
    }
    for (const auto& [topic, count] : over) {
      std::int64_t room = chunk - static_cast<std::int64_t>(victims.size());
      std::int64_t excess = count - *policy.max_per_topic;
      if (room <= 0 || excess > room) count_more = true;
      if (room <= 0) break;
      sql::scoped_reset r(select_topic_oldest_);
      select_topic_oldest_.bind_static(1, topic).bind(2, std::min(room, excess));
      if (auto st = collect(select_topic_oldest_); !st) return st.err();
    }
    if (over.size() >= 64) count_more = true;
  }

  prune_outcome out;
  std::map<std::string, std::int64_t> removed_per_topic;
  for (const auto& v : victims) {
    sql::scoped_reset r(delete_row_);
    delete_row_.bind(1, v.row);
    if (delete_row_.step() != SQLITE_DONE) return sql::last_error(d, "delete pruned row");
    ++removed_per_topic[v.topic];
    auto [it, fresh] = out.marks.emplace(v.topic, v.id);
    if (!fresh && it->second < v.id) it->second = v.id;
  }
  for (const auto& [topic, n] : removed_per_topic) {
    const stream_id& m = out.marks[topic];
    sql::scoped_reset r(mark_pruned_);
    mark_pruned_.bind_static(1, topic).bind(2, n).bind(3, i64(m.ms)).bind(4, i64(m.seq));
    if (mark_pruned_.step() != SQLITE_DONE) return sql::last_error(d, "record prune mark");
  }
  if (!victims.empty())
    if (auto st = fold_marks(out); !st) return st.err();
  if (auto st = tx->commit(); !st) return st.err();
  out.removed = victims.size();
  out.more = count_more || static_cast<std::int64_t>(victims.size()) >= chunk;
  return out;
}

status writer::fold_marks(prune_outcome& out) {
  sqlite3* d = db_.get();
  // Every retained entry is after `oldest`; with none retained, every mark folds.
  stream_id bound{UINT64_MAX >> 1, UINT64_MAX >> 1};
  {
    sql::scoped_reset r(select_oldest_all_);
    int rc = select_oldest_all_.step();
    if (rc == SQLITE_ROW)
      bound = id_of(select_oldest_all_.int64(0), select_oldest_all_.int64(1));
    else if (rc != SQLITE_DONE)
      return sql::last_error(d, "read the oldest retained entry");
  }
  std::optional<stream_id> newest_below;
  {
    sql::scoped_reset r(select_foldable_);
    select_foldable_.bind(1, i64(bound.ms)).bind(2, i64(bound.seq));
    int rc = select_foldable_.step();
    if (rc == SQLITE_ROW)
      newest_below = id_of(select_foldable_.int64(0), select_foldable_.int64(1));
    else if (rc != SQLITE_DONE)
      return sql::last_error(d, "find marks to fold");
  }
  if (!newest_below) return ok_status();
  // Nothing is lost by folding: a cursor before a cleared mark is before the floor too.
  // What is gained: a cursor before the floor whose topics lost nothing is now expired as
  // well, and that cursor is older than every retained entry, which DESIGN §2 calls expired.
  stream_id floor = *newest_below;
  auto old = prep(d, "SELECT value FROM meta WHERE key = 'prune_floor'");
  if (!old) return old.err();
  if (old->step() == SQLITE_ROW)
    if (auto id = parse_stream_id(old->text(0)); id && floor < *id) floor = *id;
  auto put = prep(d,
                  "INSERT INTO meta (key, value) VALUES ('prune_floor', ?1) "
                  "ON CONFLICT (key) DO UPDATE SET value = excluded.value");
  if (!put) return put.err();
  const std::string text = floor.str();
  put->bind_static(1, text);
  if (put->step() != SQLITE_DONE) return sql::last_error(d, "record the prune floor");
  for (auto* s : {&delete_folded_, &clear_folded_}) {
    sql::scoped_reset r(*s);
    s->bind(1, i64(floor.ms)).bind(2, i64(floor.seq));
    if (s->step() != SQLITE_DONE) return sql::last_error(d, "fold prune marks");
    out.folded += static_cast<std::size_t>(sqlite3_changes(d));
  }
  out.floor = floor;
  return ok_status();
}

// ---- reader ----------------------------------------------------------------

result<reader> reader::open(const std::string& path, const open_options& opt) {
  auto db = sql::open(path, sql::open_mode::existing);
  if (!db) return db.err();
  wait_when_busy(db->get(), opt);
  auto v = check_version(db->get(), embedded_migrations());
  if (!v) return v.err();
  if (*v != latest_version(embedded_migrations()))
    return error{"database '" + path + "' is at schema version " + std::to_string(*v) +
                 ", expected " + std::to_string(latest_version(embedded_migrations())) +
                 "; run `cutover db migrate --db " + path + "`"};
  if (auto st = configure(db->get(), false); !st) return st.err();
  reader r;
  r.db_ = std::move(*db);
  auto st = prepare_all(
      r.db_.get(),
      {
          {&r.range_,
           "SELECT ms, seq, type, data, kept_ms FROM notifications WHERE topic = ?1 AND (ms, seq) "
           "> (?2, ?3) ORDER BY ms, seq LIMIT ?4"},
          {&r.range_until_,
           "SELECT ms, seq, type, data, kept_ms FROM notifications WHERE topic = ?1 AND (ms, seq) "
           "> (?2, ?3) AND (ms, seq) <= (?5, ?6) ORDER BY ms, seq LIMIT ?4"},
          {&r.head_, "SELECT ms, seq FROM notifications ORDER BY ms DESC, seq DESC LIMIT 1"},
          {&r.oldest_,
           "SELECT ms, seq FROM notifications WHERE topic = ?1 ORDER BY ms, seq LIMIT 1"},
          {&r.by_id_, "SELECT topic, type, data FROM notifications WHERE ms = ?1 AND seq = ?2"},
          {&r.by_key_, "SELECT 1 FROM notifications WHERE topic = ?1 AND idem_key = ?2"},
          {&r.kept_after_loss_,
           "SELECT 1 FROM notifications WHERE ms = ?1 AND seq = ?2 AND NOT EXISTS (SELECT 1 FROM "
           "orphans WHERE ms = ?1 AND seq = ?2)"},
      });
  if (!st) return st.err();
  return r;
}

result<notification_batch> reader::read_after(std::span<const std::string> topics, stream_id after,
                                              std::size_t limit, std::optional<stream_id> until) {
  sqlite3* d = db_.get();
  notification_batch all;
  if (limit == 0 || topics.empty()) return all;
  // A read transaction so every topic is read from one snapshot.
  auto tx = sql::transaction::begin(d, false);
  if (!tx) return tx.err();
  auto clamp = [](std::uint64_t v) { return i64(std::min(v, stream_id::kSeqTail)); };
  std::vector<notification_batch> per_topic;
  per_topic.reserve(topics.size());
  for (const auto& topic : topics) {
    sql::statement& s = until ? range_until_ : range_;
    sql::scoped_reset r(s);
    s.bind_static(1, topic).bind(2, clamp(after.ms)).bind(3, clamp(after.seq)).bind(4, i64(limit));
    if (until) s.bind(5, clamp(until->ms)).bind(6, clamp(until->seq));
    notification_batch rows;
    int rc;
    while ((rc = s.step()) == SQLITE_ROW)
      rows.push_back(std::make_shared<const notification>(
          id_of(s.int64(0), s.int64(1)), topic, std::string(s.text(2)), std::string(s.text(3)),
          s.is_null(4) ? std::nullopt
                       : std::optional<std::uint64_t>(static_cast<std::uint64_t>(s.int64(4)))));
    if (rc != SQLITE_DONE) return sql::last_error(d, "read notifications of topic");
    per_topic.push_back(std::move(rows));
  }
  if (per_topic.size() == 1) return std::move(per_topic.front());
  // k-way merge by id; topics are few (the user's own plus shared ones).
  std::vector<std::size_t> pos(per_topic.size(), 0);
  while (all.size() < limit) {
    std::size_t best = per_topic.size();
    for (std::size_t i = 0; i < per_topic.size(); ++i) {
      if (pos[i] >= per_topic[i].size()) continue;
      if (best == per_topic.size() || per_topic[i][pos[i]]->id < per_topic[best][pos[best]]->id)
        best = i;
    }
    if (best == per_topic.size()) break;
    all.push_back(std::move(per_topic[best][pos[best]++]));
  }
  return all;
}

result<notification_ptr> reader::find(stream_id id) {
  sql::scoped_reset r(by_id_);
  by_id_.bind(1, i64(id.ms)).bind(2, i64(id.seq));
  int rc = by_id_.step();
  if (rc == SQLITE_DONE) return notification_ptr();
  if (rc != SQLITE_ROW) return sql::last_error(db_.get(), "look up id " + id.str());
  return std::make_shared<const notification>(
      id, std::string(by_id_.text(0)), std::string(by_id_.text(1)), std::string(by_id_.text(2)));
}

result<bool> reader::kept_after_loss(stream_id id) {
  sql::scoped_reset r(kept_after_loss_);
  kept_after_loss_.bind(1, i64(id.ms)).bind(2, i64(id.seq));
  int rc = kept_after_loss_.step();
  if (rc == SQLITE_DONE) return false;
  if (rc != SQLITE_ROW) return sql::last_error(db_.get(), "look up id " + id.str());
  return true;
}

result<bool> reader::has_key(std::string_view topic, std::string_view key) {
  sql::scoped_reset r(by_key_);
  by_key_.bind_static(1, topic).bind_static(2, key);
  int rc = by_key_.step();
  if (rc == SQLITE_DONE) return false;
  if (rc != SQLITE_ROW) return sql::last_error(db_.get(), "look up an idempotency key");
  return true;
}

result<std::optional<stream_id>> reader::head() {
  sql::scoped_reset r(head_);
  int rc = head_.step();
  if (rc == SQLITE_DONE) return std::optional<stream_id>();
  if (rc != SQLITE_ROW) return sql::last_error(db_.get(), "read head");
  return std::optional<stream_id>(id_of(head_.int64(0), head_.int64(1)));
}

result<std::optional<stream_id>> reader::oldest(const std::string& topic) {
  sql::scoped_reset r(oldest_);
  oldest_.bind_static(1, topic);
  int rc = oldest_.step();
  if (rc == SQLITE_DONE) return std::optional<stream_id>();
  if (rc != SQLITE_ROW) return sql::last_error(db_.get(), "read oldest");
  return std::optional<stream_id>(id_of(oldest_.int64(0), oldest_.int64(1)));
}

result<std::map<std::string, stream_id>> reader::prune_marks() {
  auto s = prep(db_.get(),
                "SELECT topic, pruned_ms, pruned_seq FROM topics WHERE pruned_ms IS NOT NULL");
  if (!s) return s.err();
  std::map<std::string, stream_id> marks;
  int rc;
  while ((rc = s->step()) == SQLITE_ROW)
    marks.emplace(std::string(s->text(0)), id_of(s->int64(1), s->int64(2)));
  if (rc != SQLITE_DONE) return sql::last_error(db_.get(), "read prune marks");
  return marks;
}

result<std::optional<stream_id>> reader::prune_floor() {
  auto v = meta("prune_floor");
  if (!v) return v.err();
  if (!*v) return std::optional<stream_id>();
  auto id = parse_stream_id(**v);
  if (!id) return error{"store: meta prune_floor is not a stream id: '" + **v + "'"};
  return std::optional<stream_id>(*id);
}

result<std::optional<stream_id>> reader::offset(const std::string& stream) {
  auto s = prep(db_.get(), "SELECT ms, seq FROM ingest_offsets WHERE stream = ?1");
  if (!s) return s.err();
  s->bind_static(1, stream);
  int rc = s->step();
  if (rc == SQLITE_DONE) return std::optional<stream_id>();
  if (rc != SQLITE_ROW) return sql::last_error(db_.get(), "read ingest offset");
  return std::optional<stream_id>(id_of(s->int64(0), s->int64(1)));
}

result<notification_batch> reader::stream_entries_back(stream_id at, std::uint64_t modulus,
                                                       std::uint64_t rest, std::size_t limit) {
  auto s = prep(db_.get(),
                "SELECT ms, seq, topic, type, data FROM notifications WHERE (ms, seq) <= (?1, ?2) "
                "AND seq % ?3 = ?4 ORDER BY ms DESC, seq DESC LIMIT ?5");
  if (!s) return s.err();
  s->bind(1, i64(at.ms)).bind(2, i64(std::min(at.seq, stream_id::kSeqTail)));
  s->bind(3, i64(std::max<std::uint64_t>(modulus, 1))).bind(4, i64(rest));
  s->bind(5, static_cast<std::int64_t>(limit));
  notification_batch out;
  int rc;
  while ((rc = s->step()) == SQLITE_ROW)
    out.push_back(std::make_shared<const notification>(
        id_of(s->int64(0), s->int64(1)), std::string(s->text(2)), std::string(s->text(3)),
        std::string(s->text(4))));
  if (rc != SQLITE_DONE) return sql::last_error(db_.get(), "read a stream's stored entries");
  return out;
}

result<std::vector<orphan>> reader::orphans(std::int64_t after_row, std::size_t limit) {
  auto s = prep(db_.get(),
                "SELECT id, stream, entry_id, ms, seq, topic, type, data, orphaned_at, reason FROM "
                "orphans WHERE id > ?1 ORDER BY id LIMIT ?2");
  if (!s) return s.err();
  s->bind(1, after_row).bind(2, static_cast<std::int64_t>(limit));
  std::vector<orphan> out;
  int rc;
  while ((rc = s->step()) == SQLITE_ROW)
    out.push_back({s->int64(0), std::string(s->text(1)), std::string(s->text(2)),
                   std::make_shared<const notification>(
                       id_of(s->int64(3), s->int64(4)), std::string(s->text(5)),
                       std::string(s->text(6)), std::string(s->text(7))),
                   s->int64(8), std::string(s->text(9))});
  if (rc != SQLITE_DONE) return sql::last_error(db_.get(), "read orphans");
  return out;
}

result<std::vector<lost_range>> reader::lost_ranges() {
  auto s = prep(db_.get(),
                "SELECT stream, kind, after_ms, after_seq, through_ms, through_seq, entries FROM "
                "lost_ranges ORDER BY id");
  if (!s) return s.err();
  std::vector<lost_range> out;
  int rc;
  while ((rc = s->step()) == SQLITE_ROW)
    out.push_back({std::string(s->text(0)), std::string(s->text(1)),
                   id_of(s->int64(2), s->int64(3)), id_of(s->int64(4), s->int64(5)), s->int64(6)});
  if (rc != SQLITE_DONE) return sql::last_error(db_.get(), "read lost ranges");
  return out;
}

result<std::optional<digest_basis>> reader::digest_basis_of(const std::string& stream,
                                                            std::uint64_t modulus,
                                                            std::uint64_t rest) {
  sqlite3* d = db_.get();
  if (auto known = read_digest_basis(d, stream)) return std::optional<digest_basis>(*known);
  auto off = offset(stream);
  if (!off) return off.err();
  if (!*off) return std::optional<digest_basis>();
  auto held = stream_entries_held(d, modulus, rest, **off);
  if (!held) return held.err();
  auto dg = read_digests(d);
  if (!dg) return dg.err();
  std::int64_t covered = dg->count(stream) ? dg->at(stream).entries : 0;
  if (*held <= covered) return std::optional<digest_basis>();
  return std::optional<digest_basis>(digest_basis{
      false, "not comparable yet: covers " + std::to_string(covered) + " of " +
                 std::to_string(*held) +
                 " entries held (a store from schema 4); the next serve rebuilds it unless "
                 "retention removed entries before"});
}

result<std::optional<std::string>> reader::meta(const std::string& key) {
  auto s = prep(db_.get(), "SELECT value FROM meta WHERE key = ?1");
  if (!s) return s.err();
  s->bind_static(1, key);
  int rc = s->step();
  if (rc == SQLITE_DONE) return std::optional<std::string>();
  if (rc != SQLITE_ROW) return sql::last_error(db_.get(), "read meta " + key);
  return std::optional<std::string>(std::string(s->text(0)));
}

result<store_status> reader::status() {
  sqlite3* d = db_.get();
  auto tx = sql::transaction::begin(d, false);
  if (!tx) return tx.err();
  store_status st;
  auto v = sql::pragma_int(d, "user_version");
  if (!v) return v.err();
  st.schema_version = static_cast<int>(*v);
  auto count = [&](const char* q, std::int64_t& out) -> cutover::status {
    auto s = prep(d, q);
    if (!s) return s.err();
    if (s->step() != SQLITE_ROW) return sql::last_error(d, q);
    out = s->int64(0);
    return ok_status();
  };
  if (auto c = count("SELECT count(*) FROM notifications", st.notifications); !c) return c.err();
  if (auto c = count("SELECT count(*) FROM topics WHERE count > 0", st.topics); !c) return c.err();
  if (auto c = count("SELECT count(*) FROM dead_letters", st.dead_letters); !c) return c.err();
  auto first = prep(d, "SELECT ms, seq FROM notifications ORDER BY ms, seq LIMIT 1");
  if (!first) return first.err();
  if (first->step() == SQLITE_ROW) st.oldest = id_of(first->int64(0), first->int64(1));
  auto h = head();
  if (!h) return h.err();
  st.newest = *h;
  auto offs = prep(d, "SELECT stream, ms, seq FROM ingest_offsets ORDER BY stream");
  if (!offs) return offs.err();
  while (offs->step() == SQLITE_ROW)
    st.offsets.push_back({std::string(offs->text(0)), id_of(offs->int64(1), offs->int64(2))});
  auto dg = read_digests(d);
  if (!dg) return dg.err();
  st.digests = std::move(*dg);
  return st;
}

result<std::optional<std::uint64_t>> reader::oldest_time() {
  return read_oldest_time(db_.get());
}

result<std::map<std::string, stream_digest>> reader::digests() {
  return read_digests(db_.get());
}

status snapshot(const std::string& path, const std::string& out) {
  auto db = sql::open(path, sql::open_mode::existing);
  if (!db) return db.err();
  wait_when_busy(db->get(), open_options{});
  if (auto v = check_version(db->get(), embedded_migrations()); !v) return v.err();
  // VACUUM INTO reads the database in one read transaction (a WAL snapshot): a writer may
  // commit meanwhile, and the copy is the store as of one commit, offsets and entries together.
  auto s = prep(db->get(), "VACUUM INTO ?1");
  if (!s) return s.err();
  s->bind_static(1, out);
  if (s->step() != SQLITE_DONE) return sql::last_error(db->get(), "copy the store to " + out);
  return ok_status();
}

}  // namespace cutover::store
