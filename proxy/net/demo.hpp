#pragma once
// GET /demo (serve --demo, loopback only; DESIGN §11): a page for newcomers that connects
// over the transport they pick and publishes to their own topic. The server mints each
// demo user's token itself (GET /demo/token?user=NAME) with a key made at start, so no
// secret reaches the page. Everything here is pure or takes a short lock: fine on an I/O
// thread.

#include <optional>
#include <string>
#include <string_view>

namespace cutover::net {

// Tokens /demo/token mints per second, all viewers together (past it: 429).
inline constexpr int kDemoTokensPerSecond = 20;

// The page (HTML with its CSS and JS inline; no external asset).
const std::string& demo_page();

// Why `name` cannot be a demo user (1 to 64 of A-Z a-z 0-9 . _ -), or nullopt.
std::optional<std::string> demo_user_problem(std::string_view name);

// True when `host` (a Host header: name[:port] or [v6][:port]) names this machine's
// loopback: 127.0.0.0/8, [::1] or localhost. A page of another site whose name resolves
// to 127.0.0.1 (DNS rebinding) sends its own name and is refused.
bool loopback_host_header(std::string_view host);

// True when `host` (a --listen host) is a loopback address or "localhost".
bool loopback_listen_host(std::string_view host);

// One token may be minted now (the per-second bound above).
bool demo_mint_allowed();

}  // namespace cutover::net
