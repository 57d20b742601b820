#include "legacy_adapter/poll_answers.hpp"

#include "core/json_text.hpp"

namespace cutover::legacy {
namespace {

poll_cursor from_legacy_id(const profile& p, std::uint64_t wire) {
  std::uint64_t stored = from_wire(p, wire);
  return {cursor{stream_id::from_legacy(stored), cursor_form::legacy_id, stored}, wire};
}

std::string expected_text(const cursor_spec& c) {
  std::string digits = "a non-negative integer";
  if (!c.style.prefix.empty()) return "'" + c.style.prefix + "' followed by " + digits;
  return digits;
}

rendered_answer render(const answer_spec& a, const answer_fields& f) {
  rendered_answer out;
  out.status = a.status;
  for (const auto& h : a.headers) {
    std::string v;
    h.value.render_answer(f, v);
    out.headers.push_back({h.name, std::move(v)});
  }
  if (a.body) {
    a.body->render_answer(f, out.body);
    out.content_type = a.content_type;
  }
  return out;
}

}  // namespace

std::variant<poll_cursor, std::string> read_cursor(const profile& p,
                                                   std::optional<std::string_view> raw) {
  if (!raw) return poll_cursor{};
  const cursor_spec& c = p.cursor;
  std::string_view text = *raw;
  // Headers are not checked for UTF-8 on the way in; the message quotes the value.
  if (!json_text::valid_utf8(text)) return c.name + ": malformed cursor (not UTF-8)";
  if (c.stream_ids) {
    // Cutover's own cursor rules and messages (DESIGN §2), word for word.
    cursor_error why;
    auto parsed = parse_cursor(text, &why);
    if (!parsed) return c.name + ": " + why.message;
    if (parsed->form == cursor_form::legacy_id) return from_legacy_id(p, parsed->legacy);
    return poll_cursor{*parsed, to_wire(p, parsed->after.legacy_id())};
  }
  std::string_view digits = text;
  bool prefixed =
      c.style.prefix.empty() || digits.substr(0, c.style.prefix.size()) == c.style.prefix;
  if (prefixed) digits.remove_prefix(c.style.prefix.size());
  auto v = prefixed ? parse_legacy_id(digits) : std::nullopt;
  if (!v)
    return c.name + ": malformed cursor '" + std::string(json_text::utf8_prefix(text, 64)) +
           "': expected " + expected_text(c);
  return from_legacy_id(p, *v);
}

std::string render_item(const profile& p, const notification& n) {
  item_fields f;
  f.id = to_wire(p, n.legacy_id());
  f.type = n.type;
  f.topic = n.topic;
  f.payload = n.data;
  f.time_ms = n.created_ms();
  std::string out;
  out.reserve(n.data.size() + n.type.size() + 96);
  p.item.render_item(f, out);
  return out;
}

rendered_answer render_list_answer(const answer_spec& a, std::span<const std::string_view> items,
                                   std::uint64_t cursor) {
  answer_fields f;
  f.items = items;
  f.cursor = cursor;
  return render(a, f);
}

rendered_answer render_error_answer(const answer_spec& a, std::string_view message) {
  answer_fields f;
  f.message = message;
  return render(a, f);
}

}  // namespace cutover::legacy
