#include "routes.hpp"

#include <boost/json.hpp>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <exception>
#include <string>

#include "http_helpers.hpp"
#include "inbox_db.hpp"
#include "longpoll.hpp"

namespace cutover::legacy_sim {
namespace {

namespace json = boost::json;

void log_line(const std::string& text) {
  std::fprintf(stderr, "legacy_sim: %s\n", text.c_str());
}

// Same bound as Cutover's user ids, so one system does not accept what the other refuses.
constexpr std::size_t kMaxUserId = 200;
// /api/slow never holds a worker longer than this, whatever the query asks.
constexpr std::uint64_t kMaxSlowMs = 600'000;

std::optional<std::uint64_t> parse_uint(const std::string& s) {
  if (s.empty() || s.size() > 12) return std::nullopt;
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || p != s.data() + s.size()) return std::nullopt;
  return v;
}

// The old app's idea of "who am I": a user object, not a bare id.
std::string user_body(const std::string& user) {
  return "{\"user\":{\"id\":" + json_quote(user) + ",\"name\":" + json_quote("user " + user) + "}}";
}

std::int64_t unix_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// POST /admin/events?to=user:<id>|<channel>&kind=K[&at=<unix s>], body: the JSON payload.
// How the old app's own services created notifications; tests and benchmarks use it.
void add_event(const httplib::Request& req, httplib::Response& res, sim_state& st) {
  inbox_event e;
  std::string to = req.get_param_value("to");
  if (to.rfind("user:", 0) == 0)
    e.user_id = to.substr(5);
  else
    e.channel = to;
  if (to.empty() || (e.channel.empty() && e.user_id.empty()))
    return send_error(res, 400, "BAD_RECIPIENT", "to: expected user:<id> or a channel name");
  if (e.user_id.size() > kMaxUserId || e.channel.size() > kMaxUserId)
    return send_error(res, 400, "BAD_RECIPIENT", "to: longer than 200 bytes");
  e.kind = req.has_param("kind") ? req.get_param_value("kind") : "notice";
  boost::system::error_code ec;
  json::value body = json::parse(req.body, ec);
  if (ec) return send_error(res, 400, "BAD_BODY", "the body must be one JSON value");
  e.body = json::serialize(body);
  e.created_at = unix_seconds();
  if (req.has_param("at")) {
    auto at = parse_uint(req.get_param_value("at"));
    if (!at) return send_error(res, 400, "BAD_TIME", "at: expected unix seconds");
    e.created_at = static_cast<std::int64_t>(*at);
  }
  std::string error;
  auto db = inbox_db::open(st.options.db_path, error);
  auto id = db ? db->insert(e, error) : std::nullopt;
  if (!id) {
    log_line("add event failed: " + error);
    return send_error(res, 500, "INTERNAL", "database unavailable");
  }
  send_json(res, 201, "{\"eventId\":" + json_quote(format_cursor(*id)) + "}");
}

// A cookie name must be an HTTP token, or the Set-Cookie line would be malformed.
bool is_token(const std::string& s) {
  if (s.empty()) return false;
  for (unsigned char c : s)
    if (c <= 32 || c >= 127 ||
        std::string_view("()<>@,;:\\\"/[]?={}").find(static_cast<char>(c)) !=
            std::string_view::npos)
      return false;
  return true;
}

// Everything a pass-through test wants to check, as one JSON object. Header names are
// lower-cased (HTTP says they are case-insensitive, and a proxy may change their case);
// a header sent more than once is joined with ", " ("; " for Cookie).
std::string echo_body(const httplib::Request& req) {
  json::object headers;
  for (const auto& [name, value] : req.headers) {
    std::string key = name;
    for (auto& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    auto* prev = headers.if_contains(key);
    if (!prev) {
      headers[key] = value;
    } else {
      std::string joined(prev->as_string());
      joined += key == "cookie" ? "; " : ", ";
      joined += value;
      *prev = joined;
    }
  }
  json::object query;
  for (const auto& [k, v] : req.params) {
    auto* prev = query.if_contains(k);
    if (!prev) {
      query[k] = v;
    } else if (prev->is_array()) {
      prev->as_array().emplace_back(v);
    } else {
      *prev = json::array{*prev, json::value(v)};
    }
  }
  json::object cookies;
  for (std::size_t i = 0, n = req.get_header_value_count("Cookie"); i < n; ++i) {
    // get_header_value returns a std::string: keep it alive while `rest` views it.
    const std::string header = req.get_header_value("Cookie", i);
    std::string_view rest = header;
    while (!rest.empty()) {
      auto semi = rest.find(';');
      std::string_view pair = rest.substr(0, semi);
      rest = semi == std::string_view::npos ? std::string_view{} : rest.substr(semi + 1);
      while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
      auto eq = pair.find('=');
      if (eq == std::string_view::npos || eq == 0) continue;
      cookies[pair.substr(0, eq)] = pair.substr(eq + 1);
    }
  }
  json::object out;
  out["method"] = req.method;
  out["path"] = req.path;
  out["target"] = req.target;  // path and raw query as received
  out["query"] = std::move(query);
  out["headers"] = std::move(headers);
  out["cookies"] = std::move(cookies);
  out["body"] = req.body;
  out["remoteAddr"] = req.remote_addr;
  return json::serialize(out);
}

}  // namespace

void install_routes(httplib::Server& svr, sim_state& st) {
  svr.Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(
        "<!doctype html>\n<html><head><title>legacy app</title></head>"
        "<body><h1>Hello from the legacy app</h1><p>legacy_sim: the old long-poll "
        "system.</p></body></html>\n",
        "text/html; charset=utf-8");
  });

  svr.Post("/auth/login", [&st](const httplib::Request& req, httplib::Response& res) {
    auto user = form_param(req, "username");
    if (!user || user->empty())
      return send_error(res, 400, "BAD_LOGIN", "username: missing (form or query parameter)");
    if (user->size() > kMaxUserId)
      return send_error(res, 400, "BAD_LOGIN", "username: longer than 200 bytes");
    std::string sid = st.sessions.create(*user);
    res.set_header("Set-Cookie", std::string(kSessionCookie) + "=" + sid + "; Path=/; HttpOnly");
    send_json(res, 200, user_body(*user));
    log_line("login user=" + *user);
  });

  svr.Post("/auth/logout", [&st](const httplib::Request& req, httplib::Response& res) {
    if (auto sid = session_id(req); sid && st.sessions.erase(*sid)) log_line("logout");
    res.set_header("Set-Cookie", std::string(kSessionCookie) + "=; Path=/; Max-Age=0; HttpOnly");
    res.status = 204;
  });

  // Who-am-I, which Cutover's `--auth upstream` asks with the browser's Cookie.
  svr.Get("/auth/whoami", [&st](const httplib::Request& req, httplib::Response& res) {
    st.me_requests.fetch_add(1);
    auto user = session_user(req, st.sessions);
    if (!user) return send_error(res, 401, "NO_SESSION", "log in first");
    send_json(res, 200, user_body(*user));
  });

  svr.Get("/stats", [&st](const httplib::Request&, httplib::Response& res) {
    json::object o;
    o["me_requests"] = st.me_requests.load();
    o["poll_requests"] = st.poll_requests.load();
    o["waiting_polls"] = st.waiting_polls.load();
    send_json(res, 200, json::serialize(o));
  });

  svr.Get(std::string(kUpdatesPath), [&st](const httplib::Request& req, httplib::Response& res) {
    handle_updates(req, res, st);
  });

  svr.Post("/admin/events",
           [&st](const httplib::Request& req, httplib::Response& res) { add_event(req, res, st); });

  auto echo = [](const httplib::Request& req, httplib::Response& res) {
    send_json(res, 200, echo_body(req));
  };
  svr.Get("/api/echo", echo);
  svr.Post("/api/echo", echo);
  svr.Put("/api/echo", echo);
  svr.Patch("/api/echo", echo);
  svr.Delete("/api/echo", echo);

  svr.Get(R"(/api/status/(\d+))", [](const httplib::Request& req, httplib::Response& res) {
    auto code = parse_uint(req.matches[1].str());
    if (!code || *code < 200 || *code > 599)
      return send_error(res, 400, "BAD_STATUS", "status: expected a code from 200 to 599");
    res.status = static_cast<int>(*code);
    // 204 and 304 carry no body by definition; everything else says what it is.
    if (*code != 204 && *code != 304)
      res.set_content("{\"status\":" + std::to_string(*code) + "}", "application/json");
  });

  svr.Get("/api/set-cookie", [](const httplib::Request& req, httplib::Response& res) {
    std::string name = req.get_param_value("name");
    std::string value = req.get_param_value("value");
    if (!is_token(name))
      return send_error(res, 400, "BAD_COOKIE", "name: expected a cookie name (an HTTP token)");
    if (value.find_first_of(";,\r\n") != std::string::npos)
      return send_error(res, 400, "BAD_COOKIE", "value: must not contain ';', ',' or line breaks");
    res.set_header("Set-Cookie", name + "=" + value + "; Path=/");
    json::object o;
    o["name"] = name;
    o["value"] = value;
    send_json(res, 200, json::serialize(o));
  });

  svr.Get("/api/slow", [&st](const httplib::Request& req, httplib::Response& res) {
    auto ms = parse_uint(req.get_param_value("ms"));
    if (!ms || *ms > kMaxSlowMs)
      return send_error(res, 400, "BAD_DELAY", "ms: expected milliseconds from 0 to 600000");
    // Holds the worker like a slow legacy handler would; shutdown cuts it short.
    st.stop.sleep_for(std::chrono::milliseconds(*ms));
    json::object o;
    o["sleptMs"] = *ms;
    send_json(res, 200, json::serialize(o));
  });

  // Routing misses and httplib's own refusals get the app's error shape; a handler that
  // already wrote a body (e.g. /api/status/404) keeps it.
  svr.set_error_handler(
      httplib::Server::HandlerWithResponse([](const httplib::Request& req, httplib::Response& res) {
        if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        if (res.status == 404)
          send_error(res, 404, "NOT_FOUND", "no route for " + req.method + " " + req.path);
        else
          send_error(res, res.status, "REFUSED",
                     "request refused (" + std::to_string(res.status) + ")");
        return httplib::Server::HandlerResponse::Handled;
      }));

  svr.set_exception_handler(
      [](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
        std::string what = "unknown exception";
        try {
          if (ep) std::rethrow_exception(ep);
        } catch (const std::exception& e) {
          what = e.what();
        } catch (...) {
        }
        log_line("handler for " + req.method + " " + req.path + " failed: " + what);
        send_error(res, 500, "INTERNAL", "internal error");
      });
}

}  // namespace cutover::legacy_sim
