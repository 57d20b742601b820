#include "net/demo.hpp"

#include <boost/asio/ip/address.hpp>
#include <chrono>
#include <mutex>

namespace cutover::net {

std::optional<std::string> demo_user_problem(std::string_view name) {
  if (name.empty()) return "a user name is needed (?user=NAME)";
  if (name.size() > 64) return "a demo user name has at most 64 characters";
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) return "a demo user name is made of A-Z a-z 0-9 . _ - only";
  }
  return std::nullopt;
}

bool loopback_listen_host(std::string_view host) {
  if (host == "localhost") return true;
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  boost::system::error_code ec;
  auto a = boost::asio::ip::make_address(std::string(host), ec);
  if (ec) return false;
  if (a.is_v6() && a.to_v6().is_v4_mapped())
    return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, a.to_v6())
        .is_loopback();  // ::ffff:127.0.0.1
  return a.is_loopback();
}

bool loopback_host_header(std::string_view host) {
  if (host.empty()) return false;
  if (host.front() == '[') {
    auto close = host.find(']');
    if (close == std::string_view::npos) return false;
    auto rest = host.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') return false;
    return loopback_listen_host(host.substr(0, close + 1));
  }
  auto colon = host.find(':');
  return loopback_listen_host(host.substr(0, colon));
}

bool demo_mint_allowed() {
  using clock = std::chrono::steady_clock;
  static std::mutex mu;
  static clock::time_point window{};
  static int used = 0;
  std::lock_guard lk(mu);
  auto now = clock::now();
  if (now - window >= std::chrono::seconds(1)) {
    window = now;
    used = 0;
  }
  return ++used <= kDemoTokensPerSecond;
}

}  // namespace cutover::net
