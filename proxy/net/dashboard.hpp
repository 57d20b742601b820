#pragma once
// GET /dashboard (DESIGN §8): the operators' page, embedded in the binary, and its feed
// /dashboard/events, an SSE stream with one JSON snapshot a second. Guarded by the admin
// token (Authorization: Bearer, or the HttpOnly cookie that `?token=` sets). A feed is not
// a thread: it is a connection on its I/O thread, written from the shard's once-a-second
// sweep with a non-blocking write; a viewer that does not read loses snapshots, not memory.

#include <array>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "net/shard.hpp"
#include "net/user_activity.hpp"

namespace cutover::net {

inline constexpr std::string_view kDashboardCookie = "cutover_admin";
inline constexpr std::size_t kMaxDashboardViewers = 8;

// The last hour of connections and distinct users per transport, one sample every 10 s,
// kept on the server so a page opened now draws the hour before it. Samples are taken on a
// thread of its own: counting users walks every user seen in the hour, which is not work
// for an I/O thread. Feeds read it under a short lock. Bounded: kSamples entries.
class dashboard_history {
 public:
  static constexpr std::chrono::seconds kEvery{10};
  static constexpr std::size_t kSamples = 360;  // one hour
  struct sample {
    std::int64_t time_ms = 0;
    std::array<std::int64_t, kTransports> connections{};
    user_activity::counts users;
  };
  dashboard_history() = default;
  dashboard_history(const dashboard_history&) = delete;
  dashboard_history& operator=(const dashboard_history&) = delete;
  ~dashboard_history() { stop(); }
  void start();  // takes a first sample now, then one every kEvery
  void stop();   // prompt; idempotent
  // The samples taken after the first `seq` ever taken, oldest first (at most kSamples);
  // `seq` becomes the number taken so far.
  std::vector<sample> since(std::uint64_t& seq) const;
  // The newest users figure (zeros before the first sample).
  user_activity::counts users() const;

 private:
  void take();
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
  std::vector<sample> ring_;  // ring_[taken_ % kSamples] is the next slot
  std::uint64_t taken_ = 0;
};

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
