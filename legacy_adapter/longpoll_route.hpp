#pragma once
// The legacy poll endpoint as a route (DESIGN §4): reads the cursor and renders every
// answer the way the profile says the old app did, and lets the server do the waiting.
// Runs on the connection's I/O thread; keeps no state between requests.

#include <functional>
#include <string>

#include "legacy_adapter/profile.hpp"
#include "legacy_adapter/rollout.hpp"
#include "net/route.hpp"

namespace cutover::legacy {

struct longpoll_options {
  const profile* prof = &builtin_profile();  // outlives the route
  std::size_t batch = 100;                   // --poll-batch, else the profile's batch
  std::string upgrade_path = "/v1/ws";       // X-Cutover-Upgrade value for the rollout cohort
  const rollout_policy* rollout = nullptr;   // nullptr: nobody is in the cohort
  // Wall-clock ms when this instance last ingested an entry (the hub's head_ingested_ms):
  // whether a millisecond's tail may still grow. Empty: never (every tail is closed).
  std::function<std::uint64_t()> head_ingested_ms;
};

class longpoll_route final : public net::route {
 public:
  explicit longpoll_route(longpoll_options opt) : opt_(std::move(opt)) {}
  void handle(const net::request_view& req, const net::caller& who, net::exchange& ex) override;
  boost::beast::http::verb method() const override;
  net::transport counted_as() const override { return net::transport::longpoll; }
  void refused(int status, std::string_view reason, net::exchange& ex) override;

 private:
  void wait(net::exchange& ex, const net::caller& who, cursor since, std::uint64_t since_wire,
            std::size_t limit, bool held = false);
  void refuse(net::exchange& ex, const answer_spec& a, std::string_view message,
              std::vector<net::header> extra);

  longpoll_options opt_;
};

}  // namespace cutover::legacy
