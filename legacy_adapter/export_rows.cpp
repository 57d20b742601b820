#include "legacy_adapter/export_rows.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "core/json_text.hpp"

namespace cutover::legacy {
namespace {

namespace json = boost::json;

// Larger than any sane exported row; a CSV record past it is refused, not buffered.
constexpr std::size_t kMaxRecordBytes = 4 << 20;

std::optional<std::uint64_t> digits_of(std::string_view s, std::size_t& i, std::size_t n) {
  if (i + n > s.size()) return std::nullopt;
  std::uint64_t v = 0;
  for (std::size_t k = 0; k < n; ++k) {
    char c = s[i + k];
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  i += n;
  return v;
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

std::optional<std::uint64_t> parse_iso8601(std::string_view s) {
  std::size_t i = 0;
  auto y = digits_of(s, i, 4);
  if (!y || i >= s.size() || s[i++] != '-') return std::nullopt;
  auto mo = digits_of(s, i, 2);
  if (!mo || i >= s.size() || s[i++] != '-') return std::nullopt;
  auto d = digits_of(s, i, 2);
  if (!d || i >= s.size() || (s[i] != 'T' && s[i] != ' ')) return std::nullopt;
  ++i;
  auto h = digits_of(s, i, 2);
  if (!h || i >= s.size() || s[i++] != ':') return std::nullopt;
  auto mi = digits_of(s, i, 2);
  if (!mi || i >= s.size() || s[i++] != ':') return std::nullopt;
  auto se = digits_of(s, i, 2);
  if (!se) return std::nullopt;
  std::uint64_t ms = 0;
  if (i < s.size() && s[i] == '.') {
    ++i;
    std::size_t start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      if (i - start < 3) ms = ms * 10 + static_cast<std::uint64_t>(s[i] - '0');
      ++i;
    }
    if (i == start) return std::nullopt;
    for (std::size_t k = i - start; k < 3; ++k) ms *= 10;
  }
  std::int64_t zone_minutes = 0;
  if (i < s.size()) {
    char z = s[i++];
    if (z == 'Z' || z == 'z') {
      // UTC
    } else if (z == '+' || z == '-') {
      auto zh = digits_of(s, i, 2);
      if (i < s.size() && s[i] == ':') ++i;
      auto zm = digits_of(s, i, 2);
      if (!zh || !zm || *zh > 23 || *zm > 59) return std::nullopt;
      zone_minutes = static_cast<std::int64_t>(*zh * 60 + *zm) * (z == '+' ? 1 : -1);
    } else {
      return std::nullopt;
    }
  }
  if (i != s.size()) return std::nullopt;
  if (*mo < 1 || *mo > 12 || *d < 1 || *d > 31 || *h > 23 || *mi > 59 || *se > 60)
    return std::nullopt;
  std::int64_t secs = days_from_civil(static_cast<std::int64_t>(*y), static_cast<unsigned>(*mo),
                                      static_cast<unsigned>(*d)) *
                          86400 +
                      static_cast<std::int64_t>(*h * 3600 + *mi * 60 + *se) - zone_minutes * 60;
  if (secs < 0) return std::nullopt;  // before 1970: not a time this store can keep
  return static_cast<std::uint64_t>(secs) * 1000 + ms;
}

std::optional<std::uint64_t> parse_epoch(std::string_view s, bool seconds) {
  auto dot = s.find('.');
  auto whole = parse_legacy_id(s.substr(0, dot));
  if (!whole || (!seconds && dot != std::string_view::npos)) return std::nullopt;
  std::uint64_t ms = 0;
  if (dot != std::string_view::npos) {
    std::string_view frac = s.substr(dot + 1);
    if (frac.empty() || frac.find_first_not_of("0123456789") != std::string_view::npos)
      return std::nullopt;
    for (std::size_t k = 0; k < 3; ++k)
      ms = ms * 10 + (k < frac.size() ? static_cast<std::uint64_t>(frac[k] - '0') : 0);
  }
  std::uint64_t factor = seconds ? 1000 : 1;
  if (*whole > (stream_id::kMaxMs / factor)) return std::nullopt;  // past year 2248
  return *whole * factor + ms;
}

std::string_view time_format_name(time_format f) {
  switch (f) {
    case time_format::iso8601:
      return "an ISO-8601 time like 2023-11-14T22:13:20Z";
    case time_format::epoch_ms:
      return "milliseconds since 1970 (a whole number)";
    case time_format::epoch_s:
      return "seconds since 1970";
  }
  return "?";
}

// What both formats share once the fields are found: checks and the stored form.
row_result finish(std::optional<std::uint64_t> id, const std::string& user,
                  const std::string& topic, const std::string& type,
                  std::optional<std::uint64_t> time, std::string_view payload, const profile& p,
                  const entry_limits& lim) {
  if (!id) return std::string("id: expected the old app's id, a whole number");
  if (*id == 0) return std::string("id: must be at least 1 (0 means \"from the oldest\")");
  if (topic.empty() && user.empty()) return std::string("needs a user or a topic");
  if (!time) return "time: expected " + std::string(time_format_name(p.import.time));
  // The same checks as an entry from Redis: topic, type and payload limits, JSON.
  field_list fields = {{"topic", topic.empty() ? "user:" + user : topic},
                       {"type", type},
                       {"data", std::string(payload)}};
  auto d = decode_stream_fields(fields, lim);
  if (!d.entry) return d.reason;
  return export_row{*id, std::move(d.entry->topic), std::move(d.entry->type),
                    std::move(d.entry->data), *time};
}

std::optional<std::uint64_t> id_of(const json::value& v) {
  if (v.is_uint64()) return v.get_uint64();
  if (v.is_int64() && v.get_int64() >= 0) return static_cast<std::uint64_t>(v.get_int64());
  if (v.is_string()) return parse_legacy_id(v.get_string());
  return std::nullopt;
}

// A user id or topic written as a string, or as a number (many tables use integer ids).
std::optional<std::string> name_of(const json::value* v) {
  if (!v || v->is_null()) return std::string();
  if (v->is_string()) return std::string(v->get_string());
  if (v->is_int64() || v->is_uint64()) return json::serialize(*v);
  return std::nullopt;
}

}  // namespace

std::optional<std::uint64_t> parse_export_time(std::string_view text, time_format f) {
  switch (f) {
    case time_format::iso8601:
      return parse_iso8601(text);
    case time_format::epoch_ms:
      return parse_epoch(text, false);
    case time_format::epoch_s:
      return parse_epoch(text, true);
  }
  return std::nullopt;
}

row_result parse_ndjson_row(std::string_view line, const profile& p, const entry_limits& lim) {
  std::string why;
  auto compact = json_text::validate_and_compact(line, &why);
  if (!compact) return "not a JSON object: " + why;
  auto members = json_text::object_members(*compact);
  if (!members) return std::string("not a JSON object");
  json::value v = json::parse(*compact);
  const auto& o = v.get_object();
  std::string_view payload;
  bool have_payload = false;
  for (const auto& [key, value] : *members)
    if (key == "\"payload\"") {
      payload = value;  // as written, so numbers keep their spelling
      have_payload = true;
    }
  if (!have_payload) return std::string("payload: missing");
  const auto* id = o.if_contains("id");
  auto user = name_of(o.if_contains("user"));
  auto topic = name_of(o.if_contains("topic"));
  if (!user) return std::string("user: expected a string or a whole number");
  if (!topic || (o.if_contains("topic") && o.at("topic").is_number()))
    return std::string("topic: expected a string");
  std::string type;
  if (const auto* t = o.if_contains("type"); t && !t->is_null()) {
    if (!t->is_string()) return std::string("type: expected a string");
    type = t->get_string();
  }
  std::optional<std::uint64_t> time;
  if (const auto* t = o.if_contains("time")) {
    if (t->is_string())
      time = parse_export_time(t->get_string(), p.import.time);
    else if (t->is_number() && p.import.time != time_format::iso8601) {
      // The number as written: 1700000000.5 must not become 1.7000000005E9.
      for (const auto& [key, value] : *members)
        if (key == "\"time\"") time = parse_export_time(value, p.import.time);
    }
  }
  return finish(id ? id_of(*id) : std::nullopt, *user, *topic, type, time, payload, p, lim);
}

std::variant<csv_columns, std::string> csv_header(const std::vector<std::string>& names) {
  csv_columns c;
  for (std::size_t i = 0; i < names.size(); ++i) {
    const std::string& n = names[i];
    int* slot = n == "id"        ? &c.id
                : n == "user"    ? &c.user
                : n == "topic"   ? &c.topic
                : n == "type"    ? &c.type
                : n == "time"    ? &c.time
                : n == "payload" ? &c.payload
                                 : nullptr;
    if (!slot) continue;
    if (*slot >= 0) return "column '" + n + "' is named twice";
    *slot = static_cast<int>(i);
  }
  for (auto [col, name] : {std::pair{c.id, "id"}, {c.time, "time"}, {c.payload, "payload"}})
    if (col < 0) return std::string("the header has no '") + name + "' column";
  if (c.user < 0 && c.topic < 0) return std::string("the header has neither 'user' nor 'topic'");
  return c;
}

row_result parse_csv_row(const std::vector<std::string>& fields, const csv_columns& cols,
                         const profile& p, const entry_limits& lim) {
  int widest = std::max({cols.id, cols.user, cols.topic, cols.type, cols.time, cols.payload});
  if (static_cast<int>(fields.size()) <= widest)
    return "has " + std::to_string(fields.size()) + " fields, the header names more";
  auto field = [&](int col) {
    return col < 0 ? std::string() : fields[static_cast<std::size_t>(col)];
  };
  return finish(parse_legacy_id(field(cols.id)), field(cols.user), field(cols.topic),
                field(cols.type), parse_export_time(field(cols.time), p.import.time),
                field(cols.payload), p, lim);
}

csv_reader::outcome csv_reader::next(std::vector<std::string>& fields, std::size_t& line,
                                     std::string& error) {
  fields.clear();
  std::string field;
  bool quoted = false, in_quotes = false, any = false;
  std::size_t bytes = 0;
  line = line_ + 1;
  while (true) {
    int c = in_.get();
    if (c == std::char_traits<char>::eof()) {
      if (in_quotes) {
        error = "a quoted field is not closed";
        return outcome::broken;
      }
      if (!any && field.empty() && fields.empty()) return outcome::end;
      fields.push_back(std::move(field));
      ++line_;
      return outcome::record;
    }
    any = true;
    if (++bytes > kMaxRecordBytes) {
      error = "a record is larger than " + std::to_string(kMaxRecordBytes) + " bytes";
      return outcome::broken;
    }
    char ch = static_cast<char>(c);
    if (in_quotes) {
      if (ch == '"') {
        if (in_.peek() == '"') {
          in_.get();
          field += '"';
        } else {
          in_quotes = false;
        }
      } else {
        if (ch == '\n') ++line_;
        field += ch;
      }
      continue;
    }
    if (ch == '"') {
      if (!field.empty() || quoted) {
        error = "a quote inside an unquoted field (quote the whole field, double inner quotes)";
        return outcome::broken;
      }
      quoted = in_quotes = true;
    } else if (ch == ',') {
      fields.push_back(std::move(field));
      field.clear();
      quoted = false;
    } else if (ch == '\n' || ch == '\r') {
      if (ch == '\r' && in_.peek() == '\n') in_.get();
      ++line_;
      if (fields.empty() && field.empty() && !quoted) {  // a blank line
        line = line_ + 1;
        any = false;
        continue;
      }
      fields.push_back(std::move(field));
      return outcome::record;
    } else {
      if (quoted) {
        error = "text after a closing quote";
        return outcome::broken;
      }
      field += ch;
    }
  }
}

stream_id stored_id(std::uint64_t legacy_id, std::uint64_t offset) noexcept {
  std::uint64_t p = legacy_id - offset;
  return {p / 1024, p % 1024};
}

offset_verdict check_offset(std::uint64_t min_id, std::uint64_t max_id, std::uint64_t offset,
                            stream_id new_ids_start) {
  // Stored positions 1 .. bound-1 are free for imports: below every new id, and not "0".
  const std::uint64_t bound = new_ids_start.ms * 1024;
  offset_verdict v;
  if (min_id <= offset) {
    v.why = "old id " + std::to_string(min_id) + " is not above the profile's id_offset " +
            std::to_string(offset) + " (it would be stored at or before the start)";
  } else if (max_id - offset >= bound) {
    v.why = "old id " + std::to_string(max_id) + " would not compare below the ids of new " +
            "notifications (they start at legacyId " + std::to_string(bound + offset) + ", " +
            iso8601_utc(new_ids_start.ms) + ")";
  } else {
    v.ok = true;
    return v;
  }
  // The smallest offset that fits, if one does.
  std::uint64_t lowest = max_id >= bound ? max_id - bound + 1 : 0;
  if (max_id - min_id + 1 >= bound)
    v.why += "; no id_offset fits: the old ids span more than the " + std::to_string(bound) +
             " positions below the new ones";
  else if (lowest > kMaxIdOffset)
    v.why += "; the id_offset that would fit (" + std::to_string(lowest) +
             ") is above 2^53-1, where legacy ids stop being exact in JavaScript";
  else
    v.suggest = lowest;
  return v;
}

}  // namespace cutover::legacy
