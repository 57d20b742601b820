// `cutover replay`: print stored notifications for a topic or user (DESIGN §9). NDJSON
// lines are exactly the WebSocket notification frames of DESIGN §5.

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <thread>

#include "app/cli_common.hpp"
#include "core/json_text.hpp"
#include "ingest/ingest.hpp"
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
  bool republish = false;
  std::string redis;
  std::string stream = "cutover:notifications";
  std::size_t maxlen = 1'000'000;
  double rate = 0;  // notifications per second; 0 = as fast as Redis takes them
  bool dry_run = false;
  bool orphans = false;  // list (or republish) entries Redis lost instead (DESIGN §3)
};

// Puts replayed notifications back through the stream (with replayOf = the original id),
// so connected clients get them again. Paced by --rate; a progress line every second.
class republisher {
 public:
  explicit republisher(const replay_opts& o) : o_(o), started_(std::chrono::steady_clock::now()) {
    if (o.dry_run) return;
    auto conn = ingest::redis_connection::connect(
        o.redis, {std::chrono::seconds(5), std::chrono::seconds(5), -1});
    if (!conn) throw runtime_failure(conn.err().message);
    conn_.emplace(std::move(*conn));
  }
  void send(const notification& n) {
    pace();
    if (!o_.dry_run) {
      // The key is dropped on purpose: a replay must not be deduplicated against its original.
      decoded_entry e{n.topic, n.type, n.data, std::nullopt};
      auto id =
          ingest::xadd_notification(*conn_, o_.stream, e, o_.maxlen, {{"replayOf", n.id.str()}});
      if (!id)
        throw runtime_failure("republish of " + n.id.str() + " failed after " +
                              std::to_string(done_) + " republished: " + id.err().message);
    }
    ++done_;
    progress(false);
  }
  void finish() {
    progress(true);
    std::fprintf(stderr, "cutover: %s %zu notifications%s\n",
                 o_.dry_run ? "dry run: would republish" : "republished", done_,
                 o_.dry_run ? " (nothing was sent)" : (" to " + o_.stream).c_str());
  }

 private:
  void pace() {
    if (o_.rate <= 0) return;
    auto due = started_ + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                              std::chrono::duration<double>(static_cast<double>(done_) / o_.rate));
    std::this_thread::sleep_until(due);  // the pacing itself: this command only publishes
  }
  void progress(bool last) {
    auto now = std::chrono::steady_clock::now();
    if (!last && now - last_line_ < std::chrono::seconds(1)) return;
    if (now - started_ < std::chrono::seconds(1)) return;  // short runs need no progress
    last_line_ = now;
    double secs = std::chrono::duration<double>(now - started_).count();
    std::fprintf(stderr, "cutover: republish: %zu done, %.0f/s\n", done_, done_ / secs);
  }

  const replay_opts& o_;
  std::optional<ingest::redis_connection> conn_;
  std::size_t done_ = 0;
  std::chrono::steady_clock::time_point started_, last_line_{};
};

// One table row: fixed columns, data shortened to keep lines readable.
void print_table_row(const notification& n) {
  std::string data = n.data.size() > 60 ? n.data.substr(0, 57) + "..." : n.data;
  std::printf("%-22s %-16llu %-20s %-18s %-24s %s\n", n.id.str().c_str(),
              static_cast<unsigned long long>(n.legacy_id()), n.topic.c_str(), n.type.c_str(),
              iso8601_utc(n.created_ms()).c_str(), data.c_str());
}

// `replay --orphans`: the entries ingest moved out of the store because Redis no longer held
// them (DESIGN §3), oldest first; --topic/--user filter them, --republish puts them back
// through the stream (replayOf = the id they had here), so every instance gets them again.
void run_orphans(const replay_opts& o, const std::vector<std::string>& topics) {
  if (!std::filesystem::exists(o.db)) throw runtime_failure("no store at '" + o.db + "'");
  auto r = store::reader::open(o.db);
  if (!r) throw runtime_failure(r.err().message);
  if (o.republish && o.redis.empty() && !o.dry_run)
    throw usage_failure("--republish needs --redis URL");
  std::optional<republisher> pub;
  if (o.republish) pub.emplace(o);
  const std::size_t limit = o.limit ? o.limit : std::numeric_limits<std::size_t>::max();
  std::size_t printed = 0;
  std::int64_t after = 0;
  while (printed < limit) {
    auto page = r->orphans(after, 1000);
    if (!page) throw runtime_failure(page.err().message);
    if (page->empty()) break;
    for (const auto& x : *page) {
      after = x.row;
      if (printed >= limit) break;
      if (!topics.empty() &&
          std::find(topics.begin(), topics.end(), x.entry->topic) == topics.end())
        continue;
      ++printed;
      if (pub) pub->send(*x.entry);
      if (pub && !o.dry_run) continue;
      const auto& n = *x.entry;
      if (o.format == "table") {
        print_table_row(n);
        continue;
      }
      std::string line = "{\"id\":" + json_text::quoted(n.id.str()) +
                         ",\"stream\":" + json_text::quoted(x.stream) +
                         ",\"entryId\":" + json_text::quoted(x.entry_id) +
                         ",\"topic\":" + json_text::quoted(n.topic) +
                         ",\"type\":" + json_text::quoted(n.type) + ",\"data\":" + n.data +
                         ",\"orphanedAt\":" +
                         json_text::quoted(iso8601_utc(static_cast<std::uint64_t>(x.orphaned_at))) +
                         ",\"reason\":" + json_text::quoted(x.reason) + "}\n";
      std::fwrite(line.data(), 1, line.size(), stdout);
    }
  }
  if (pub) pub->finish();
  if (std::fflush(stdout) != 0) throw runtime_failure("cannot write output");
}

void run_replay(const replay_opts& o) {
  std::vector<std::string> topics = o.topics;
  if (o.orphans) {
    if (!o.user.empty()) topics.push_back("user:" + o.user);
    return run_orphans(o, topics);
  }
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
    throw runtime_failure("no store at '" + o.db + "' (create it with `cutover db migrate --db " +
                          o.db + "`)");
  auto r = store::reader::open(o.db);
  if (!r) throw runtime_failure(r.err().message);

  if (!since->from_oldest()) {
    auto marks = r->prune_marks();
    if (!marks) throw runtime_failure(marks.err().message);
    auto floor = r->prune_floor();
    if (!floor) throw runtime_failure(floor.err().message);
    for (const auto& t : topics) {
      std::optional<stream_id> mark = *floor;  // marks older than every entry are folded
      if (auto it = marks->find(t); it != marks->end() && (!mark || *mark < it->second))
        mark = it->second;
      if (mark && since->after < *mark)
        std::fprintf(
            stderr,
            "cutover: warning: --since %s is older than retention for topic %s; entries up to %s "
            "were pruned\n",
            o.since.c_str(), t.c_str(), mark->str().c_str());
    }
  }

  if (o.republish && o.redis.empty() && !o.dry_run)
    throw usage_failure("--republish needs --redis URL");
  // Stop at what the store holds now: republished entries come back through ingest and
  // must not be replayed (and republished) again.
  auto head = r->head();
  if (!head) throw runtime_failure(head.err().message);
  if (!*head)
    until = stream_id{};
  else if (!until || **head < *until)
    until = **head;
  std::optional<republisher> pub;
  if (o.republish) pub.emplace(o);

  const std::size_t limit = o.limit ? o.limit : std::numeric_limits<std::size_t>::max();
  std::size_t printed = 0;
  stream_id after = since->after;
  bool printing = !(pub && !o.dry_run);
  if (printing && o.format == "json") std::fputs("[", stdout);
  if (printing && o.format == "table")
    std::printf("%-22s %-16s %-20s %-18s %-24s %s\n", "ID", "LEGACY_ID", "TOPIC", "EVENT",
                "CREATED_AT", "DATA");
  while (printed < limit) {
    auto page = r->read_after(topics, after, std::min<std::size_t>(1000, limit - printed), until);
    if (!page) throw runtime_failure(page.err().message);
    if (page->empty()) break;
    for (const auto& n : *page) {
      if (pub) pub->send(*n);
      if (pub && !o.dry_run) {
        ++printed;
        continue;  // republishing: the stream is the output
      }
      if (o.format == "table") {
        print_table_row(*n);
      } else {
        std::string line = render_notification_json(*n);
        if (o.format == "json")
          std::fputs(printed ? ",\n" : "\n", stdout);
        else
          line.push_back('\n');
        std::fwrite(line.data(), 1, line.size(), stdout);
      }
      ++printed;
    }
    after = page->back()->id;
  }
  if (o.format == "json" && !(pub && !o.dry_run)) std::fputs(printed ? "\n]\n" : "]\n", stdout);
  if (pub) pub->finish();
  if (std::fflush(stdout) != 0) throw runtime_failure("cannot write output");
}

}  // namespace

void add_replay_command(CLI::App& app) {
  auto o = std::make_shared<replay_opts>();
  auto* cmd =
      app.add_subcommand("replay", "Print stored notifications of a topic or user, oldest first");
  add_db_option(*cmd, o->db);
  auto* topic = cmd->add_option("--topic", o->topics, "Topic to replay (repeatable)");
  auto* user =
      cmd->add_option("--user", o->user, "Replay user:U (the user's own topic, no shared topics)");
  topic->excludes(user);
  cmd->add_option("--since", o->since,
                  "Start strictly after this cursor (stream id or legacyId; 0 = oldest)")
      ->capture_default_str();
  cmd->add_option("--until", o->until, "Stop after this cursor (inclusive)");
  cmd->add_option("--limit", o->limit, "At most N notifications (0 = all)")->capture_default_str();
  cmd->add_option("--format", o->format, "Output format")
      ->check(CLI::IsMember({"ndjson", "json", "table"}))
      ->capture_default_str();
  cmd->add_flag("--republish", o->republish,
                "XADD the notifications back into the stream with replayOf=<id>, so "
                "connected clients get them again (idempotency keys are dropped)");
  cmd->add_option("--redis", o->redis, "Redis URL for --republish")->envname("CUTOVER_REDIS");
  cmd->add_option("--stream", o->stream, "Stream key for --republish")->capture_default_str();
  cmd->add_option("--maxlen", o->maxlen, "MAXLEN ~ for --republish (0 = never trim)")
      ->capture_default_str();
  cmd->add_option_function<std::string>(
         "--rate",
         [o](const std::string& t) {
           std::string v =
               t.size() > 2 && t.substr(t.size() - 2) == "/s" ? t.substr(0, t.size() - 2) : t;
           char* end = nullptr;
           double r = std::strtod(v.c_str(), &end);
           if (v.empty() || *end || !(r > 0))
             throw CLI::ValidationError("--rate", "expected N/s, e.g. 200/s");
           o->rate = r;
         },
         "Republish at most N notifications per second (e.g. 200/s)")
      ->type_name("N/s");
  cmd->add_flag("--orphans", o->orphans,
                "List entries Redis lost after this store had them (moved out of the store, "
                "DESIGN §3); with --republish, put them back through the stream");
  cmd->add_flag("--dry-run", o->dry_run,
                "With --republish: print what would be republished, send nothing");
  cmd->callback([o] { run_replay(*o); });
}

}  // namespace cutover::app
