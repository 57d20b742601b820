#pragma once
// Test support: the real tools/legacy_sim binary (the old inbox app) on 127.0.0.1:0 with
// its own database in a temp dir, and the calls tests make to it the way the old app's
// users and services did: log in, add an event, poll for updates, export the database.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cutover_proc.hpp"

namespace cutover::testing {

// docs/profiles/legacy_sim.json, the profile that describes it to Cutover.
std::string legacy_sim_profile();

class legacy_sim {
 public:
  explicit legacy_sim(std::vector<std::string> flags = {});
  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  const std::string& db() const { return db_; }
  subprocess& process() { return *proc_; }

  // Logs `user` in; returns the Cookie value to send back ("LSESSION=...").
  std::string login(const std::string& user) const;
  // Adds an event through the app's own admin route; returns its cursor ("evt_N").
  std::string add(const std::string& to, const std::string& body,
                  const std::string& kind = "task.completed",
                  std::int64_t at = 1'700'000'000) const;
  // GET /rest/inbox/updates on `port` (this app's, or Cutover's in front of it).
  static http_reply updates(int port, const std::string& cookie, std::optional<std::string> after);
  int me_requests() const;

  // The operator's export of the old table, with the sqlite3 shell (docs/migration.md).
  void export_ndjson(const std::string& path) const;
  void export_csv(const std::string& path) const;

 private:
  temp_dir dir_;
  std::string db_;
  std::unique_ptr<subprocess> proc_;
  int port_ = 0;
};

}  // namespace cutover::testing
