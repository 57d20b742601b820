#pragma once
// The legacy poll's requests and answers in a profile's terms (DESIGN §4): reading the
// cursor the way the old app took it, and rendering each answer the way it wrote it.
// Pure functions; longpoll_route does the talking, poll_protocol cuts the batches.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/cursor.hpp"
#include "core/notification.hpp"
#include "legacy_adapter/profile.hpp"
#include "net/http_util.hpp"

namespace cutover::legacy {

struct poll_cursor {
  std::optional<cursor> since;  // in the store's terms; nullopt: the request carried none
  std::uint64_t wire = 0;       // the legacy id as the client wrote it (echoed when nothing new)
};

// Reads the cursor's raw value (`raw`: the query parameter or header, nullopt when
// absent). A present but malformed value is an error whose text says what was expected;
// it goes into the profile's bad_cursor answer as $message.
std::variant<poll_cursor, std::string> read_cursor(const profile& p,
                                                   std::optional<std::string_view> raw);

// One notification as the profile's item, with its legacy id as the endpoint shows it.
std::string render_item(const profile& p, const notification& n);

struct rendered_answer {
  int status = 200;
  std::vector<net::header> headers;  // names point into the profile
  std::string body;
  std::string_view content_type;  // empty when there is no body
};

// data, timeout or reset: `items` rendered by render_item, `cursor` the wire legacy id.
rendered_answer render_list_answer(const answer_spec& a, std::span<const std::string_view> items,
                                   std::uint64_t cursor);
// bad_cursor, unauthorized or unavailable, with Cutover's explanation as $message.
rendered_answer render_error_answer(const answer_spec& a, std::string_view message);

}  // namespace cutover::legacy
