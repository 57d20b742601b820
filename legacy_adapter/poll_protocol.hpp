#pragma once
// The legacy long-poll's batching rules (DESIGN §2, §4), as pure functions: cutting a
// batch without splitting a legacyId group, and the cursor to answer with. The wire
// format itself is the profile's (poll_answers.hpp). No I/O; longpoll_route does the
// talking.

#include <cstdint>
#include <optional>
#include <span>

#include "core/cursor.hpp"
#include "core/notification.hpp"

namespace cutover::legacy {

struct cut {
  std::size_t count = 0;   // entries to send
  bool need_more = false;  // one legacyId group fills the whole batch: read on to its end
};

// How many of `entries` (id order) fit a batch of `batch` without cutting a group of
// entries that share one legacyId (DESIGN §2). `complete`: entries holds everything up
// to where the caller's read stopped short (no more after the last one).
cut cut_batch(std::span<const notification_ptr> entries, std::size_t batch, bool complete);

// Whether more entries may still arrive in the millisecond of `last` (a stored id in a
// millisecond's tail): the stream has not moved past that millisecond (`head` is in it)
// and `now_ms` is within 2 s of it.
bool tail_may_grow(const stream_id& last, std::optional<stream_id> head, std::uint64_t now_ms);

// The lastId to answer with after sending `sent` (id order): the last entry's legacyId;
// `since` when nothing is sent. One exception keeps saturation lossless: when the last
// entry is in a millisecond's tail (seq >= 1023) and that tail may still grow
// (tail_may_grow), lastId stops just before the tail (ms*1024+1022), so the next poll
// reads the whole tail again — duplicates, never a loss.
std::uint64_t last_id_for(std::span<const notification_ptr> sent, std::uint64_t since,
                          std::optional<stream_id> head, std::uint64_t now_ms);

}  // namespace cutover::legacy
