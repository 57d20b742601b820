#include "legacy_sim_proc.hpp"

#include <stdexcept>

namespace cutover::testing {
namespace {

void run_sqlite(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"sqlite3"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto p = subprocess::spawn(argv);
  if (p->wait_exit(std::chrono::seconds(30)) != 0)
    throw std::runtime_error("sqlite3 failed: " + p->output());
}

}  // namespace

std::string legacy_sim_profile() {
  return std::string(CUTOVER_SOURCE_DIR) + "/docs/profiles/legacy_sim.json";
}

legacy_sim::legacy_sim(std::vector<std::string> flags) {
  db_ = dir_.file("inbox.db");
  std::vector<std::string> argv = {LEGACY_SIM_BIN, "--listen", "127.0.0.1:0", "--db", db_};
  argv.insert(argv.end(), flags.begin(), flags.end());
  proc_ = subprocess::spawn(argv);
  auto line = proc_->wait_for_line("legacy_sim: listening on http://", std::chrono::seconds(20));
  if (!line) throw std::runtime_error("legacy_sim did not start: " + proc_->output());
  port_ = std::stoi(line->substr(line->rfind(':') + 1));
}

std::string legacy_sim::login(const std::string& user) const {
  auto r = http_post(port_, "/auth/login?username=" + user, "");
  if (r.status != 200) throw std::runtime_error("legacy_sim login failed: " + r.body);
  auto c = r.headers["set-cookie"];
  return c.substr(0, c.find(';'));
}

std::string legacy_sim::add(const std::string& to, const std::string& body, const std::string& kind,
                            std::int64_t at) const {
  auto r = http_post(
      port_, "/admin/events?to=" + to + "&kind=" + kind + "&at=" + std::to_string(at), body);
  if (r.status != 201) throw std::runtime_error("legacy_sim add failed: " + r.body);
  return json_field(r.body, "eventId");
}

http_reply legacy_sim::updates(int port, const std::string& cookie,
                               std::optional<std::string> after) {
  std::string target = "/rest/inbox/updates";
  if (after) target += "?after=" + *after;
  std::map<std::string, std::string> headers;
  if (!cookie.empty()) headers["Cookie"] = cookie;
  return http_get(port, target, headers, std::chrono::seconds(40));
}

int legacy_sim::me_requests() const {
  return std::stoi(json_field(http_get(port_, "/stats").body, "me_requests"));
}

void legacy_sim::export_ndjson(const std::string& path) const {
  run_sqlite({db_, "-cmd", ".output " + path,
              "SELECT json_object('id', event_id, 'user', user_id, 'topic', channel, 'type', kind, "
              "'time', created_at, 'payload', json(body)) FROM inbox_events ORDER BY event_id"});
}

void legacy_sim::export_csv(const std::string& path) const {
  run_sqlite({"-csv", "-header", db_, "-cmd", ".output " + path,
              "SELECT event_id AS id, user_id AS user, channel AS topic, kind AS type, "
              "created_at AS time, body AS payload FROM inbox_events ORDER BY event_id"});
}

}  // namespace cutover::testing
