#pragma once
// Counters, link states and committed offsets shared by the ingest threads. Every thread
// writes its part under one small mutex; snapshot() copies it out for any thread (metrics,
// readiness). Nothing here blocks for longer than a copy.

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/cursor.hpp"
#include "core/histogram.hpp"
#include "ingest/ingest.hpp"
#include "store/store.hpp"

namespace cutover::ingest {

enum class link_kind { stream, pubsub };

class status_board {
 public:
  status_board(std::vector<std::string> streams, bool stream_link, bool pubsub_link);

  void set_link(link_kind which, link_state s, const std::string& error = {});
  void add_reconnect();
  void add_pubsub_messages(std::uint64_t n);
  void add_pubsub_bridged(std::uint64_t n);
  void add_trimmed_gap();
  // Redis lost entries of `stream` (DESIGN §3): its offset is now `rewound_to`, its digest
  // `digest` (when the store reported one).
  void on_rewind(const std::string& stream, stream_id rewound_to, std::uint64_t orphaned,
                 std::optional<store::stream_digest> digest = std::nullopt);
  // The stored digests at start (before any thread runs).
  void set_digest(std::size_t stream, store::stream_digest d);
  // At start, when the digest does not plainly cover every stored entry (DESIGN §11).
  void set_digest_basis(std::size_t stream, store::digest_basis b);
  // The oldest stored entry's wall time (unix ms), or none stored.
  void set_oldest(std::optional<std::uint64_t> ms);
  void add_master_switch();
  // Redis lost entries delivered before their commit (DESIGN §11): a rewind of the reader
  // only, the committed offset stays.
  void add_withdrawal(std::uint64_t entries);
  void add_pubsub_refused(std::uint64_t n);
  void set_bridge_active(bool on);
  // `n` ids ahead of the clock were stored; `newest` the newest of them.
  void add_ids_ahead(std::uint64_t n, stream_id newest);
  void set_lag(std::int64_t ms, std::uint64_t entries_hint = 0);
  void set_stopped();

  // The store's offsets at start (before any thread runs).
  void set_committed(std::size_t stream, stream_id id);
  std::optional<stream_id> committed(std::size_t stream) const;
  std::vector<std::optional<stream_id>> committed_all() const;

  // After a successful append: counters, per-stream offsets, commit time.
  void on_commit(const store::append_batch& batch, const store::append_outcome& out,
                 double seconds);
  void on_commit_failure(const std::string& error);
  std::uint64_t consecutive_commit_failures() const;

  stats snapshot() const;

 private:
  std::size_t index_of(const std::string& stream) const;

  const std::vector<std::string> streams_;
  const bool stream_link_, pubsub_link_;
  mutable std::mutex mu_;
  stats s_;
  link_state stream_state_ = link_state::connecting, pubsub_state_ = link_state::connecting;
  bool stopped_ = false;
  std::vector<std::optional<stream_id>> committed_;
  std::vector<store::stream_digest> digests_;
  std::vector<store::digest_basis> bases_;
  std::uint64_t failing_commits_ = 0;
  core::histogram commit_seconds_{core::histogram::seconds_bounds()};
  core::histogram batch_entries_{{1, 10, 100, 1000, 10000}};
};

// Logs a link's trouble once per change of kind ("down", "reply:WRONGTYPE", ...), not once
// per retry, and its recovery once. Used by one thread.
class link_log {
 public:
  link_log(const core::logger& log, std::string name) : log_(log), name_(std::move(name)) {}
  // Logs `message` unless a problem of the same kind is already being reported.
  void problem(const std::string& kind, const std::string& message);
  // Ends the current problem; logs `message` (if not empty) only when there was one.
  void recovered(const std::string& message);
  bool failing() const noexcept { return !kind_.empty(); }
  // Logs unconditionally, with the link's name.
  void line(const std::string& message) const;

 private:
  const core::logger& log_;
  std::string name_;
  std::string kind_;
};

}  // namespace cutover::ingest
