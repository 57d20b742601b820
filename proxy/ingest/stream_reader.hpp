#pragma once
// The stream reader: runs on its own thread with its own connection, doing XREAD BLOCK
// from the last id it handed to the writer, one batch at a time into the work queue.
// It never commits; after a failed commit it re-reads from the committed offsets.

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "core/entry.hpp"
#include "ingest/backoff.hpp"
#include "ingest/reader_context.hpp"

namespace cutover::ingest {

class stream_reader {
 public:
  // start[i]: the id stream i resumes after, or nullopt to resolve "$" (its current end).
  stream_reader(reader_context ctx, std::vector<std::optional<stream_id>> start);
  void run();  // the thread body; returns once stop is requested

 private:
  bool connect();
  bool resolve_ends();
  void measure_lag();
  void read_once();
  void resync();
  void on_connection_error(const error& e);
  void on_error_reply(const std::string& what, std::string_view text);
  void on_read_ok();
  std::string positions() const;
  void parse(const redisReply* reply, work_batch& out);

  reader_context ctx_;
  const std::vector<std::optional<stream_id>> initial_;
  std::vector<std::optional<stream_id>> pos_;
  std::vector<std::optional<stream_id>> warned_deleted_, warned_trimmed_;
  std::optional<redis_connection> conn_;
  std::uint64_t epoch_ = 0;
  backoff pace_, commit_pace_;
  link_log link_;
  bool ever_connected_ = false;
  std::chrono::steady_clock::time_point next_lag_{};
  field_list fields_;  // reused per entry: field strings keep their capacity
  std::vector<std::string> argv_;
};

}  // namespace cutover::ingest
