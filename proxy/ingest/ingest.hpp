#pragma once
// Redis -> store (DESIGN §3): durable stream consumption with XREAD BLOCK from the last
// committed id, optional pub/sub compatibility, dead letters, and lag/state for readiness
// and metrics. Committed batches are handed to a commit_listener (the hub).
//
// Threads: one stream reader (blocking XREAD on its own connection), one pub/sub reader
// when enabled (own connection), and one writer that owns the store::writer and is the
// only thread that commits, prunes and calls the listener. The public methods may be
// called from any thread.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/commit_listener.hpp"
#include "core/cursor.hpp"
#include "core/entry.hpp"
#include "core/histogram.hpp"
#include "core/log.hpp"
#include "core/result.hpp"
#include "ingest/publish.hpp"
#include "ingest/redis_connection.hpp"
#include "store/store.hpp"

namespace cutover::ingest {

inline constexpr const char* kDefaultStream = "cutover:notifications";
inline constexpr const char* kPubsubPattern = "cutover:topic:*";
inline constexpr std::string_view kPubsubPrefix = "cutover:topic:";

struct options {
  std::string db_path;  // the SQLite store (writer opened by ingest)
  std::string redis_url = "redis://127.0.0.1:6379";
  // Where the stream reader reads (a replica; empty: redis_url). Loss detection compares
  // with redis_url, the master; the pub/sub bridge uses redis_url too.
  std::string redis_read_url;
  std::vector<std::string> streams{kDefaultStream};
  std::string stream_start = "0";  // "0", "$" or an explicit id, for a stream with no stored offset
  bool pubsub = false;             // bridge PSUBSCRIBE cutover:topic:* into streams.front()
  std::chrono::milliseconds pubsub_lock_ttl{5000};  // bridge lock TTL; renewed every third
  std::size_t pubsub_maxlen = 1'000'000;            // MAXLEN ~ of the bridge's XADDs (0: none)
  entry_limits limits;                              // max_payload default 64 KiB (--max-payload)
  std::size_t batch = 1000;                         // XREAD COUNT
  std::chrono::milliseconds block{1000};            // XREAD BLOCK
  store::prune_policy retention;                    // from --retain-age / --retain-per-topic
  // An id more than this ahead of this instance's clock, or past 2248, is stored and
  // delivered, but counted, logged, and not ready until the clock passes it (DESIGN §2).
  std::chrono::milliseconds max_clock_skew{std::chrono::seconds(5)};
  std::chrono::milliseconds prune_interval{std::chrono::seconds(30)};
  std::chrono::milliseconds backoff_cap{std::chrono::seconds(5)};

  // Additions beyond the contract (defaults suit `serve`).
  std::chrono::milliseconds backoff_base{100};
  std::chrono::milliseconds connect_timeout{2000};
  // Sized for memory as much as speed: past ~10k entries per transaction the rate stops
  // rising (ingest_bench, 300k entries over 1,000 topics: 108-132k/s with these, 119-126k/s
  // with 64 MiB / 50k / 32 MiB), while a slow-draining backlog would hold all of it.
  std::size_t queue_bytes = 8 << 20;       // read, not yet committed; readers block past it
  std::size_t max_commit_entries = 10000;  // a backlog commits in transactions this large...
  std::size_t max_commit_bytes = 4 << 20;  // ... and of at most about this much data
  store::open_options store;               // busy timeout of the writer connection
  // DESIGN §1, §11 "Delivery before the commit": stream entries reach the listener's
  // on_delivered once the delivery gate passed them, before the store commits them. false
  // (`serve --deliver-after-commit`): only after the commit, as before.
  bool deliver_before_commit = true;
  // With it, a commit of delivered stream entries waits up to this long for more to join it
  // (DESIGN §11 "Commits of delivered entries are coalesced"): at a few hundred messages/s
  // one transaction, WAL write and writer wake-up per message were most of the server's CPU
  // per message (issue 18). Nobody waits for these commits: the entries are delivered, Redis
  // holds them and the hub answers reads with them. 0: commit each read at once.
  std::chrono::milliseconds commit_linger{25};
  // Writer connection tuning (durability unchanged). Inserts land at one point per topic in
  // the topic index: a cache that holds those pages, and WAL checkpoints on a thread of their
  // own instead of inside the writer's commits, more than double the ingest rate.
  std::size_t store_cache_kib = 32 * 1024;  // `serve --store-cache-mb`
  int wal_checkpoint_pages = 1000;          // background checkpoint past this many WAL pages
  int wal_inline_checkpoint_pages = 25000;  // the writer checkpoints itself past this many
  core::log_sink log;                       // empty: stderr
  // Called on the stream reader's thread after each loss check (DESIGN §3) that found Redis
  // agreeing with the committed offset `agreed` of `stream`: an event tests wait on.
  std::function<void(const std::string& stream, stream_id agreed)> on_loss_check;
  // Tests only: called before a loss check opens the store; false makes that check fail as
  // a store that cannot be read does (on a loaded machine: locked while the WAL recovers).
  std::function<bool()> loss_check_store_usable;
};

enum class link_state { connecting, connected, backing_off, stopped };
const char* to_string(link_state s) noexcept;

// One recent dead letter or rewind, for the dashboard (the store keeps every dead letter).
struct recent_event {
  std::int64_t time_ms = 0;  // wall clock when it was committed
  std::string what;          // "<source> <entry id>: <reason>", or the rewind's summary
};
inline constexpr std::size_t kRecentEvents = 5;

struct stream_stats {  // one --stream
  std::string stream;
  std::optional<stream_id> committed;  // its committed offset (a Redis id)
  store::stream_digest digest;         // the rolling digest of what was stored from it
  // False when it cannot be compared with another instance's (DESIGN §11: a store from
  // schema 4 whose digest could not be rebuilt); `digest_note` says why.
  bool digest_comparable = true;
  std::string digest_note;
};

struct stats {  // a snapshot, safe to take from any thread
  link_state state = link_state::connecting;
  std::string last_error;
  std::uint64_t entries_committed = 0;  // new notifications stored
  std::uint64_t duplicates = 0;         // same id again, or an idempotency key already stored
  std::uint64_t duplicate_keys = 0;     // of those: a key already stored for the same topic
  std::uint64_t dead_letters = 0;
  std::uint64_t pubsub_messages = 0;  // received on the pub/sub connection (as the bridge)
  std::uint64_t pubsub_bridged = 0;   // of those, copied into the stream by this instance
  std::uint64_t pubsub_refused = 0;   // of those, not copied: the lock was lost, or Redis failed
  bool bridge_active = false;         // this instance holds the bridge lock and is subscribed
  std::uint64_t ids_ahead = 0;  // stored ids ahead of the clock by > max_clock_skew, or past 2248
  std::optional<stream_id> ahead_id;  // the newest such id; not ready until the clock passes it
  std::uint64_t reconnects = 0;       // successful reconnections after a lost link
  std::uint64_t batches = 0;          // committed store transactions
  std::uint64_t commit_failures = 0;
  std::uint64_t failing_commits = 0;  // consecutive failed commits now (0: the last one worked)
  std::uint64_t trimmed_gaps = 0;     // times Redis trimmed entries before this store read them
  std::uint64_t rewinds = 0;    // Redis lost entries this store had: offset rewound (DESIGN §3)
  std::uint64_t orphaned = 0;   // entries moved to orphans by those rewinds
  std::uint64_t withdrawn = 0;  // delivered before their commit, then lost by Redis (DESIGN §11)
  std::size_t pending = 0;      // delivered, not yet committed (the delivery gate's set)
  std::vector<recent_event> recent_dead_letters;  // newest last, at most kRecentEvents
  std::vector<recent_event> recent_rewinds;       // newest last, at most kRecentEvents
  std::optional<stream_id> committed;             // newest committed stream id (max over streams)
  std::int64_t lag_ms = -1;  // newest id in Redis minus committed, ms (0 caught up; -1 unknown)
  std::uint64_t lag_entries_hint = 0;        // 0 if unknown
  double last_commit_seconds = 0;            // duration of the last store transaction
  core::histogram::snapshot commit_seconds;  // store transaction durations
  core::histogram::snapshot batch_entries;   // entries per committed transaction
  std::vector<stream_stats> streams;         // per --stream, in order: offset and digest
  // Wall time (unix ms) of the oldest stored entry, when known (--ready-min-history).
  std::optional<std::uint64_t> oldest_ms;
  std::uint64_t master_switches = 0;  // +switch-master announcements that cut the read
};

// Why `text` is not a valid options::stream_start ("0", "$", "<ms>-<seq>" or "<ms>"), or
// nullopt when it is; for usage errors before anything starts.
std::optional<std::string> stream_start_problem(const std::string& text);

class ingest {
 public:
  ingest(options opt, commit_listener& listener);
  ~ingest();  // stops
  ingest(const ingest&) = delete;
  ingest& operator=(const ingest&) = delete;

  // Opens the store writer (migrating), reads the stored offsets, starts the threads.
  // Errors: the store cannot be opened, bad options (URL, stream_start, no source).
  status start();
  // Stops reading Redis, commits what was already read, joins. Idempotent; prompt (< 1 s)
  // even while XREAD BLOCK is waiting. Not from a commit_listener callback (it joins the
  // thread that runs them).
  void stop();
  stats snapshot() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace cutover::ingest
