#pragma once
// Small pieces every legacy_sim handler uses: JSON error bodies in the shape Cutover
// answers with, reading the caller's identity, and form parameters.

#include <httplib.h>

#include <optional>
#include <string>
#include <string_view>

#include "sim_state.hpp"

namespace cutover::legacy_sim {

// `bad_request`, `unauthorized`, `not_found`, ... as Cutover names them, `error` otherwise.
std::string_view error_slug(int status);

// Sets `status` and the body {"error":"<slug>","message":"<message>"}.
void send_error(httplib::Response& res, int status, std::string_view message);

// Sets `status` and a JSON body.
void send_json(httplib::Response& res, int status, std::string body);

// The user behind the `sid` cookie, if it names a live session.
std::optional<std::string> session_user(const httplib::Request& req, const session_table& sessions);

// The session cookie's value, if the request carries one.
std::optional<std::string> session_id(const httplib::Request& req);

// A parameter from the query or an application/x-www-form-urlencoded body.
std::optional<std::string> form_param(const httplib::Request& req, std::string_view name);

// `text` with every regex metacharacter escaped: httplib routes are regular expressions,
// and --poll-path is a literal path.
std::string regex_escape(std::string_view text);

// A JSON string literal for `text`, quotes included.
std::string json_quote(std::string_view text);

}  // namespace cutover::legacy_sim
