#pragma once
// The stream reader: runs on its own thread with its own connection, doing XREAD BLOCK
// from the last id it handed to the writer, one batch at a time into the work queue.
// It never commits; after a failed commit it re-reads from the committed offsets.

#include <chrono>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "core/entry.hpp"
#include "ingest/backoff.hpp"
#include "ingest/reader_context.hpp"
#include "ingest/stream_ids.hpp"
#include "store/store.hpp"

namespace cutover::ingest {

// Value of `name` in a RESP2 map reply (a flat array of name, value, ...), and the stream id
// it holds (for first-entry, the entry's id).
const redisReply* map_field(const redisReply* map, std::string_view name);
std::optional<stream_id> id_field(const redisReply* map, std::string_view name);

class stream_reader {
 public:
  // start[i]: the id stream i resumes after, or nullopt to resolve "$" (its current end).
  stream_reader(reader_context ctx, std::vector<std::optional<stream_id>> start);
  void run();  // the thread body; returns once stop is requested

 private:
  bool connect();
  bool resolve_ends();
  void measure_lag();
  // Loss detection (DESIGN §3, stream_reader_loss.cpp): given stream i's XINFO STREAM reply,
  // true when Redis no longer holds what this store committed; then a loss item went to the
  // writer and the reader waits for it to rewind (or the connection broke).
  bool check_loss(std::size_t i, const redisReply* info);
  // The same for entries delivered before their commit (DESIGN §11): true when Redis no longer
  // holds the newest pending entry of stream i (or the one it agreed with at the previous
  // check); then they are withdrawn and the reader re-reads from the committed offsets.
  bool check_pending_loss(std::size_t i, const redisReply* info);
  // Delivery before the commit: the gate decides each entry of `wb` as the store will; what it
  // passes goes to the listener now, duplicates and collisions go on as offsets and dead
  // letters only.
  void pass_gate(work_batch& wb);
  // Delivered, uncommitted entries of stream i after stored id `after` are lost or re-read: the
  // gate forgets them and the listener withdraws them (cursors up to `through` or the newest
  // of them are reset). Returns the newest withdrawn id.
  // With `drop_queued`, every queued stream batch is dropped first (the finding comes first)
  // and a new epoch starts; both under the queue's commit lock (work_queue::hold_commits).
  std::optional<stream_id> withdraw(std::size_t i, stream_id after, stream_id through,
                                    bool drop_queued);
  // A check found Redis (the master) agreeing with offset `c` of stream i; `read_last` is the
  // last-generated-id of the stream read from. Always false (no loss).
  bool agreed(std::size_t i, stream_id c, std::optional<stream_id> read_last);
  // What Redis holds at each of `ids` of stream i (null where nothing): one pipelined round
  // on `via` (the read connection, or the master's with --redis-read).
  bool redis_entries(redis_connection* via, std::size_t i, const std::vector<stream_id>& ids,
                     std::vector<std::optional<decoded_entry>>& out, std::vector<bool>& held);
  // The XINFO STREAM reply a loss check judges: `info` (the stream as read) or, with
  // --redis-read, the master's, asked on `via` and kept in `holder`. Null when it cannot be
  // judged now: `failed` if the master could not be asked, else it has no such key.
  const redisReply* judged_info(redis_connection* via, std::size_t i, const redisReply* info,
                                reply_ptr& holder, bool& failed);
  // The connection loss detection asks: the read connection, or with --redis-read the
  // master's (connected when needed; null when it cannot be reached now).
  redis_connection* prober();
  // A command on `via` failed: the read connection is handled as usual, the master's is
  // dropped and logged. Always false.
  bool probe_failed(redis_connection* via, const error& e);
  void read_once();
  // Sends argv_; a connection error or an error reply is handled (backoff) and gives null.
  reply_ptr send_argv(const std::string& what);
  // Several streams (DESIGN §3): entries wait in `held_` until every stream's read has
  // passed their millisecond (the merge watermark), then leave in the total order of
  // stream_id_rule. One atomic TIME + XREAD tells how far each caught-up stream is complete.
  void read_several();
  void apply_read(const redisReply* reply);  // entries into held_, read positions on
  void release();
  void clear_held();
  void resync();
  void on_connection_error(const error& e);
  void on_error_reply(const std::string& what, std::string_view text);
  void on_read_ok();
  std::string positions() const;
  void parse(const redisReply* reply, work_batch& out);
  struct held_item {
    stream_id raw;
    std::optional<store::pending_entry> entry;  // else `dead`
    std::optional<store::dead_letter> dead;
  };
  // Decodes one XREAD entry of stream `idx` into an entry or a dead letter; false when the
  // reply has no usable id (nothing to move past).
  bool decode_one(const redisReply* er, std::size_t idx, held_item& out);

  reader_context ctx_;
  const std::vector<std::optional<stream_id>> initial_;
  std::vector<std::optional<stream_id>> pos_;
  std::vector<std::optional<stream_id>> warned_deleted_, warned_trimmed_;
  std::optional<redis_connection> conn_;
  std::optional<redis_connection> master_;  // --redis-read: the master, for loss detection
  std::uint64_t epoch_ = 0;
  backoff pace_, commit_pace_;
  link_log link_;
  link_log master_link_;  // --redis-read: the master's trouble, logged apart from the read link's
  bool ever_connected_ = false;
  std::chrono::steady_clock::time_point next_lag_{};
  field_list fields_;  // reused per entry: field strings keep their capacity
  std::vector<std::string> argv_;

  std::optional<store::reader> store_;  // read-only, for loss detection; opened when needed
  std::vector<bool> warned_missing_;    // the stream key is gone (logged once)
  std::vector<bool> warned_behind_;     // --redis-read: the replica is behind the offset
  // Offset Redis agreed with at the last check; before the first, the offset this instance
  // started from (started_from_), so a check that could not be made cannot lose it.
  std::vector<std::optional<stream_id>> probed_;
  std::vector<bool> started_from_;
  std::vector<std::optional<stream_id>> probed_pending_;  // newest pending entry agreed then
  core::rate_limited_log gate_log_;
  const stream_id_rule rule_;
  std::vector<std::deque<held_item>> held_;  // per stream, in its Redis order
  // complete_[i]: every entry of stream i with a millisecond below it has been read.
  std::vector<std::uint64_t> complete_;
  bool caught_up_ = false;        // the last atomic read found every stream at its end
  std::uint64_t redis_ms_ = 0;    // Redis's clock at that read
  std::uint64_t held_count_ = 0;  // entries and dead letters in held_
  std::optional<stream_id> last_released_;
  std::chrono::steady_clock::time_point next_late_log_{};
};

}  // namespace cutover::ingest
