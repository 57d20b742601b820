#include "legacy_adapter/poll_protocol.hpp"

#include <charconv>

#include "core/json_text.hpp"

namespace cutover::legacy {

std::variant<poll_query, std::string> parse_poll_query(const net::query_params& q,
                                                       std::string_view param) {
  const std::string* v = net::find_param(q, param);
  if (!v) return poll_query{};
  cursor_error why;
  auto c = parse_cursor(*v, &why);
  if (!c) return std::string(param) + ": " + why.message;
  return poll_query{*c};
}

const std::string& legacy_element(const notification& n) {
  return n.rendered(wire_slot::legacy, [](const notification& x) {
    std::string out;
    out.reserve(x.data.size() + x.type.size() + 96);
    out += R"({"id":)";
    char num[24];
    out.append(num, std::to_chars(num, num + sizeof num, x.legacy_id()).ptr);
    out += R"(,"type":)";
    json_text::append_quoted(out, x.type);
    out += R"(,"createdAt":")";
    out += iso8601_utc(x.id.ms);
    out += R"(","payload":)";
    out += x.data;
    out += '}';
    return out;
  });
}

cut cut_batch(std::span<const notification_ptr> entries, std::size_t batch, bool complete) {
  if (entries.size() <= batch) {
    // Everything read fits; but if the read was cut by its own limit, the last group may
    // continue past it.
    if (complete || entries.empty()) return {entries.size(), false};
    std::uint64_t last = entries.back()->legacy_id();
    std::size_t start = entries.size();
    while (start > 0 && entries[start - 1]->legacy_id() == last) --start;
    if (start > 0) return {start, false};
    return {entries.size(), true};
  }
  std::uint64_t boundary = entries[batch - 1]->legacy_id();
  if (entries[batch]->legacy_id() != boundary) return {batch, false};
  std::size_t start = batch - 1;
  while (start > 0 && entries[start - 1]->legacy_id() == boundary) --start;
  if (start > 0) return {start, false};
  // The group starts the batch: send all of it, reading on if the read ended inside it.
  std::size_t end = batch;
  while (end < entries.size() && entries[end]->legacy_id() == boundary) ++end;
  if (end == entries.size() && !complete) return {end, true};
  return {end, false};
}

std::uint64_t last_id_for(std::span<const notification_ptr> sent, std::uint64_t since,
                          std::optional<stream_id> head, std::uint64_t now_ms) {
  if (sent.empty()) return since;
  const stream_id& last = sent.back()->id;
  if (last.seq < stream_id::kLegacyTail) return last.legacy_id();
  bool stream_moved_on = head && head->ms > last.ms;
  bool millisecond_long_past = now_ms > last.ms + 2000;
  if (stream_moved_on || millisecond_long_past) return last.legacy_id();
  return last.ms * 1024 + (stream_id::kLegacyTail - 1);
}

std::string render_poll_body(std::span<const notification_ptr> entries, std::uint64_t last_id,
                             bool reset) {
  std::size_t size = 64;
  for (const auto& n : entries) size += legacy_element(*n).size() + 1;
  std::string out;
  out.reserve(size);
  out += R"({"notifications":[)";
  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (i) out += ',';
    out += legacy_element(*entries[i]);
  }
  out += R"(],"lastId":)";
  char num[24];
  out.append(num, std::to_chars(num, num + sizeof num, last_id).ptr);
  if (reset) out += R"(,"reset":true)";
  out += '}';
  return out;
}

}  // namespace cutover::legacy
