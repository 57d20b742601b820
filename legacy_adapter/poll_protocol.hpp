#pragma once
// The legacy long-poll wire format (DESIGN §4), as pure functions: reading the query,
// cutting a batch without splitting a legacyId group, and rendering the body. No I/O;
// longpoll_route does the talking.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>

#include "core/cursor.hpp"
#include "core/notification.hpp"
#include "net/http_util.hpp"

namespace cutover::legacy {

struct poll_query {
  std::optional<cursor> since;  // nullopt: the parameter was absent
};

// Reads `param` (default `since`) from the query. A present but malformed value is an
// error whose text says what was expected.
std::variant<poll_query, std::string> parse_poll_query(const net::query_params& q,
                                                       std::string_view param);

// {"id":<legacyId>,"type":"..","createdAt":"..","payload":<data>}, rendered once per
// notification and shared by every poll that returns it.
const std::string& legacy_element(const notification& n);

struct cut {
  std::size_t count = 0;   // entries to send
  bool need_more = false;  // one legacyId group fills the whole batch: read on to its end
};

// How many of `entries` (id order) fit a batch of `batch` without cutting a group of
// entries that share one legacyId (DESIGN §2). `complete`: entries holds everything up
// to where the caller's read stopped short (no more after the last one).
cut cut_batch(std::span<const notification_ptr> entries, std::size_t batch, bool complete);

// The lastId to answer with after sending `sent` (id order): the last entry's legacyId;
// `since` when nothing is sent. One exception keeps saturation lossless: when the last
// entry is in a millisecond's tail (seq >= 1023) and more of that tail may still arrive
// (the stream has not moved past that millisecond: `head` is in it and `now_ms` is
// within 2 s of it), lastId stops just before the tail (ms*1024+1022), so the next poll
// reads the whole tail again — duplicates, never a loss.
std::uint64_t last_id_for(std::span<const notification_ptr> sent, std::uint64_t since,
                          std::optional<stream_id> head, std::uint64_t now_ms);

// {"notifications":[...],"lastId":N} with `"reset":true` when history was truncated.
std::string render_poll_body(std::span<const notification_ptr> entries, std::uint64_t last_id,
                             bool reset);

}  // namespace cutover::legacy
