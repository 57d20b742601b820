#pragma once
// Templates of a legacy profile (docs/legacy-profiles.md): a JSON value as the old app
// wrote it, with placeholders. A string that is exactly `$name` becomes that value in
// its JSON form (`"$payload"` is the payload itself, `"$id"` a number or a string);
// `${name}` inside a string is its text; `$$` is a dollar sign. In an item, the key
// `"$payload_fields"` merges the payload's own members at that place (a payload that is
// not an object goes under the key given as its value). Everything else is copied as
// written: key order, and numbers in the spelling of the file.
//
// Compiled once when the profile is read; rendering is appends to one string, no DOM.
// Pure; no I/O.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "legacy_adapter/profile_json.hpp"

namespace cutover::legacy {

// Where a template is used decides which placeholders it may name.
enum class template_scope {
  item,          // one notification: id, type, topic, time.*, payload, $payload_fields
  list_answer,   // data, timeout, reset bodies: items, cursor
  error_answer,  // error bodies: message
  header_list,   // data, timeout, reset header values (text only): cursor
  header_error,  // error header values: none
};

// How a legacy id is written: a JSON number, or a string (with an optional prefix).
enum class id_form { integer, string };
struct id_style {
  id_form form = id_form::integer;
  std::string prefix;  // string form only
};

enum class placeholder : std::uint8_t {
  literal,
  id,
  type,
  topic,
  time_iso8601,
  time_epoch_ms,
  time_epoch_s,
  payload,
  payload_fields,
  items,
  cursor,
  message,
};

struct item_fields {
  std::uint64_t id = 0;  // the legacy id as the endpoint shows it
  std::string_view type;
  std::string_view topic;
  std::string_view payload;  // compact JSON
  std::uint64_t time_ms = 0;
};

struct answer_fields {
  std::span<const std::string_view> items;  // each already rendered by the item template
  std::uint64_t cursor = 0;
  std::string_view message;
};

struct template_error {
  int line = 0;
  std::string field;  // e.g. answers.data.body.lastId
  std::string message;
};

class json_template {
 public:
  // `field` names the template's place in the profile, for errors.
  static std::variant<json_template, template_error> compile(const pjson::node& value,
                                                             template_scope scope,
                                                             const id_style& ids,
                                                             const std::string& field);
  // A header value: a JSON string whose `${name}` parts are filled in as plain text.
  static std::variant<json_template, template_error> compile_text(const pjson::node& value,
                                                                  template_scope scope,
                                                                  const id_style& ids,
                                                                  const std::string& field);

  void render_item(const item_fields& f, std::string& out) const;
  void render_answer(const answer_fields& f, std::string& out) const;

  // How many times the template names `p` (either form).
  std::size_t count(placeholder p) const noexcept;
  bool empty() const noexcept { return pieces_.empty(); }

 private:
  struct piece {
    placeholder what = placeholder::literal;
    bool as_text = false;  // inside a string: text, escaped for JSON unless raw_
    std::string literal;   // literal text; for payload_fields, the fallback key (quoted)
    std::vector<std::string> sibling_keys;  // payload_fields: keys (quoted) the template owns
    bool lead_comma = false, trail_comma = false;  // payload_fields
  };
  class compiler;

  void render(const item_fields* item, const answer_fields* answer, std::string& out) const;
  void append_id(std::uint64_t v, bool as_text, std::string& out) const;
  void append_text(std::string_view s, bool as_text, std::string& out) const;

  std::vector<piece> pieces_;
  id_style ids_;
  bool raw_ = false;  // header values: text is not JSON-escaped
};

// The names a template may use in `scope`, for messages and documentation.
std::string placeholder_names(template_scope scope);

}  // namespace cutover::legacy
