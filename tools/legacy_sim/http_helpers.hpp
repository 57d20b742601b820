#pragma once
// Small pieces every legacy_sim handler uses: the old app's JSON error bodies, reading the
// caller's session, form parameters, JSON quoting.

#include <httplib.h>

#include <optional>
#include <string>
#include <string_view>

#include "sim_state.hpp"

namespace cutover::legacy_sim {

// The old app's session cookie.
inline constexpr std::string_view kSessionCookie = "LSESSION";

// Sets `status` and the old app's error body
// {"ok":false,"error":{"code":"<code>","detail":"<detail>"}}.
void send_error(httplib::Response& res, int status, std::string_view code, std::string_view detail);

// Sets `status` and a JSON body (application/json; charset=utf-8, Cache-Control: no-store).
void send_json(httplib::Response& res, int status, std::string body);

// The user behind the session cookie, if it names a live session.
std::optional<std::string> session_user(const httplib::Request& req, const session_table& sessions);

// The session cookie's value, if the request carries one.
std::optional<std::string> session_id(const httplib::Request& req);

// A parameter from the query or an application/x-www-form-urlencoded body.
std::optional<std::string> form_param(const httplib::Request& req, std::string_view name);

// A JSON string literal for `text`, quotes included.
std::string json_quote(std::string_view text);

}  // namespace cutover::legacy_sim
