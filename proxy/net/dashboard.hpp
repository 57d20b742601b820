#pragma once
// GET /dashboard (DESIGN §8): the operators' page, embedded in the binary, and its feed
// /dashboard/events, an SSE stream with one JSON snapshot a second. Guarded by the admin
// token (Authorization: Bearer, or the HttpOnly cookie that `?token=` sets). A feed is not
// a thread: it is a connection on its I/O thread, written from the shard's once-a-second
// sweep with a non-blocking write; a viewer that does not read loses snapshots, not memory.

#include <boost/asio/ip/tcp.hpp>
#include <string>
#include <string_view>

#include "net/shard.hpp"

namespace cutover::net {

inline constexpr std::string_view kDashboardCookie = "cutover_admin";
inline constexpr std::size_t kMaxDashboardViewers = 8;

// The page (HTML with its CSS and JS inline; no external asset).
const std::string& dashboard_page();

// True when the request carries the admin token as `Authorization: Bearer` or the cookie.
bool dashboard_authorized(std::string_view admin_token, std::string_view authorization,
                          std::string_view cookie);

// One snapshot, as the feed sends it (JSON object text).
std::string dashboard_snapshot(const server_context& ctx);

// Takes the socket: writes the SSE head and a first snapshot, then one a second. False
// (socket untouched) when kMaxDashboardViewers feeds are open.
bool start_dashboard_feed(shard& sh, boost::asio::ip::tcp::socket& socket);

}  // namespace cutover::net
