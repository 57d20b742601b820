#pragma once
// The one origin check for browser transports (DESIGN §7): a page may use /v1/ws,
// /v1/events and /socket.io/ only from the same origin or from an origin listed with
// --allow-origin. Stops cross-site WebSocket hijacking and credentialed cross-site reads
// (the browser sends the victim's cookie; Origin is the one header the page cannot
// forge). Pure: no I/O, used from any thread.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cutover::net {

// An origin reduced to what is compared: lower-case scheme and host, explicit port.
struct web_origin {
  std::string scheme;  // "http" or "https"
  std::string host;    // lower case; IPv6 literals keep their brackets
  unsigned port = 0;   // the scheme's default when the text had none
  bool operator==(const web_origin&) const = default;
  std::string str() const;  // serialised as a browser would send it
};

// Parses an Origin header value or an --allow-origin flag ("https://app.example:8443").
// nullopt for anything else: "null", paths, userinfo, other schemes, bad ports.
std::optional<web_origin> parse_origin(std::string_view text);

enum class origin_verdict {
  none,         // no Origin header: not a browser page's request (curl, Node, a server)
  same_origin,  // the page was served by this host and port
  allowed,      // listed with --allow-origin: cross-origin, answered with CORS headers
  refused,      // anything else: 403
};

class origin_policy {
 public:
  origin_policy() = default;
  explicit origin_policy(std::vector<web_origin> allowed) : allowed_(std::move(allowed)) {}

  // `origin`: the request's Origin header, if any. `host`: its Host header.
  // `forwarded_proto`: X-Forwarded-Proto when a trusted peer sent it (then the scheme
  // must match too); otherwise only host and port are compared.
  origin_verdict check(std::optional<std::string_view> origin, std::string_view host,
                       std::optional<std::string_view> forwarded_proto) const;

  const std::vector<web_origin>& allowed() const noexcept { return allowed_; }

 private:
  std::vector<web_origin> allowed_;
};

}  // namespace cutover::net
