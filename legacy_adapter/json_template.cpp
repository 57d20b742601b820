#include "legacy_adapter/json_template.hpp"

#include <array>
#include <charconv>
#include <optional>

#include "core/cursor.hpp"
#include "core/json_text.hpp"

namespace cutover::legacy {
namespace {

struct name_entry {
  std::string_view name;
  placeholder what;
  bool value_only;  // no `${name}` text form (the value is JSON, not text)
};

constexpr std::array<name_entry, 10> kNames = {{
    {"id", placeholder::id, false},
    {"type", placeholder::type, false},
    {"topic", placeholder::topic, false},
    {"time.iso8601", placeholder::time_iso8601, false},
    {"time.epoch_ms", placeholder::time_epoch_ms, false},
    {"time.epoch_s", placeholder::time_epoch_s, false},
    {"payload", placeholder::payload, true},
    {"items", placeholder::items, true},
    {"cursor", placeholder::cursor, false},
    {"message", placeholder::message, false},
}};

bool allowed(template_scope scope, placeholder p) {
  switch (scope) {
    case template_scope::item:
      return p == placeholder::id || p == placeholder::type || p == placeholder::topic ||
             p == placeholder::time_iso8601 || p == placeholder::time_epoch_ms ||
             p == placeholder::time_epoch_s || p == placeholder::payload;
    case template_scope::list_answer:
      return p == placeholder::items || p == placeholder::cursor;
    case template_scope::error_answer:
      return p == placeholder::message;
    case template_scope::header_list:
      return p == placeholder::cursor;
    case template_scope::header_error:
      return false;
  }
  return false;
}

bool is_text_scope(template_scope scope) {
  return scope == template_scope::header_list || scope == template_scope::header_error;
}

void append_number(std::string& out, std::uint64_t v) {
  char num[24];
  out.append(num, std::to_chars(num, num + sizeof num, v).ptr);
}

// `s` escaped as the inside of a JSON string (no quotes).
void append_escaped(std::string& out, std::string_view s) {
  std::size_t at = out.size();
  json_text::append_quoted(out, s);
  out.erase(at, 1);
  out.pop_back();
}

}  // namespace

std::string placeholder_names(template_scope scope) {
  std::string out;
  for (const auto& n : kNames) {
    if (!allowed(scope, n.what)) continue;
    if (!out.empty()) out += ", ";
    out += "$";
    out += n.name;
  }
  if (scope == template_scope::item) out += ", and the key $payload_fields";
  return out.empty() ? "none" : out;
}

class json_template::compiler {
 public:
  compiler(json_template& t, template_scope scope) : t_(t), scope_(scope) {}

  std::optional<template_error> value(const pjson::node& n, const std::string& field) {
    using k = pjson::node::kind;
    switch (n.type) {
      case k::null:
      case k::boolean:
      case k::number:
        lit_ += n.text;
        return std::nullopt;
      case k::string:
        return string_value(n, field);
      case k::array:
        lit_ += '[';
        for (std::size_t i = 0; i < n.items.size(); ++i) {
          if (i) lit_ += ',';
          if (auto e = value(n.items[i], field + "[" + std::to_string(i) + "]")) return e;
        }
        lit_ += ']';
        return std::nullopt;
      case k::object:
        return object(n, field);
    }
    return std::nullopt;
  }

  // A header value: the string's text, with `${name}` filled in.
  std::optional<template_error> text(const pjson::node& n, const std::string& field) {
    if (!n.is(pjson::node::kind::string))
      return template_error{n.line, field,
                            "expected a string, got " + std::string(pjson::kind_name(n.type))};
    for (unsigned char c : n.text)
      if (c < 0x20 || c == 0x7F)
        return template_error{n.line, field, "a header value may not hold control characters"};
    if (auto e = interpolate(n, field, /*in_json=*/false)) return e;
    flush();
    return std::nullopt;
  }

  void flush() {
    if (lit_.empty()) return;
    piece p;
    p.literal = std::move(lit_);
    lit_.clear();
    t_.pieces_.push_back(std::move(p));
  }

 private:
  template_error error(const pjson::node& n, const std::string& field, std::string message) {
    return template_error{n.line, field, std::move(message)};
  }

  std::optional<placeholder> lookup(std::string_view name) const {
    for (const auto& e : kNames)
      if (e.name == name) return e.what;
    return std::nullopt;
  }

  const name_entry* entry(placeholder p) const {
    for (const auto& e : kNames)
      if (e.what == p) return &e;
    return nullptr;
  }

  std::optional<template_error> check_name(const pjson::node& n, const std::string& field,
                                           std::string_view name, placeholder& out) {
    auto p = lookup(name);
    if (!p || !allowed(scope_, *p))
      return error(n, field,
                   "unknown placeholder $" + std::string(name) +
                       " here (this place may use: " + placeholder_names(scope_) + ")");
    out = *p;
    return std::nullopt;
  }

  void add(placeholder p, bool as_text) {
    flush();
    piece pc;
    pc.what = p;
    pc.as_text = as_text;
    t_.pieces_.push_back(std::move(pc));
  }

  std::optional<template_error> string_value(const pjson::node& n, const std::string& field) {
    const std::string& s = n.text;
    if (s.size() >= 2 && s[0] == '$' && s[1] != '$' && s[1] != '{') {
      placeholder p;
      if (auto e = check_name(n, field, std::string_view(s).substr(1), p)) return e;
      add(p, false);
      return std::nullopt;
    }
    lit_ += '"';
    if (auto e = interpolate(n, field, /*in_json=*/true)) return e;
    lit_ += '"';
    return std::nullopt;
  }

  // Copies the string's text into the template, turning `${name}` into text placeholders.
  std::optional<template_error> interpolate(const pjson::node& n, const std::string& field,
                                            bool in_json) {
    const std::string& s = n.text;
    std::size_t run = 0;
    auto copy = [&](std::size_t end) {
      std::string_view part = std::string_view(s).substr(run, end - run);
      if (in_json)
        append_escaped(lit_, part);
      else
        lit_ += part;
    };
    for (std::size_t i = 0; i < s.size(); ++i) {
      if (s[i] != '$') continue;
      copy(i);
      if (i + 1 < s.size() && s[i + 1] == '$') {
        lit_ += '$';
        run = ++i + 1;
        continue;
      }
      auto close = s.find('}', i);
      if (i + 1 >= s.size() || s[i + 1] != '{' || close == std::string::npos)
        return error(n, field,
                     "a '$' in a string must start $name (the whole string), ${name} or $$ (a "
                     "dollar sign)");
      std::string_view name = std::string_view(s).substr(i + 2, close - i - 2);
      placeholder p;
      if (auto e = check_name(n, field, name, p)) return e;
      if (entry(p)->value_only) {
        // Appended, not `"$" + std::string(..)`: g++ 12 -O2 warns on that (-Wrestrict, a
        // false positive) and the README's commands print no warnings.
        std::string why = "$";
        why.append(name).append(" is a JSON value: use \"$").append(name);
        why.append("\" as the whole string, not ${").append(name).append("}");
        return error(n, field, why);
      }
      add(p, true);
      run = close + 1;
      i = close;
    }
    copy(s.size());
    return std::nullopt;
  }

  std::optional<template_error> object(const pjson::node& n, const std::string& field) {
    lit_ += '{';
    const std::size_t count = n.members.size();
    bool comma_owed_by_merge = false;  // the merge at index 0 writes the comma after itself
    std::vector<std::string> keys;
    for (const auto& m : n.members)
      if (m.key != "$payload_fields") keys.push_back(json_text::quoted(literal_key(m.key)));
    for (std::size_t i = 0; i < count; ++i) {
      const auto& m = n.members[i];
      std::string child = field.empty() ? m.key : field + "." + m.key;
      if (m.key == "$payload_fields") {
        if (scope_ != template_scope::item)
          return error(*m.value, child, "$payload_fields merges a payload: only in \"item\"");
        if (!m.value->is(pjson::node::kind::string) || m.value->text.empty() ||
            m.value->text.find('$') != std::string::npos)
          return error(*m.value, child,
                       "expected the key (a plain non-empty string) under which a payload that "
                       "is not an object goes");
        std::string fallback = json_text::quoted(m.value->text);
        for (const auto& k : keys)
          if (k == fallback)
            return error(*m.value, child,
                         "the fallback key " + fallback + " is already a key of this item");
        flush();
        piece pc;
        pc.what = placeholder::payload_fields;
        pc.literal = std::move(fallback);
        pc.sibling_keys = keys;
        pc.lead_comma = i > 0;
        pc.trail_comma = i == 0 && count > 1;
        comma_owed_by_merge = pc.trail_comma;
        t_.pieces_.push_back(std::move(pc));
        continue;
      }
      if (!m.key.empty() && m.key[0] == '$' && (m.key.size() < 2 || m.key[1] != '$'))
        return error(*m.value, child,
                     "a key may not start with '$' (write $$ for a dollar sign; the only "
                     "special key is $payload_fields)");
      if (i > 0 && !comma_owed_by_merge) lit_ += ',';
      comma_owed_by_merge = false;
      json_text::append_quoted(lit_, literal_key(m.key));
      lit_ += ':';
      if (auto e = value(*m.value, child)) return e;
    }
    lit_ += '}';
    return std::nullopt;
  }

  static std::string literal_key(const std::string& key) {
    return key.size() >= 2 && key[0] == '$' && key[1] == '$' ? key.substr(1) : key;
  }

  json_template& t_;
  template_scope scope_;
  std::string lit_;
};

std::variant<json_template, template_error> json_template::compile(const pjson::node& value,
                                                                   template_scope scope,
                                                                   const id_style& ids,
                                                                   const std::string& field) {
  json_template t;
  t.ids_ = ids;
  compiler c(t, scope);
  if (is_text_scope(scope)) return template_error{value.line, field, "not a body template"};
  if (auto e = c.value(value, field)) return *e;
  c.flush();
  return t;
}

std::variant<json_template, template_error> json_template::compile_text(const pjson::node& value,
                                                                        template_scope scope,
                                                                        const id_style& ids,
                                                                        const std::string& field) {
  json_template t;
  t.ids_ = ids;
  t.raw_ = true;
  compiler c(t, scope);
  if (auto e = c.text(value, field)) return *e;
  return t;
}

std::size_t json_template::count(placeholder p) const noexcept {
  std::size_t n = 0;
  for (const auto& pc : pieces_)
    if (pc.what == p) ++n;
  return n;
}

void json_template::render_item(const item_fields& f, std::string& out) const {
  render(&f, nullptr, out);
}

void json_template::render_answer(const answer_fields& f, std::string& out) const {
  render(nullptr, &f, out);
}

void json_template::append_id(std::uint64_t v, bool as_text, std::string& out) const {
  bool quoted = ids_.form == id_form::string && !as_text;
  if (quoted) out += '"';
  if (ids_.form == id_form::string) {
    if (raw_ || !as_text)
      out += ids_.prefix;  // checked at load: needs no escaping
    else
      append_escaped(out, ids_.prefix);
  }
  append_number(out, v);
  if (quoted) out += '"';
}

void json_template::append_text(std::string_view s, bool as_text, std::string& out) const {
  if (!as_text)
    json_text::append_quoted(out, s);
  else if (raw_)
    out += s;
  else
    append_escaped(out, s);
}

void json_template::render(const item_fields* item, const answer_fields* answer,
                           std::string& out) const {
  for (const auto& pc : pieces_) {
    switch (pc.what) {
      case placeholder::literal:
        out += pc.literal;
        break;
      case placeholder::id:
        if (item) append_id(item->id, pc.as_text, out);
        break;
      case placeholder::type:
        if (item) append_text(item->type, pc.as_text, out);
        break;
      case placeholder::topic:
        if (item) append_text(item->topic, pc.as_text, out);
        break;
      case placeholder::time_iso8601:
        if (item) append_text(iso8601_utc(item->time_ms), pc.as_text, out);
        break;
      case placeholder::time_epoch_ms:
        if (item) append_number(out, item->time_ms);
        break;
      case placeholder::time_epoch_s:
        if (item) append_number(out, item->time_ms / 1000);
        break;
      case placeholder::payload:
        if (item) out += item->payload;
        break;
      case placeholder::payload_fields: {
        if (!item) break;
        // The payload's members at this place; the item's own keys win over the payload's.
        std::vector<std::pair<std::string_view, std::string_view>> fields;
        if (auto members = json_text::object_members(item->payload)) {
          for (const auto& kv : *members) {
            bool owned = false;
            for (const auto& k : pc.sibling_keys) owned = owned || k == kv.first;
            if (!owned) fields.push_back(kv);
          }
        } else {
          fields.emplace_back(pc.literal, item->payload);
        }
        for (std::size_t i = 0; i < fields.size(); ++i) {
          if (i > 0 || pc.lead_comma) out += ',';
          out += fields[i].first;
          out += ':';
          out += fields[i].second;
        }
        if (!fields.empty() && pc.trail_comma) out += ',';
        break;
      }
      case placeholder::items:
        if (!answer) break;
        out += '[';
        for (std::size_t i = 0; i < answer->items.size(); ++i) {
          if (i) out += ',';
          out += answer->items[i];
        }
        out += ']';
        break;
      case placeholder::cursor:
        if (answer) append_id(answer->cursor, pc.as_text, out);
        break;
      case placeholder::message:
        if (answer) append_text(answer->message, pc.as_text, out);
        break;
    }
  }
}

}  // namespace cutover::legacy
