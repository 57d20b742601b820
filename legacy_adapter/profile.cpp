#include "legacy_adapter/profile.hpp"

#include <charconv>
#include <fstream>
#include <initializer_list>
#include <sstream>

#include "core/duration.hpp"

namespace cutover::legacy {
namespace {

using pjson::node;
using kind = pjson::node::kind;

// Cutover's own paths: a profile may not take them over.
constexpr std::string_view kReservedPaths[] = {"/healthz",    "/readyz",   "/metrics",
                                               "/v1/publish", "/v1/ws",    "/v1/events",
                                               "/socket.io/", "/dashboard"};

constexpr std::size_t kMaxBatch = 10'000;
constexpr std::chrono::milliseconds kMaxTimeout{std::chrono::hours(1)};

// Thrown inside the reader only; parse_profile turns it into its result.
struct refusal {
  profile_error e;
};

bool is_token_char(unsigned char c) {
  return c > 32 && c < 127 &&
         std::string_view("()<>@,;:\\\"/[]?={}").find(static_cast<char>(c)) ==
             std::string_view::npos;
}

bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (unsigned char c : s)
    if (!is_token_char(c)) return false;
  return true;
}

class reader {
 public:
  explicit reader(std::string file) : file_(std::move(file)) {}

  [[noreturn]] void fail(int line, const std::string& field, std::string message) const {
    throw refusal{{file_, line, field, std::move(message)}};
  }

  static std::string join(const std::string& parent, std::string_view key) {
    return parent.empty() ? std::string(key) : parent + "." + std::string(key);
  }

  // Refuses keys the format does not define (a typo would otherwise be ignored silently).
  void only_keys(const node& obj, const std::string& field,
                 std::initializer_list<std::string_view> known) const {
    for (const auto& m : obj.members) {
      bool ok = false;
      for (auto k : known) ok = ok || m.key == k;
      if (ok) continue;
      std::string list;
      for (auto k : known) list += (list.empty() ? "" : ", ") + std::string(k);
      fail(m.key_line, join(field, m.key), "unknown field (known here: " + list + ")");
    }
  }

  const node& expect(const node& n, kind k, const std::string& field) const {
    if (!n.is(k))
      fail(n.line, field,
           "expected " + std::string(pjson::kind_name(k)) + ", got " +
               std::string(pjson::kind_name(n.type)));
    return n;
  }

  const node* optional(const node& obj, std::string_view key) const {
    const auto* m = obj.find(key);
    return m ? m->value.get() : nullptr;
  }

  const node& required(const node& obj, std::string_view key, const std::string& field) const {
    const auto* m = obj.find(key);
    if (!m) fail(obj.line, join(field, key), "missing (required)");
    return *m->value;
  }

  std::string string_of(const node& n, const std::string& field) const {
    return expect(n, kind::string, field).text;
  }

  std::uint64_t unsigned_of(const node& n, const std::string& field, std::uint64_t max) const {
    expect(n, kind::number, field);
    std::uint64_t v = 0;
    const auto& t = n.text;
    auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
    if (ec != std::errc{} || p != t.data() + t.size() || v > max)
      fail(n.line, field,
           "expected a whole number from 0 to " + std::to_string(max) + ", got " + t);
    return v;
  }

  template <class E>
  E choice(const node& n, const std::string& field,
           std::initializer_list<std::pair<std::string_view, E>> options) const {
    std::string s = string_of(n, field);
    std::string list;
    for (const auto& [name, value] : options) {
      if (s == name) return value;
      list += (list.empty() ? "" : ", ") + std::string(name);
    }
    fail(n.line, field, "expected one of " + list + ", got \"" + s + "\"");
  }

  json_template compile(const node& n, template_scope scope, const id_style& ids,
                        const std::string& field) const {
    auto t = json_template::compile(n, scope, ids, field);
    if (auto* e = std::get_if<template_error>(&t)) fail(e->line, e->field, e->message);
    return std::get<json_template>(std::move(t));
  }

  json_template compile_text(const node& n, template_scope scope, const id_style& ids,
                             const std::string& field) const {
    auto t = json_template::compile_text(n, scope, ids, field);
    if (auto* e = std::get_if<template_error>(&t)) fail(e->line, e->field, e->message);
    return std::get<json_template>(std::move(t));
  }

  std::string path_of(const node& n, const std::string& field) const {
    std::string p = string_of(n, field);
    if (p.empty() || p[0] != '/') fail(n.line, field, "expected a path starting with '/'");
    for (unsigned char c : p)
      if (c <= 32 || c >= 127 || c == '?' || c == '#')
        fail(n.line, field, "a path may not hold spaces, control characters, '?' or '#'");
    return p;
  }

  std::string file_;
};

enum class answer_kind { data, timeout, reset, error_answer };

answer_spec read_answer(const reader& r, const node& n, const std::string& field, answer_kind k,
                        const profile& p) {
  r.expect(n, kind::object, field);
  r.only_keys(n, field, {"status", "headers", "body", "content_type"});
  answer_spec a;
  const node& st = r.required(n, "status", field);
  a.status = static_cast<int>(r.unsigned_of(st, field + ".status", 599));
  auto status_field = field + ".status";
  switch (k) {
    case answer_kind::data:
    case answer_kind::reset:
      if (a.status < 200 || a.status > 299 || a.status == 204 || a.status == 205)
        r.fail(st.line, status_field, "expected a 2xx status with a body (not 204 or 205)");
      break;
    case answer_kind::timeout:
      if ((a.status < 200 || a.status > 299 || a.status == 205) && a.status != 304)
        r.fail(st.line, status_field, "expected a 2xx status (200, 204, ...) or 304");
      break;
    case answer_kind::error_answer:
      if (a.status < 400) r.fail(st.line, status_field, "expected a 4xx or 5xx status");
      break;
  }
  bool list = k != answer_kind::error_answer;
  if (const node* h = r.optional(n, "headers")) {
    auto hf = field + ".headers";
    r.expect(*h, kind::object, hf);
    for (const auto& m : h->members) {
      auto name_field = hf + "." + m.key;
      if (!is_token(m.key)) r.fail(m.key_line, name_field, "a header name must be an HTTP token");
      for (std::string_view own :
           {"content-length", "content-type", "transfer-encoding", "connection", "cache-control"}) {
        std::string lower;
        for (char c : m.key) lower += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
        if (lower == own)
          r.fail(m.key_line, name_field,
                 "Cutover writes this header itself (the body's type is content_type)");
      }
      a.headers.push_back(
          {m.key, r.compile_text(*m.value,
                                 list ? template_scope::header_list : template_scope::header_error,
                                 p.cursor.style, name_field)});
    }
  }
  if (const node* ct = r.optional(n, "content_type")) {
    a.content_type = r.string_of(*ct, field + ".content_type");
    if (a.content_type.empty() || a.content_type.find_first_of("\r\n") != std::string::npos)
      r.fail(ct->line, field + ".content_type", "expected a media type on one line");
  } else {
    a.content_type = p.content_type;
  }
  const node* b = r.optional(n, "body");
  bool bodiless = a.status == 204 || a.status == 304;
  if (bodiless && b) r.fail(b->line, field + ".body", "a 204 or 304 answer has no body");
  if (!bodiless && !b && k != answer_kind::error_answer)
    r.fail(n.line, field + ".body", "missing (required for this status)");
  if (b) {
    a.body = r.compile(*b, list ? template_scope::list_answer : template_scope::error_answer,
                       p.cursor.style, field + ".body");
    std::size_t items = a.body->count(placeholder::items);
    if ((k == answer_kind::data || k == answer_kind::reset) && items != 1)
      r.fail(b->line, field + ".body",
             "must name \"$items\" exactly once (where the list of notifications goes), found " +
                 std::to_string(items));
    if (k == answer_kind::timeout && items > 1)
      r.fail(b->line, field + ".body", "may name \"$items\" at most once");
  }
  return a;
}

std::vector<std::string> read_user_field(const reader& r, const node& n, const std::string& field) {
  std::vector<std::string> out;
  if (n.is(kind::string)) {
    std::string_view s = n.text;
    while (true) {
      auto dot = s.find('.');
      out.emplace_back(s.substr(0, dot));
      if (dot == std::string_view::npos) break;
      s.remove_prefix(dot + 1);
    }
  } else if (n.is(kind::array)) {
    for (std::size_t i = 0; i < n.items.size(); ++i)
      out.push_back(r.string_of(n.items[i], field + "[" + std::to_string(i) + "]"));
  } else {
    r.fail(n.line, field,
           "expected the path to the user id: a string like \"user.id\" or an array of keys");
  }
  for (const auto& part : out)
    if (part.empty()) r.fail(n.line, field, "a key in the path is empty");
  if (out.empty()) r.fail(n.line, field, "expected at least one key");
  return out;
}

void read_cursor(const reader& r, const node& n, const std::string& field, profile& p) {
  r.expect(n, kind::object, field);
  r.only_keys(n, field, {"name", "in", "form", "prefix", "stream_ids", "missing"});
  auto& c = p.cursor;
  const node& name = r.required(n, "name", field);
  c.name = r.string_of(name, field + ".name");
  if (const node* in = r.optional(n, "in"))
    c.place = r.choice<cursor_place>(
        *in, field + ".in", {{"query", cursor_place::query}, {"header", cursor_place::header}});
  if (c.place == cursor_place::header
          ? !is_token(c.name)
          : c.name.empty() || c.name.find_first_of("&=#+% ") != std::string::npos)
    r.fail(name.line, field + ".name",
           c.place == cursor_place::header ? "a header name must be an HTTP token"
                                           : "a query parameter name may not be empty or hold "
                                             "'&', '=', '#', '+', '%' or spaces");
  if (const node* f = r.optional(n, "form"))
    c.style.form = r.choice<id_form>(*f, field + ".form",
                                     {{"integer", id_form::integer}, {"string", id_form::string}});
  if (const node* pre = r.optional(n, "prefix")) {
    if (c.style.form != id_form::string)
      r.fail(pre->line, field + ".prefix", "a prefix needs \"form\": \"string\"");
    c.style.prefix = r.string_of(*pre, field + ".prefix");
    if (c.style.prefix.size() > 32 ||
        c.style.prefix.find_first_not_of(
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.~:-") !=
            std::string::npos)
      r.fail(pre->line, field + ".prefix",
             "expected at most 32 letters, digits or _.~:- (it is written into URLs and headers)");
  }
  if (const node* s = r.optional(n, "stream_ids")) {
    c.stream_ids = r.expect(*s, kind::boolean, field + ".stream_ids").text == "true";
    if (c.stream_ids && c.style.form != id_form::integer)
      r.fail(s->line, field + ".stream_ids", "stream ids go with \"form\": \"integer\" only");
  }
  if (const node* m = r.optional(n, "missing"))
    c.missing = r.choice<missing_cursor>(*m, field + ".missing",
                                         {{"newest", missing_cursor::newest},
                                          {"oldest", missing_cursor::oldest},
                                          {"error", missing_cursor::refuse}});
}

answer_spec default_error(const reader& r, int status, const char* slug, const profile& p) {
  // Cutover's own error shape (DESIGN §11), as if the profile had written it.
  std::string text = "{\"status\":" + std::to_string(status) + ",\"body\":{\"error\":\"" + slug +
                     "\",\"message\":\"$message\"}" +
                     (status == 503 ? ",\"headers\":{\"Retry-After\":\"1\"}" : "") + "}";
  auto doc = pjson::parse(text);
  return read_answer(r, std::get<node>(doc), "", answer_kind::error_answer, p);
}

profile read_profile(const reader& r, const node& root) {
  r.expect(root, kind::object, "(top level)");
  r.only_keys(root, "",
              {"profile", "name", "description", "request", "batch", "timeout", "id_offset",
               "content_type", "item", "answers", "identity", "import"});
  profile p;
  p.source = r.file_;
  const node& version = r.required(root, "profile", "");
  if (r.unsigned_of(version, "profile", 1000) != 1)
    r.fail(version.line, "profile", "this Cutover reads profile format 1, got " + version.text);
  if (const node* n = r.optional(root, "name")) p.name = r.string_of(*n, "name");
  if (const node* n = r.optional(root, "description")) r.string_of(*n, "description");

  const node& req = r.expect(r.required(root, "request", ""), kind::object, "request");
  r.only_keys(req, "request", {"method", "path", "cursor"});
  if (const node* m = r.optional(req, "method"))
    p.method = r.choice<std::string>(*m, "request.method", {{"GET", "GET"}, {"POST", "POST"}});
  const node& path = r.required(req, "path", "request");
  p.path = r.path_of(path, "request.path");
  for (auto reserved : kReservedPaths)
    if (p.path == reserved)
      r.fail(path.line, "request.path", "Cutover serves " + p.path + " itself");
  read_cursor(r, r.required(req, "cursor", "request"), "request.cursor", p);

  if (const node* n = r.optional(root, "batch")) {
    p.batch = static_cast<std::size_t>(r.unsigned_of(*n, "batch", kMaxBatch));
    if (p.batch == 0) r.fail(n->line, "batch", "expected at least 1");
  }
  if (const node* n = r.optional(root, "timeout")) {
    auto d = parse_duration(r.string_of(*n, "timeout"));
    if (!d || d->count() <= 0 || *d > kMaxTimeout)
      r.fail(n->line, "timeout", "expected a duration from 1ms to 1h, e.g. \"30s\" or \"500ms\"");
    p.timeout = *d;
  }
  if (const node* n = r.optional(root, "id_offset"))
    p.id_offset = r.unsigned_of(*n, "id_offset", kMaxIdOffset);
  if (const node* n = r.optional(root, "content_type")) {
    p.content_type = r.string_of(*n, "content_type");
    if (p.content_type.empty() || p.content_type.find_first_of("\r\n") != std::string::npos)
      r.fail(n->line, "content_type", "expected a media type on one line");
  }

  const node& item = r.expect(r.required(root, "item", ""), kind::object, "item");
  p.item = r.compile(item, template_scope::item, p.cursor.style, "item");

  const node& answers = r.expect(r.required(root, "answers", ""), kind::object, "answers");
  r.only_keys(answers, "answers",
              {"data", "timeout", "reset", "bad_cursor", "unauthorized", "unavailable"});
  p.data =
      read_answer(r, r.required(answers, "data", "answers"), "answers.data", answer_kind::data, p);
  p.timeout_answer = read_answer(r, r.required(answers, "timeout", "answers"), "answers.timeout",
                                 answer_kind::timeout, p);
  p.reset = read_answer(r, r.required(answers, "reset", "answers"), "answers.reset",
                        answer_kind::reset, p);
  auto error_answer = [&](const char* key, int status, const char* slug) {
    if (const node* n = r.optional(answers, key))
      return read_answer(r, *n, std::string("answers.") + key, answer_kind::error_answer, p);
    return default_error(r, status, slug, p);
  };
  p.bad_cursor = error_answer("bad_cursor", 400, "bad_request");
  p.unauthorized = error_answer("unauthorized", 401, "unauthorized");
  p.unavailable = error_answer("unavailable", 503, "unavailable");

  if (const node* id = r.optional(root, "identity")) {
    r.expect(*id, kind::object, "identity");
    r.only_keys(*id, "identity", {"user", "session_cookie", "path"});
    if (const node* u = r.optional(*id, "user"))
      p.identity.user_field = read_user_field(r, *u, "identity.user");
    if (const node* c = r.optional(*id, "session_cookie"); c && !c->is(kind::null)) {
      p.identity.session_cookie = r.string_of(*c, "identity.session_cookie");
      if (!is_token(p.identity.session_cookie))
        r.fail(c->line, "identity.session_cookie", "a cookie name must be an HTTP token");
    }
    if (const node* pa = r.optional(*id, "path"); pa && !pa->is(kind::null))
      p.identity.path = r.path_of(*pa, "identity.path");
  }
  if (const node* im = r.optional(root, "import")) {
    r.expect(*im, kind::object, "import");
    r.only_keys(*im, "import", {"time"});
    if (const node* t = r.optional(*im, "time"))
      p.import.time = r.choice<time_format>(*t, "import.time",
                                            {{"iso8601", time_format::iso8601},
                                             {"epoch_ms", time_format::epoch_ms},
                                             {"epoch_s", time_format::epoch_s}});
  }
  return p;
}

}  // namespace

std::string profile_error::text() const {
  std::string out = file;
  if (line > 0) {
    out += ':';  // not `":" + to_string`: g++ 12 -O2 warns on it (-Wrestrict, a false positive)
    out += std::to_string(line);
  }
  out += ": ";
  if (!field.empty()) out += field + ": ";
  out += message;
  return out;
}

std::variant<profile, profile_error> parse_profile(std::string_view text, const std::string& file) {
  auto doc = pjson::parse(text);
  if (auto* e = std::get_if<pjson::parse_error>(&doc))
    return profile_error{file, e->line, "", e->message};
  reader r(file);
  try {
    return read_profile(r, std::get<pjson::node>(doc));
  } catch (const refusal& x) {
    return x.e;
  }
}

std::variant<profile, profile_error> load_profile_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return profile_error{path, 0, "", "cannot read the file"};
  std::ostringstream s;
  s << in.rdbuf();
  if (in.bad()) return profile_error{path, 0, "", "cannot read the file"};
  return parse_profile(s.str(), path);
}

const profile& builtin_profile() {
  static const profile p = [] {
    auto r = parse_profile(builtin_profile_text(), "builtin");
    // The embedded text is tested; a broken build is the only way to get here.
    if (auto* e = std::get_if<profile_error>(&r)) throw std::logic_error(e->text());
    return std::get<profile>(std::move(r));
  }();
  return p;
}

std::uint64_t to_wire(const profile& p, std::uint64_t stored) noexcept {
  if (stored == 0) return 0;
  return stored > UINT64_MAX - p.id_offset ? UINT64_MAX : stored + p.id_offset;
}

std::uint64_t from_wire(const profile& p, std::uint64_t wire) noexcept {
  return wire <= p.id_offset ? 0 : wire - p.id_offset;
}

}  // namespace cutover::legacy
