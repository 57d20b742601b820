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

// How long after this instance last ingested an entry a millisecond's tail counts as open.
inline constexpr std::uint64_t kTailOpenMs = 2000;

// Whether more entries may still arrive in the millisecond of `last` (a stored id in a
// millisecond's tail): the stream has not moved past that millisecond (`head` is in it)
// and this instance ingested its newest entry (at `head_ingested_ms`, wall clock) less
// than kTailOpenMs before `now_ms`. Judged from ingest time, not from the id's own time
// (DESIGN §2): an id ahead of the clock would otherwise keep its tail open until the clock
// reaches it, and a legacy client would re-read it in a loop.
bool tail_may_grow(const stream_id& last, std::optional<stream_id> head,
                   std::uint64_t head_ingested_ms, std::uint64_t now_ms);

// How many of `sent` (id order, ending in a tail group) come before that last group.
std::size_t before_last_group(std::span<const notification_ptr> sent);

// The lastId to answer with after sending `sent` (id order): the last entry's legacyId;
// `since` when nothing is sent. One exception keeps saturation lossless: when the last
// entry is in a millisecond's tail (seq >= 1023) and that tail may still grow
// (tail_may_grow), lastId stops just before the tail (ms*1024+1022), so the next poll
// reads the whole tail again — duplicates, never a loss.
std::uint64_t last_id_for(std::span<const notification_ptr> sent, std::uint64_t since,
                          std::optional<stream_id> head, std::uint64_t head_ingested_ms,
                          std::uint64_t now_ms);

}  // namespace cutover::legacy
