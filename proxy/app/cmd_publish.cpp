// `cutover publish` (DESIGN §9): XADD one notification into the stream and print its id.
// Validated with the same rules ingest applies, so a refused entry never reaches Redis.
// Exit 2: bad topic/JSON/URL (nothing sent); exit 1: Redis unreachable or refusing.

#include <csignal>
#include <cstdio>
#include <memory>

#include "app/cli_common.hpp"
#include "core/entry.hpp"
#include "ingest/ingest.hpp"

namespace cutover::app {
namespace {

struct publish_opts {
  std::string redis = "redis://127.0.0.1:6379";
  std::string stream = ingest::kDefaultStream;
  std::string topic;
  std::string type;
  std::string key;
  std::size_t maxlen = 1'000'000;
  std::string data;
};

void run_publish(const publish_opts& o) {
  decoded_entry e{o.topic, o.type, o.data, std::nullopt};
  if (!o.key.empty()) e.key = o.key;
  // Validate before connecting: a bad entry is a usage error whether or not Redis is up.
  auto argv = ingest::xadd_arguments(o.stream, e, o.maxlen);
  if (!argv) throw usage_failure(argv.err().message);
  auto ep = ingest::parse_redis_url(o.redis);
  if (!ep) throw usage_failure("--redis: " + ep.err().message);

  auto conn = ingest::redis_connection::connect(
      *ep, {std::chrono::seconds(5), std::chrono::seconds(5), -1});
  if (!conn) throw runtime_failure(conn.err().message);
  auto id = ingest::xadd_notification(*conn, o.stream, e, o.maxlen);
  if (!id) {
    if (id.err().code == ingest::errc::invalid_entry) throw usage_failure(id.err().message);
    throw runtime_failure(id.err().message);
  }
  std::printf("%s\n", id->str().c_str());
  if (std::fflush(stdout) != 0) throw runtime_failure("cannot write output");
}

}  // namespace

void add_publish_command(CLI::App& app) {
  auto o = std::make_shared<publish_opts>();
  auto* cmd = app.add_subcommand(
      "publish", "Add one notification to the Redis stream (XADD) and print its id");
  cmd->add_option("--redis", o->redis,
                  "Redis URL: redis://[user:password@]host:port[/db], unix:///path or "
                  "redis+sentinel://host:port,host:port/<master>")
      ->envname("CUTOVER_REDIS")
      ->capture_default_str();
  cmd->add_option("--stream", o->stream, "Stream key")
      ->envname("CUTOVER_STREAM")
      ->capture_default_str();
  cmd->add_option("--topic", o->topic, "Topic, e.g. user:42 or all")->required();
  cmd->add_option("--type", o->type, "Event type chosen by the publisher, e.g. task.completed");
  cmd->add_option("--key", o->key,
                  "Idempotency key: a second entry with the same key is stored once");
  cmd->add_option("--maxlen", o->maxlen,
                  "Trim the stream to about N entries (MAXLEN ~ N; 0 = never trim)")
      ->capture_default_str();
  cmd->add_option("DATA_JSON", o->data, "The notification's data: one JSON value")->required();
  cmd->callback([o] { run_publish(*o); });
}

}  // namespace cutover::app
