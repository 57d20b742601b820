#include "core/entry.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "core/json_text.hpp"

namespace cutover {
namespace {

bool has_control(std::string_view s) {
  for (unsigned char c : s)
    if (c < 0x20 || c == 0x7F) return true;
  return false;
}

std::optional<std::string> text_problem(const char* what, std::string_view s, std::size_t max) {
  if (s.size() > max) return std::string(what) + " longer than " + std::to_string(max) + " bytes";
  if (!json_text::valid_utf8(s)) return std::string(what) + " is not valid UTF-8";
  if (has_control(s)) return std::string(what) + " contains control characters";
  return std::nullopt;
}

// Keeps valid UTF-8 as is and replaces anything else byte by byte with U+FFFD.
std::string printable(std::string_view s, std::size_t max) {
  if (s.size() > max) s = s.substr(0, max);
  if (json_text::valid_utf8(s)) return std::string(s);
  std::string out;
  for (unsigned char c : s) {
    if (c < 0x80)
      out.push_back(static_cast<char>(c));
    else
      out.append("\xEF\xBF\xBD");
  }
  return out;
}

decode_result fail(std::string reason) {
  return {std::nullopt, std::move(reason)};
}

}  // namespace

std::optional<std::string> topic_problem(std::string_view topic, const entry_limits& lim) {
  if (topic.empty()) return std::string("empty topic");
  return text_problem("topic", topic, lim.max_topic);
}

decode_result decode_stream_fields(const field_list& fields, const entry_limits& lim) {
  const std::string* topic = nullptr;
  const std::string* data = nullptr;
  const std::string* type = nullptr;
  const std::string* key = nullptr;
  for (const auto& [name, value] : fields) {
    const std::string** slot = name == "topic"  ? &topic
                               : name == "data" ? &data
                               : name == "type" ? &type
                               : name == "key"  ? &key
                                                : nullptr;
    if (!slot) continue;
    if (*slot) return fail("field '" + name + "' appears more than once");
    *slot = &value;
  }
  if (!topic) return fail("missing field 'topic'");
  if (!data) return fail("missing field 'data'");
  if (auto p = topic_problem(*topic, lim)) return fail(*p);
  if (type) {
    if (auto p = text_problem("type", *type, lim.max_type)) return fail(*p);
  }
  if (key) {
    if (key->empty()) return fail("empty idempotency key");
    if (auto p = text_problem("key", *key, lim.max_key)) return fail(*p);
  }
  if (data->size() > lim.max_payload)
    return fail("data is " + std::to_string(data->size()) + " bytes, over --max-payload " +
                std::to_string(lim.max_payload));
  std::string why;
  auto compact = json_text::validate_and_compact(*data, &why);
  if (!compact) return fail("data is not JSON: " + why);
  decoded_entry e{*topic, type ? *type : std::string(), std::move(*compact), std::nullopt};
  if (key) e.key = *key;
  return {std::move(e), {}};
}

decode_result decode_pubsub_message(std::string_view topic, std::string_view message,
                                    const entry_limits& lim) {
  if (auto p = topic_problem(topic, lim)) return fail(*p);
  if (message.size() > lim.max_payload)
    return fail("message is " + std::to_string(message.size()) + " bytes, over --max-payload " +
                std::to_string(lim.max_payload));
  std::string why;
  auto compact = json_text::validate_and_compact(message, &why);
  if (!compact) return fail("message is not JSON: " + why);
  // {"type":..,"data":..} (exactly those keys, type a string) is an envelope; anything
  // else is the data itself. Spans are cut from the compact text, so data keeps the
  // publisher's spelling (numbers are not re-formatted).
  auto members = json_text::object_members(*compact);
  if (members && (members->size() == 1 || members->size() == 2)) {
    std::optional<std::string_view> t, d;
    for (auto [k, v] : *members) {
      if (k == "\"type\"")
        t = v;
      else if (k == "\"data\"")
        d = v;
    }
    if (d && (members->size() == 1 || t) && (!t || t->front() == '"')) {
      std::string type;
      if (t) {
        boost::json::error_code ec;
        auto tv = boost::json::parse(*t, ec);
        if (ec || !tv.is_string()) return fail("message type is not a JSON string");
        type = std::string(tv.get_string());
        if (auto p = text_problem("type", type, lim.max_type)) return fail(*p);
      }
      return {decoded_entry{std::string(topic), std::move(type), std::string(*d), std::nullopt},
              {}};
    }
  }
  return {decoded_entry{std::string(topic), std::string(), std::move(*compact), std::nullopt}, {}};
}

decode_result decode_publish_body(std::string_view body, const entry_limits& lim) {
  if (body.size() > lim.max_payload + 4096) return fail("body is larger than --max-payload allows");
  std::string why;
  auto compact = json_text::validate_and_compact(body, &why);
  if (!compact) return fail("body is not JSON: " + why);
  auto members = json_text::object_members(*compact);
  if (!members) return fail("body must be a JSON object with topic and data");
  field_list fields;
  for (auto [k, v] : *members) {
    boost::json::error_code ec;
    auto key = boost::json::parse(k, ec);
    if (ec || !key.is_string()) return fail("body has a malformed key");
    std::string name(key.get_string());
    if (name == "data") {
      fields.emplace_back(name, std::string(v));
    } else if (name == "topic" || name == "type" || name == "key") {
      auto val = boost::json::parse(v, ec);
      if (ec || !val.is_string()) return fail("'" + name + "' must be a JSON string");
      fields.emplace_back(name, std::string(val.get_string()));
    } else {
      return fail("unknown field '" + std::string(json_text::utf8_prefix(name, 64)) +
                  "' (expected topic, type, data, key)");
    }
  }
  return decode_stream_fields(fields, lim);
}

std::string raw_fields_json(const field_list& fields, std::size_t max_bytes) {
  std::string out = "{";
  bool first = true;
  for (const auto& [name, value] : fields) {
    if (out.size() >= max_bytes) break;
    if (!first) out.push_back(',');
    first = false;
    json_text::append_quoted(out, printable(name, 256));
    out.push_back(':');
    json_text::append_quoted(out, printable(value, max_bytes));
  }
  out.push_back('}');
  return out;
}

}  // namespace cutover
