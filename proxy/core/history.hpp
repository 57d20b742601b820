#pragma once
// Reading stored history, as the server sees it: jobs that run off the I/O threads on
// a reader of the store and post their result back. The store implements it
// (store/history_reader.hpp); net reads only through it, so it never sees SQLite.

#include <cstddef>
#include <functional>
#include <optional>
#include <span>
#include <string>

#include "core/notification.hpp"
#include "core/result.hpp"

namespace cutover {

class history_reader {
 public:
  // Entries of `topics` strictly after `after`, in id order, at most `limit`.
  virtual result<notification_batch> read_after(std::span<const std::string> topics,
                                                stream_id after, std::size_t limit) = 0;
  // Oldest retained id of `topic`, if any.
  virtual result<std::optional<stream_id>> oldest(const std::string& topic) = 0;
  // Whether an entry with id `id` is stored that Redis did not lose (no orphan has its id):
  // inside a range Redis lost, such a cursor names an entry stored after the loss.
  virtual result<bool> kept_after_loss(stream_id) { return false; }
  // (No "every prune mark" here: the hub holds the marks, and a read consults those of
  // its caller's topics only.)

 protected:
  ~history_reader() = default;
};

class history {
 public:
  using job = std::function<void(history_reader&)>;
  // Runs `j` on a reader thread; false when the queue is full (the caller sheds load).
  virtual bool read(job j) = 0;

 protected:
  ~history() = default;
};

}  // namespace cutover
