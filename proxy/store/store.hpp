#pragma once
// The notification store (DESIGN §10): SQLite in WAL mode. One `writer` (one thread
// owns it) appends batches and prunes; any number of `reader`s, each on its own
// connection and used by one thread at a time, answer range reads. Data-plane calls
// return result<> values and never throw.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/cursor.hpp"
#include "core/entry.hpp"
#include "core/notification.hpp"
#include "core/result.hpp"
#include "store/migrations.hpp"
#include "store/sqlite.hpp"

namespace cutover::store {

struct open_options {
  std::chrono::milliseconds busy_timeout{5000};
};

// Opens (creating if needed) and migrates the store at `path`: WAL, synchronous=NORMAL,
// busy_timeout, application_id. Control plane: used at start and by `cutover db`.
result<sql::db_handle> open_and_migrate(const std::string& path, const open_options& opt = {},
                                        migrate_report* report = nullptr);

// One entry to append, already decoded and given its id.
struct pending_entry {
  stream_id id;
  decoded_entry entry;
  std::string_view source;  // stream key or channel, for dead letters; must outlive append()
  // The notification already made for it (the delivery gate's, shared with the hub), or null:
  // append() hands it on as added instead of building another.
  notification_ptr shared;
};

struct dead_letter {
  std::string source;    // stream key or pub/sub channel
  std::string entry_id;  // stream id, or empty for pub/sub
  std::string raw;       // the entry's fields as JSON
  std::string reason;
};

struct stream_offset {
  std::string stream;
  stream_id id;
};

struct append_batch {
  std::vector<pending_entry> entries;  // in id order
  std::vector<dead_letter> dead;
  std::vector<stream_offset> offsets;  // committed with the entries, atomically
  // Entries the delivery gate (ingest/delivery_gate.hpp) already found to be duplicates and
  // did not pass on: counted with this batch's own, so the figures stay the store's.
  std::size_t skipped_duplicate_ids = 0;
  std::size_t skipped_duplicate_keys = 0;
};

// The rolling ingest digest of one stream (DESIGN §11, migration 0005): the sum modulo 2^64
// of entry_digest() over every entry stored from it (orphaned ones subtracted), and how many.
// Independent of how entries were batched, so two instances at one offset can be compared.
struct stream_digest {
  std::uint64_t value = 0;
  std::int64_t entries = 0;
  bool operator==(const stream_digest&) const = default;
};
// When a stream's digest does not plainly cover every entry stored from it: a store from before
// migration 0005 started it at 0 (DESIGN §11). Recorded in meta `digest_basis:<stream>`.
struct digest_basis {
  bool comparable = true;  // false: two instances' digests tell nothing about their entries
  std::string note;        // what it covers, for `db status` and logs
};
// A 64-bit hash of one stored entry: FNV-1a over id, topic, type and data, then mixed.
std::uint64_t entry_digest(stream_id id, std::string_view topic, std::string_view type,
                           std::string_view data) noexcept;
// 16 lowercase hex digits.
std::string digest_hex(std::uint64_t value);

// The dead letter an entry becomes when its id is already used by a different stored entry
// (an id collision): the same text whether the writer or the delivery gate finds it.
dead_letter collision_dead_letter(const pending_entry& p);

struct append_outcome {
  notification_batch added;                      // what was new, in id order
  std::size_t duplicate_ids = 0;                 // same id and same content as a stored entry
  std::size_t duplicate_keys = 0;                // idempotency key already stored
  std::size_t dead_letters = 0;                  // including id collisions found while appending
  std::map<std::string, stream_digest> digests;  // after the commit, of each offset written
  bool abandoned = false;                        // `proceed` said no: nothing was written
};

struct prune_policy {
  std::optional<std::chrono::milliseconds> max_age;  // by the entry's time (kept, else the id's)
  std::optional<std::int64_t> max_per_topic;
  std::size_t chunk = 1000;  // rows per transaction, so no write lock is held long
};

struct prune_outcome {
  std::size_t removed = 0;
  bool more = false;                       // another chunk is due
  std::map<std::string, stream_id> marks;  // topic -> newest removed id (this chunk)
  // Set when the store-wide floor moved: marks at or below it were folded into it (DESIGN
  // §11): a cursor before the floor is expired whatever its topics.
  std::optional<stream_id> floor;
  std::size_t folded = 0;  // topic marks cleared by the fold
};

// A loss by Redis (DESIGN §3): entries of one stream that Redis no longer holds as this store
// took them. Ids in `lost`, `after` and `through` are stored ids; offsets are Redis ids.
struct redis_loss {
  std::string stream;
  stream_id expect_offset;  // the committed offset the finding was based on
  stream_id rewind_to;      // the new committed offset: re-read after it
  std::vector<std::pair<stream_id, std::string>> lost;  // stored id, Redis id text
  stream_id after, through;  // the range: after the last agreed entry, through the offset
  // "lost"; or "trimmed" or "withdrawn" (only the range is recorded; the offset stays):
  // "withdrawn" is a range of entries delivered before their commit (DESIGN §11) that Redis
  // lost before they were committed.
  std::string kind;
  std::string detail;  // one line: what Redis showed
};

struct loss_outcome {
  bool applied = false;                 // false: the offset moved meanwhile, nothing was changed
  notification_batch removed;           // what left `notifications` for `orphans`, in id order
  std::optional<stream_digest> digest;  // the stream's digest after the rewind
};

struct orphan {
  std::int64_t row = 0;
  std::string stream, entry_id;  // the Redis stream and id it came from
  notification_ptr entry;        // as it was stored (its stored id)
  std::int64_t orphaned_at = 0;  // unix ms
  std::string reason;
};

struct lost_range {
  std::string stream, kind;
  stream_id after, through;
  std::int64_t entries = 0;
};

class writer {
 public:
  static result<writer> open(const std::string& path, const open_options& opt = {});

  // Appends a batch in one transaction (entries, dead letters, offsets). Deduplicates on
  // id and idempotency key; an id already used by different content is a dead letter.
  // On error nothing of the batch is committed.
  // `proceed`, if given, is asked once the transaction holds the write lock (so after any
  // wait for it); false abandons the batch (outcome.abandoned, nothing written).
  result<append_outcome> append(const append_batch& batch,
                                const std::function<bool()>& proceed = {});

  // Moves `loss.lost` to orphans, records the range and sets the stream's offset to
  // `rewind_to`, in one transaction, unless the offset is no longer `expect_offset`.
  result<loss_outcome> record_loss(const redis_loss& loss);

  // Removes one chunk of expired rows (by age, then by count per topic).
  result<prune_outcome> prune_chunk(const prune_policy& policy, std::uint64_t now_ms);

  // Wall time (unix ms) of the oldest stored entry (see reader::oldest_time).
  result<std::optional<std::uint64_t>> oldest_time();

  // Sets a value of the meta table (e.g. the stream list the id rule of several streams
  // depends on, DESIGN §11).
  status put_meta(const std::string& key, const std::string& value);
  // At start, stream `stream` being every entry with seq % modulus == rest (DESIGN §11): a
  // digest that covers fewer entries than the store holds of the stream (a store migrated from
  // schema 4) is rebuilt from them once when retention never removed an entry, else marked
  // not comparable; either is recorded. nullopt: the digest covers what was stored.
  result<std::optional<digest_basis>> settle_digest(const std::string& stream,
                                                    std::uint64_t modulus, std::uint64_t rest);

  // Per-connection tuning, durability unchanged: a page cache of `cache_kib` KiB (indexes of
  // a large store stay in memory, so a big batch does not re-read pages) and a WAL that is
  // truncated back to 64 MiB after a backlog made it grow.
  status tune(std::size_t cache_kib);

  sqlite3* db() const noexcept { return db_.get(); }

 private:
  sql::db_handle db_;
  std::map<std::string, stream_digest, std::less<>> digests_;  // as committed, per stream
  sql::statement insert_, find_id_, insert_dead_, upsert_offset_, bump_topic_;
  sql::statement select_aged_, select_aged_kept_, select_imported_through_, select_over_,
      select_topic_oldest_, delete_row_, mark_pruned_, select_oldest_all_, select_foldable_,
      delete_folded_, clear_folded_;

  // After a prune chunk: marks below the oldest retained entry collapse into the floor.
  status fold_marks(prune_outcome& out);
};

struct store_status {
  int schema_version = 0;
  std::int64_t notifications = 0;
  std::int64_t topics = 0;
  std::int64_t dead_letters = 0;
  std::optional<stream_id> oldest, newest;
  std::vector<stream_offset> offsets;
  std::map<std::string, stream_digest> digests;  // per stream with an offset
};

// A consistent copy of the store at `path` into `out` (VACUUM INTO; `out` must not exist),
// taken in one read transaction while a `serve` may go on writing: entries, offsets, digests
// and lost ranges as of one commit, so a new instance can continue ingest from the copy.
// Control plane (`cutover db snapshot`).
status snapshot(const std::string& path, const std::string& out);

class reader {
 public:
  static result<reader> open(const std::string& path, const open_options& opt = {});

  // Entries of `topics` with id strictly after `after`, merged in id order, at most
  // `limit`. Optionally stops at `until` (inclusive).
  result<notification_batch> read_after(std::span<const std::string> topics, stream_id after,
                                        std::size_t limit,
                                        std::optional<stream_id> until = std::nullopt);

  // Newest stored id, if any.
  result<std::optional<stream_id>> head();
  // Wall time (unix ms) of the oldest stored entry: its kept time if imported, else its id's.
  result<std::optional<std::uint64_t>> oldest_time();
  // Every stream's committed digest (DESIGN §11).
  result<std::map<std::string, stream_digest>> digests();
  // The stored entry with id `id`, if any (the delivery gate's duplicate checks).
  result<notification_ptr> find(stream_id id);
  // Whether an entry with id `id` is stored and no orphan has that id: inside a lost range,
  // an entry stored after the loss (Redis filled the range with entries of its own).
  result<bool> kept_after_loss(stream_id id);
  // Whether an entry of `topic` with idempotency key `key` is stored.
  result<bool> has_key(std::string_view topic, std::string_view key);
  // Oldest retained id of `topic`, if any.
  result<std::optional<stream_id>> oldest(const std::string& topic);
  // Topic -> newest id removed by retention, for marks not folded into the floor.
  result<std::map<std::string, stream_id>> prune_marks();
  // The store-wide floor marks were folded into (a cursor before it is expired), if any.
  result<std::optional<stream_id>> prune_floor();
  // Last committed id per stream key.
  result<std::optional<stream_id>> offset(const std::string& stream);
  // Stored entries at or before `at` whose seq % modulus == rest (one stream of several,
  // DESIGN §11), newest first, at most `limit`.
  result<notification_batch> stream_entries_back(stream_id at, std::uint64_t modulus,
                                                 std::uint64_t rest, std::size_t limit);
  // Orphans (entries Redis lost, DESIGN §3) with row > `after_row`, oldest first.
  result<std::vector<orphan>> orphans(std::int64_t after_row, std::size_t limit);
  // Every recorded lost or trimmed range, oldest first.
  result<std::vector<lost_range>> lost_ranges();
  // What `stream`'s digest covers when not plainly every stored entry: as settle_digest()
  // recorded it, or, on a store no serve has settled yet, not comparable when it misses some.
  result<std::optional<digest_basis>> digest_basis_of(const std::string& stream,
                                                      std::uint64_t modulus, std::uint64_t rest);
  // A value of the meta table (e.g. legacy_id_offset, written by `cutover import`).
  result<std::optional<std::string>> meta(const std::string& key);
  result<store_status> status();

  sqlite3* db() const noexcept { return db_.get(); }

 private:
  sql::db_handle db_;
  sql::statement range_, range_until_, head_, oldest_, by_id_, by_key_, kept_after_loss_;
};

}  // namespace cutover::store
