#pragma once
// JSON text helpers for the hot path: validation without building a DOM, whitespace
// removal that keeps the publisher's text otherwise untouched, and string escaping.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cutover::json_text {

struct limits {
  std::size_t max_depth = 64;
};

// Returns the compact form of `text` (insignificant whitespace removed, every other
// byte kept as written) when `text` is exactly one valid JSON value in valid UTF-8;
// otherwise nullopt and, when `why` is set, a short reason.
std::optional<std::string> validate_and_compact(std::string_view text, std::string* why = nullptr,
                                                limits lim = {});

// Members of a top-level object given in compact, valid JSON (validate_and_compact's
// output): (raw key with its quotes, raw value text). nullopt when it is not an object.
// Cutting spans instead of re-serialising keeps a publisher's spelling of numbers.
std::optional<std::vector<std::pair<std::string_view, std::string_view>>> object_members(
    std::string_view compact);

// The first `max` bytes of `s`, shortened so no UTF-8 sequence is cut: for quoting client
// input in messages that end up in JSON bodies and WebSocket text frames.
std::string_view utf8_prefix(std::string_view s, std::size_t max);

// Appends `s` as a JSON string literal (with quotes). `s` must be valid UTF-8.
void append_quoted(std::string& out, std::string_view s);
std::string quoted(std::string_view s);

// True when `s` is valid UTF-8 (no overlongs, no surrogates, <= U+10FFFF).
bool valid_utf8(std::string_view s) noexcept;

}  // namespace cutover::json_text
