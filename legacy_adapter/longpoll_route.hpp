#pragma once
// The legacy poll endpoint as a route (DESIGN §4): translates the legacy query and body
// to and from the core's terms and lets the server do the waiting. Runs on the
// connection's I/O thread; keeps no state between requests.

#include <string>

#include "net/route.hpp"

namespace cutover::legacy {

struct longpoll_options {
  std::string since_param = "since";
  std::size_t batch = 100;              // --poll-batch
  std::string upgrade_path = "/v1/ws";  // X-Cutover-Upgrade value for the rollout cohort
};

class longpoll_route final : public net::route {
 public:
  explicit longpoll_route(longpoll_options opt) : opt_(std::move(opt)) {}
  void handle(const net::request_view& req, const net::caller& who, net::exchange& ex) override;

 private:
  void wait(net::exchange& ex, const net::caller& who, cursor since, std::uint64_t since_legacy,
            std::size_t limit);

  longpoll_options opt_;
};

}  // namespace cutover::legacy
