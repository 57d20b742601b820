#pragma once
// Where a request ends (DESIGN §8, RFC 9112 §6): Beast's parser, stopped once after the
// header so its framing can be judged (check_framing) before a byte of the body is read.
// No I/O: http_session feeds it what the socket returns, tests/fuzz/http_fuzz anything.

#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cstddef>
#include <memory>
#include <optional>
#include <string_view>

#include "net/http_util.hpp"

namespace cutover::net {

using request_parser = boost::beast::http::request_parser<boost::beast::http::string_body>;

// A parser for one request, with these limits, that stops after the header.
std::unique_ptr<request_parser> new_request_parser(std::size_t max_header, std::size_t max_body);

enum class parse_stop : std::uint8_t {
  need_more,  // every byte given was used; the request is not complete
  header,     // the header just completed (once per request): judge it, then feed on
  done,       // the request is complete; bytes after `used` belong to the next one
  error,      // malformed, or over a limit (`ec`)
};
struct parse_step {
  std::size_t used = 0;
  parse_stop stop = parse_stop::need_more;
  boost::beast::error_code ec;
};
// Feeds `in` to `p`. `header_seen` is the caller's flag for this request: false until
// the step that reports parse_stop::header.
parse_step parse_some(request_parser& p, std::string_view in, bool& header_seen);

// check_framing on a complete header.
std::optional<framing_refusal> framing_of(const request_parser& p);

}  // namespace cutover::net
