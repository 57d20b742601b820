// `cutover replay`: print stored notifications for a topic or user (DESIGN §9). NDJSON
// lines are exactly the WebSocket notification frames of DESIGN §5.

#include <cstdio>
#include <filesystem>
#include <limits>

#include "app/cli_common.hpp"
#include "core/json_text.hpp"
#include "store/store.hpp"

namespace cutover::app {
namespace {

struct replay_opts {
  std::string db;
  std::vector<std::string> topics;
  std::string user;
  std::string since = "0";
  std::string until;
  std::size_t limit = 0;
  std::string format = "ndjson";
};

// One table row: fixed columns, data shortened to keep lines readable.
void print_table_row(const notification& n) {
  std::string data = n.data.size() > 60 ? n.data.substr(0, 57) + "..." : n.data;
  std::printf("%-22s %-16llu %-20s %-18s %-24s %s\n", n.id.str().c_str(),
              static_cast<unsigned long long>(n.legacy_id()), n.topic.c_str(), n.type.c_str(),
              iso8601_utc(n.id.ms).c_str(), data.c_str());
}

void run_replay(const replay_opts& o) {
  std::vector<std::string> topics = o.topics;
  if (!o.user.empty()) topics.push_back("user:" + o.user);
  if (topics.empty()) throw usage_failure("give --topic T or --user U");
  cursor_error why;
  auto since = parse_cursor(o.since, &why);
  if (!since) throw usage_failure("--since: " + why.message);
  std::optional<stream_id> until;
  if (!o.until.empty()) {
    auto u = parse_cursor(o.until, &why);
    if (!u) throw usage_failure("--until: " + why.message);
    until = u->after;
  }
  if (!std::filesystem::exists(o.db))
    throw runtime_failure("no store at '" + o.db + "' (create it with `cutover db migrate --db " + o.db + "`)");
  auto r = store::reader::open(o.db);
  if (!r) throw runtime_failure(r.err().message);

  if (!since->from_oldest()) {
    auto marks = r->prune_marks();
    if (!marks) throw runtime_failure(marks.err().message);
    for (const auto& t : topics) {
      auto it = marks->find(t);
      if (it != marks->end() && since->after < it->second)
        std::fprintf(stderr, "cutover: warning: --since %s is older than retention for topic %s; entries up to %s "
                             "were pruned\n",
                     o.since.c_str(), t.c_str(), it->second.str().c_str());
    }
  }

  const std::size_t limit = o.limit ? o.limit : std::numeric_limits<std::size_t>::max();
  std::size_t printed = 0;
  stream_id after = since->after;
  if (o.format == "json") std::fputs("[", stdout);
  if (o.format == "table")
    std::printf("%-22s %-16s %-20s %-18s %-24s %s\n", "ID", "LEGACY_ID", "TOPIC", "EVENT", "CREATED_AT", "DATA");
  while (printed < limit) {
    auto page = r->read_after(topics, after, std::min<std::size_t>(1000, limit - printed), until);
    if (!page) throw runtime_failure(page.err().message);
    if (page->empty()) break;
    for (const auto& n : *page) {
      if (o.format == "table") {
        print_table_row(*n);
      } else {
        std::string line = render_notification_json(*n);
        if (o.format == "json") std::fputs(printed ? ",\n" : "\n", stdout);
        else line.push_back('\n');
        std::fwrite(line.data(), 1, line.size(), stdout);
      }
      ++printed;
    }
    after = page->back()->id;
  }
  if (o.format == "json") std::fputs(printed ? "\n]\n" : "]\n", stdout);
  if (std::fflush(stdout) != 0) throw runtime_failure("cannot write output");
}

}  // namespace

void add_replay_command(CLI::App& app) {
  auto o = std::make_shared<replay_opts>();
  auto* cmd = app.add_subcommand("replay", "Print stored notifications of a topic or user, oldest first");
  add_db_option(*cmd, o->db);
  auto* topic = cmd->add_option("--topic", o->topics, "Topic to replay (repeatable)");
  auto* user = cmd->add_option("--user", o->user, "Replay user:U (the user's own topic, no shared topics)");
  topic->excludes(user);
  cmd->add_option("--since", o->since, "Start strictly after this cursor (stream id or legacyId; 0 = oldest)")
      ->capture_default_str();
  cmd->add_option("--until", o->until, "Stop after this cursor (inclusive)");
  cmd->add_option("--limit", o->limit, "At most N notifications (0 = all)")->capture_default_str();
  cmd->add_option("--format", o->format, "Output format")
      ->check(CLI::IsMember({"ndjson", "json", "table"}))
      ->capture_default_str();
  cmd->callback([o] { run_replay(*o); });
}

}  // namespace cutover::app
