// `cutover serve`: the proxy (DESIGN §9). Wiring only: store, hub, reader pool, server,
// the legacy route, ingest; then wait for a signal and shut down in order.

#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <initializer_list>
#include <optional>
#include <utility>

#include "app/cli_common.hpp"
#include "core/duration.hpp"
#include "core/hub.hpp"
#include "core/json_text.hpp"
#include "ingest/ingest.hpp"
#include "legacy_adapter/longpoll_route.hpp"
#include "legacy_adapter/poll_metrics.hpp"
#include "legacy_adapter/profile.hpp"
#include "net/demo.hpp"
#include "net/server.hpp"
#include "net/server_render.hpp"
#include "net/upstream.hpp"
#include "store/history_reader.hpp"
#include "store/owner_lock.hpp"
#include "store/reader_pool.hpp"
#include "store/store.hpp"

namespace cutover::app {
namespace {

// /readyz says not ready below this much free space on the store's file system: a commit
// would soon fail with "database or disk is full".
constexpr unsigned long long kMinFreeBytes = 1 << 20;

struct serve_opts {
  std::string listen = "127.0.0.1:8080";
  std::string db;
  std::string redis = "redis://127.0.0.1:6379";
  std::string auth = "token";
  std::string token_secret;
  std::string auth_header;
  std::vector<std::string> trusted_peers;
  std::vector<std::string> allow_origins;
  std::vector<std::string> streams;
  std::string stream_start = "0";
  bool pubsub = false;
  bool deliver_after_commit = false;
  std::chrono::milliseconds pubsub_lock_ttl{std::chrono::seconds(5)};
  std::vector<std::string> shared_topics;
  std::size_t max_payload = 64 * 1024;
  std::chrono::milliseconds retain_age{std::chrono::hours(24 * 7)};
  std::int64_t retain_per_topic = 10000;
  std::chrono::milliseconds prune_interval{std::chrono::seconds(30)};
  std::chrono::milliseconds ready_max_lag{std::chrono::seconds(10)};
  std::chrono::milliseconds ready_min_history{0};
  std::string redis_read;  // --redis-read: ingest reads here (a replica); empty: --redis
  std::chrono::milliseconds max_clock_skew{std::chrono::seconds(5)};
  std::size_t store_readers = 2;
  std::size_t cache_entries = 200'000;
  std::size_t cache_mb = 128;
  std::size_t store_cache_mb = 32;
  std::size_t body_budget_mb = 64;
  double rollout_percent = 0;
  std::vector<std::string> rollout_allow, rollout_deny;
  std::string upstream;
  std::chrono::milliseconds upstream_timeout{std::chrono::seconds(30)};
  std::size_t upstream_threads = 16;
  std::string auth_url;
  std::chrono::milliseconds auth_cache_ttl{std::chrono::seconds(30)};
  std::chrono::milliseconds auth_refusal_ttl{std::chrono::seconds(5)};
  std::size_t auth_threads = 4;
  std::chrono::milliseconds token_max_ttl{std::chrono::hours(24 * 7)};
  std::string admin_token;
  bool demo = false;  // GET /demo and /demo/token (loopback --listen and token auth only)
  std::size_t publish_maxlen = 1'000'000;
  int publish_replicas = 0;
  std::string config_path;     // the --config file, re-read for the rollout on SIGHUP
  std::string legacy_profile;  // empty: the built-in profile
  // Given on the command line, in the environment or the config file (else the profile's).
  // The legacy poll's path and batch (the legacy adapter's, not the server's).
  std::string poll_path = "/api/notifications/poll";
  std::size_t poll_batch = 100;
  bool poll_path_given = false, poll_batch_given = false, poll_timeout_given = false;
  net::server_options server;
};

struct serve_option_refs {
  CLI::Option *poll_timeout, *poll_batch, *poll_path;
};
serve_option_refs add_serve_options(CLI::App* cmd, serve_opts* o);

// What the parse says beyond the values: the config file, and which profile settings a
// flag, the environment or the file overrides.
void note_given(const CLI::App& app, const serve_option_refs& refs, serve_opts& o) {
  if (auto* cfg = app.get_config_ptr(); cfg && cfg->count() > 0)
    o.config_path = cfg->as<std::string>();
  o.poll_timeout_given = refs.poll_timeout->count() > 0;
  o.poll_batch_given = refs.poll_batch->count() > 0;
  o.poll_path_given = refs.poll_path->count() > 0;
}

// 32 random bytes, hex: the --demo signing key, made at start and never shown.
std::string random_key() {
  unsigned char b[32];
  std::size_t got = 0;
  while (got < sizeof b) {
    ssize_t n = ::getrandom(b + got, sizeof b - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw runtime_failure("getrandom failed: cannot make the --demo key");
    }
    got += static_cast<std::size_t>(n);
  }
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : b) {
    out += hex[c >> 4];
    out += hex[c & 15];
  }
  return out;
}

// Adapts ingest's background publisher to the server's publish interface.
class redis_publish_sink final : public net::publish_sink {
 public:
  redis_publish_sink(std::string url, std::string stream, std::size_t maxlen, entry_limits lim,
                     int replicas)
      : pub_(std::move(url), std::move(stream), maxlen, 10000, lim, replicas) {}
  bool publish(decoded_entry e, std::function<void(result<stream_id>)> done) override {
    return pub_.publish(std::move(e), std::move(done));
  }
  void stop() { pub_.stop(); }

 private:
  ingest::publisher pub_;
};

std::pair<std::string, std::uint16_t> split_listen(const std::string& s) {
  std::string host;
  std::string port;
  if (!s.empty() && s.front() == '[') {
    auto close = s.find(']');
    if (close == std::string::npos || close + 1 >= s.size() || s[close + 1] != ':')
      throw usage_failure("--listen: expected HOST:PORT or [IPv6]:PORT, got '" + s + "'");
    host = s.substr(1, close - 1);
    port = s.substr(close + 2);
  } else {
    auto colon = s.rfind(':');
    if (colon == std::string::npos)
      throw usage_failure("--listen: expected HOST:PORT, got '" + s + "'");
    host = s.substr(0, colon);
    port = s.substr(colon + 1);
  }
  if (host.empty() || host == "localhost") host = "127.0.0.1";
  char* end = nullptr;
  long p = std::strtol(port.c_str(), &end, 10);
  if (port.empty() || *end || p < 0 || p > 65535)
    throw usage_failure("--listen: bad port '" + port + "'");
  return {host, static_cast<std::uint16_t>(p)};
}

std::string ingest_metrics(const ingest::stats& s) {
  std::string out;
  auto metric = [&](const char* name, const char* type, const char* help, double v) {
    net::prometheus_help(out, name, type, help);
    net::prometheus_sample(out, name, "", v);
  };
  metric("cutover_ingest_entries_total", "counter",
         "Notifications committed to the store by ingest.",
         static_cast<double>(s.entries_committed));
  metric("cutover_ingest_duplicates_total", "counter",
         "Entries skipped as already stored (same id or idempotency key).",
         static_cast<double>(s.duplicates));
  metric("cutover_ingest_duplicate_keys_total", "counter",
         "Entries skipped because their idempotency key is already stored for that topic.",
         static_cast<double>(s.duplicate_keys));
  metric("cutover_dead_letters_total", "counter",
         "Entries ingest could not keep, stored in dead_letters with a reason.",
         static_cast<double>(s.dead_letters));
  metric("cutover_ingest_pubsub_messages_total", "counter",
         "Messages received on the pub/sub connection while this instance was the bridge.",
         static_cast<double>(s.pubsub_messages));
  metric("cutover_pubsub_bridged_total", "counter",
         "Pub/sub messages this instance copied into the stream as the bridge.",
         static_cast<double>(s.pubsub_bridged));
  metric("cutover_pubsub_bridge_refused_total", "counter",
         "Pub/sub messages received but not copied (the bridge lock was lost, or Redis failed).",
         static_cast<double>(s.pubsub_refused));
  metric("cutover_pubsub_bridge_active", "gauge",
         "1 while this instance holds the pub/sub bridge lock and is subscribed.",
         s.bridge_active ? 1.0 : 0.0);
  metric("cutover_ingest_ids_ahead_total", "counter",
         "Stored ids ahead of this instance's clock by more than --max-clock-skew, or past 2248.",
         static_cast<double>(s.ids_ahead));
  metric("cutover_ingest_trimmed_gaps_total", "counter",
         "Times Redis trimmed stream entries before this store read them (entries lost here).",
         static_cast<double>(s.trimmed_gaps));
  metric("cutover_stream_rewinds_total", "counter",
         "Times Redis no longer held entries this store had (failover, restart, reused ids): "
         "they moved to orphans and the offset rewound (DESIGN §3).",
         static_cast<double>(s.rewinds));
  metric("cutover_ingest_orphaned_total", "counter",
         "Stored entries moved to orphans because Redis lost them (cutover replay --orphans).",
         static_cast<double>(s.orphaned));
  metric("cutover_ingest_reconnects_total", "counter", "Reconnections to Redis after a lost link.",
         static_cast<double>(s.reconnects));
  metric("cutover_ingest_master_switches_total", "counter",
         "Sentinel +switch-master announcements for this master that cut the blocked read.",
         static_cast<double>(s.master_switches));
  // The rolling digest (DESIGN §11): 64 bits do not fit a Prometheus sample, so it is a label.
  auto label = [](const std::string& v) {
    std::string esc;
    for (char c : v) {
      if (c == '\\' || c == '"') esc += '\\';
      if (c == '\n')
        esc += "\\n";
      else
        esc += c;
    }
    return esc;
  };
  net::prometheus_help(out, "cutover_ingest_digest_info", "gauge",
                       "Rolling digest of the entries stored from each stream, at its committed "
                       "offset (equal on two instances at the same offset that stored the same).");
  for (const auto& st : s.streams) {
    std::string l = "stream=\"" + label(st.stream) + "\",offset=\"" +
                    (st.committed ? st.committed->str() : std::string()) + "\",digest=\"" +
                    store::digest_hex(st.digest.value) + "\"";
    net::prometheus_sample(out, "cutover_ingest_digest_info", l.c_str(), 1);
  }
  net::prometheus_help(out, "cutover_ingest_digest_comparable", "gauge",
                       "1 when the digest covers every entry stored from the stream; 0 when it "
                       "cannot be compared with another instance's (a store from schema 4 whose "
                       "retention removed entries before the digest was rebuilt; see db status).");
  for (const auto& st : s.streams) {
    std::string l = "stream=\"" + label(st.stream) + "\"";
    net::prometheus_sample(out, "cutover_ingest_digest_comparable", l.c_str(),
                           st.digest_comparable ? 1 : 0);
  }
  net::prometheus_help(out, "cutover_ingest_digest_entries", "gauge",
                       "Entries the rolling digest of each stream covers.");
  for (const auto& st : s.streams) {
    std::string l = "stream=\"" + label(st.stream) + "\"";
    net::prometheus_sample(out, "cutover_ingest_digest_entries", l.c_str(),
                           static_cast<double>(st.digest.entries));
  }
  metric("cutover_ingest_batches_total", "counter", "Store transactions committed by ingest.",
         static_cast<double>(s.batches));
  metric("cutover_ingest_commit_failures_total", "counter",
         "Store transactions that failed (nothing of them was kept).",
         static_cast<double>(s.commit_failures));
  metric("cutover_ingest_lag_milliseconds", "gauge",
         "Newest stream id in Redis minus the committed id (-1 unknown).",
         static_cast<double>(s.lag_ms));
  metric("cutover_ingest_connected", "gauge", "1 while the stream connection to Redis is up.",
         s.state == ingest::link_state::connected ? 1.0 : 0.0);
  net::prometheus_help(out, "cutover_store_commit_seconds", "histogram",
                       "Duration of ingest's store transactions (entries, dead letters, offsets).");
  net::prometheus_histogram(out, "cutover_store_commit_seconds", "", s.commit_seconds);
  net::prometheus_help(out, "cutover_ingest_batch_entries", "histogram",
                       "Notifications per committed store transaction.");
  net::prometheus_histogram(out, "cutover_ingest_batch_entries", "", s.batch_entries);
  return out;
}

// Pass-through and upstream identity (issue 5): what the legacy app answered, and how
// often the identity cache spared it a request.
std::string upstream_metrics(const net::upstream_pool* pass, const net::upstream_auth* identity) {
  std::string out;
  auto family = [&](const char* name, const char* help,
                    std::initializer_list<std::pair<const char*, std::uint64_t>> rows) {
    net::prometheus_help(out, name, "counter", help);
    for (auto [labels, v] : rows) net::prometheus_sample(out, name, labels, static_cast<double>(v));
  };
  if (pass) {
    auto st = pass->stats();
    family("cutover_upstream_requests_total", "Requests passed to --upstream, by outcome.",
           {{"outcome=\"answered\"", st.answered},
            {"outcome=\"unreachable\"", st.unreachable},
            {"outcome=\"timeout\"", st.timeouts},
            {"outcome=\"too_large\"", st.too_large},
            {"outcome=\"rejected\"", st.rejected}});
  }
  if (identity) {
    auto st = identity->stats();
    family("cutover_auth_upstream_lookups_total",
           "Identity lookups of --auth upstream, by how they were answered.",
           {{"result=\"cache_hit\"", st.hits},
            {"result=\"coalesced\"", st.coalesced},
            {"result=\"asked\"", st.calls},
            {"result=\"failed\"", st.failures}});
  }
  return out;
}

// Everything `serve` refuses as a usage error (exit 2), checked before anything is
// touched; also what a SIGHUP reload must pass before any setting applies.
struct checked_serve {
  std::optional<legacy::profile> loaded;
  net::auth_config auth;
  std::vector<net::web_origin> origins;
  std::string host;
  std::optional<net::upstream_target> upstream_target, auth_target;
  const legacy::profile& profile() const { return loaded ? *loaded : legacy::builtin_profile(); }
};

checked_serve check_serve(serve_opts& o) {
  checked_serve chk;
  // ---- options
  // The legacy endpoint's wire format; its path, batch and timeout unless flags say else.
  std::optional<legacy::profile> loaded;
  if (!o.legacy_profile.empty()) {
    auto r = legacy::load_profile_file(o.legacy_profile);
    if (auto* e = std::get_if<legacy::profile_error>(&r))
      throw usage_failure("--legacy-profile " + e->text());
    loaded = std::get<legacy::profile>(std::move(r));
  }
  chk.loaded = std::move(loaded);
  const legacy::profile& profile = chk.profile();
  if (!o.poll_path_given) o.poll_path = profile.path;
  if (!o.poll_batch_given) o.poll_batch = profile.batch;
  if (!o.poll_timeout_given) o.server.poll_timeout = profile.timeout;
  if (o.poll_path == o.server.ws_path)
    throw usage_failure("the legacy poll path " + o.poll_path + " is Cutover's WebSocket path");
  auto mode = net::parse_auth_mode(o.auth);
  if (!mode)
    throw usage_failure("--auth: expected token, upstream, header or insecure-query, got '" +
                        o.auth + "'");
  if (*mode == net::auth_mode::upstream && o.auth_url.empty()) {
    // The profile may say where the old app's who-am-I is, on --upstream.
    if (profile.identity.path.empty() || o.upstream.empty())
      throw usage_failure(
          "--auth upstream needs --auth-url URL (the legacy app's who-am-I endpoint), or "
          "--upstream with a --legacy-profile whose identity.path names it");
    std::string base = o.upstream;
    while (!base.empty() && base.back() == '/') base.pop_back();
    o.auth_url = base + profile.identity.path;
  }
  net::auth_config& auth = chk.auth;
  auth.mode = *mode;
  auth.token_secret = o.token_secret;
  auth.token_max_ttl = std::chrono::duration_cast<std::chrono::seconds>(o.token_max_ttl);
  if (*mode == net::auth_mode::token && o.token_secret.empty())
    throw usage_failure(
        "--auth token (the default) needs --token-secret or CUTOVER_TOKEN_SECRET; "
        "for local demos use --auth insecure-query");
  if (*mode == net::auth_mode::header) {
    if (o.auth_header.empty() || o.trusted_peers.empty())
      throw usage_failure(
          "--auth header needs --auth-header NAME and at least one --trusted-peer CIDR");
    auth.header_name = o.auth_header;
  }
  // Trusted peers also vouch for X-Forwarded-Proto in the origin check (DESIGN §7).
  for (const auto& p : o.trusted_peers) {
    auto c = net::cidr::parse(p);
    if (!c) throw usage_failure("--trusted-peer: '" + p + "' is not an IPv4 or IPv6 CIDR");
    auth.trusted_peers.push_back(*c);
  }
  std::vector<net::web_origin>& allowed_origins = chk.origins;
  for (const auto& a : o.allow_origins) {
    auto w = net::parse_origin(a);
    if (!w)
      throw usage_failure("--allow-origin: '" + a +
                          "' is not an origin (expected http[s]://host[:port], no path)");
    allowed_origins.push_back(*w);
  }
  if (o.poll_batch == 0) throw usage_failure("--poll-batch must be at least 1");
  if (o.server.ws_ping_interval.count() <= 0 ||
      o.server.ws_silence_timeout <= o.server.ws_ping_interval)
    throw usage_failure(
        "--ws-silence-timeout must be longer than --ws-ping-interval (a peer answers pings), "
        "and both above zero");
  if (o.server.body_idle_timeout.count() <= 0 || o.server.body_timeout.count() <= 0)
    throw usage_failure("--body-idle-timeout and --body-timeout must be above zero");
  if (o.server.sse_keepalive.count() <= 0 || o.server.sse_retry.count() <= 0)
    throw usage_failure("--sse-keepalive and --sse-retry must be above zero");
  if (o.server.sio_ping_interval.count() <= 0 || o.server.sio_ping_timeout.count() <= 0 ||
      o.server.sio_connect_timeout.count() <= 0)
    throw usage_failure(
        "--sio-ping-interval, --sio-ping-timeout and --sio-connect-timeout must be above zero");
  if (!o.server.sio_path.empty() && o.server.sio_path.front() != '/')
    throw usage_failure("--sio-path must start with '/' (or be empty to turn Socket.IO off)");
  auto [host, port] = split_listen(o.listen);
  chk.host = host;
  if (o.demo && !net::loopback_listen_host(host))
    throw usage_failure(
        "--demo serves a page that hands out tokens to anyone who asks: it needs "
        "a loopback --listen (127.0.0.0/8 or [::1]), not '" +
        host + "'");
  if (o.demo && *mode != net::auth_mode::token)
    throw usage_failure("--demo mints the demo users' tokens itself: it needs --auth token");
  o.server.host = host;
  o.server.port = port;
  o.server.shared_topics = o.shared_topics;
  for (const auto& t : o.shared_topics) {
    if (auto p = topic_problem(t, {})) throw usage_failure("--shared-topic '" + t + "': " + *p);
    // A shared topic is read by every user: user:<id> would hand one user's notifications
    // to all (DESIGN §7).
    if (t.starts_with("user:"))
      throw usage_failure("--shared-topic '" + t +
                          "': user:... topics belong to one user; a shared topic may not be "
                          "named user:...");
  }
  // Numbers with a floor: zero readers would hang every old-cursor poll, zero connections
  // refuse everyone, a negative count means nothing (issue 12).
  if (o.store_readers < 1 || o.store_readers > 64)
    throw usage_failure("--store-readers must be between 1 and 64, got " +
                        std::to_string(o.store_readers));
  if (o.server.max_connections < 1) throw usage_failure("--max-connections must be at least 1");
  if (o.server.health_reserve > 1024)
    throw usage_failure("--health-reserve must be from 0 to 1024, got " +
                        std::to_string(o.server.health_reserve));
  if (o.body_budget_mb < 1 || o.body_budget_mb > 1'000'000)
    throw usage_failure("--body-budget-mb must be from 1 to 1000000");
  o.server.max_body_total = o.body_budget_mb * 1024 * 1024;
  if (o.retain_per_topic < 0)
    throw usage_failure("--retain-per-topic must be 0 (no limit) or more, got " +
                        std::to_string(o.retain_per_topic));
  if (o.auth_threads < 1 || o.auth_threads > 256)
    throw usage_failure("--auth-threads must be between 1 and 256, got " +
                        std::to_string(o.auth_threads));
  if (auto why = ingest::stream_start_problem(o.stream_start))
    throw usage_failure("--stream-start: " + *why);
  if (o.streams.empty()) o.streams.push_back(ingest::kDefaultStream);
  if (auto ep = ingest::parse_redis_url(o.redis); !ep)
    throw usage_failure("--redis: " + ep.err().message);
  if (!o.redis_read.empty())
    if (auto ep = ingest::parse_redis_url(o.redis_read); !ep)
      throw usage_failure("--redis-read: " + ep.err().message);
  // Every usage error is found before the store is created or touched.
  std::optional<net::upstream_target>&upstream_target = chk.upstream_target,
  &auth_target = chk.auth_target;
  if (!o.upstream.empty()) {
    auto t = net::parse_upstream_url(o.upstream);
    if (!t) throw usage_failure("--upstream: " + t.err().message);
    upstream_target = *t;
  }
  if (*mode == net::auth_mode::upstream) {
    auto t = net::parse_upstream_url(o.auth_url);
    if (!t) throw usage_failure("--auth-url: " + t.err().message);
    auth_target = *t;
  }

  return chk;
}

// SIGHUP (DESIGN §8): the command line is parsed again as at start, with the config file
// as it is now, and every option checked as at start; only then does the rollout change.
// A file that is missing, unreadable or invalid in any part changes nothing.
std::optional<legacy::rollout_config> reload_rollout(std::string& why) {
  CLI::App app;
  app.name("cutover");
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.set_config("--config", "", "", true);  // required: a reload without its file is refused
  // An unknown key in the file is an error here: a typo must not reset a setting to its
  // default (a misspelt ws-rollout-percent dropped the whole cohort).
  app.allow_config_extras(CLI::config_extras_mode::error);
  // Top-level options of main() (--log-format, ...) were checked at start and are not
  // reloaded: let them pass.
  app.allow_extras();
  auto* cmd = app.add_subcommand("serve");
  cmd->fallthrough();
  cmd->allow_config_extras(CLI::config_extras_mode::error);
  serve_opts fresh;
  auto refs = add_serve_options(cmd, &fresh);
  try {
    const auto& args = remembered_args();
    // CLI11 takes a vector in reverse order.
    app.parse(std::vector<std::string>(args.rbegin(), args.rend()));
    if (cmd->count() == 0) throw usage_failure("the command line has no serve");
    note_given(app, refs, fresh);
    (void)check_serve(fresh);
  } catch (const CLI::Error& e) {
    why = e.what();
    return std::nullopt;
  } catch (const std::exception& e) {
    why = e.what();
    return std::nullopt;
  }
  legacy::rollout_config rc;
  rc.percent = fresh.rollout_percent;
  rc.allow.insert(fresh.rollout_allow.begin(), fresh.rollout_allow.end());
  rc.deny.insert(fresh.rollout_deny.begin(), fresh.rollout_deny.end());
  return rc;
}

void run_serve(serve_opts& o) {
  checked_serve checked = check_serve(o);
  const legacy::profile& profile = checked.profile();
  net::auth_config& auth = checked.auth;
  std::vector<net::web_origin>& allowed_origins = checked.origins;
  const std::string& host = checked.host;
  std::optional<net::upstream_target>&upstream_target = checked.upstream_target,
  &auth_target = checked.auth_target;

  // ---- store and hub
  std::filesystem::path dbp(o.db);
  if (dbp.has_parent_path()) {
    std::error_code ec;
    std::filesystem::create_directories(dbp.parent_path(), ec);
  }
  // One owner per store (DESIGN §3), held until this function returns (after ingest
  // stopped); taken before the store is opened, so a second serve touches nothing.
  auto owner = store::owner_lock::acquire(o.db, "serve");
  if (!owner) throw runtime_failure(owner.err().message);
  {
    auto db = store::open_and_migrate(o.db);
    if (!db) throw runtime_failure(db.err().message);
  }
  auto rd = store::reader::open(o.db);
  if (!rd) throw runtime_failure(rd.err().message);
  auto head = rd->head();
  auto marks = rd->prune_marks();
  auto prune_floor = rd->prune_floor();
  if (!head) throw runtime_failure(head.err().message);
  if (!marks) throw runtime_failure(marks.err().message);
  if (!prune_floor) throw runtime_failure(prune_floor.err().message);
  // An imported store's legacy ids are only right with the offset it was imported with.
  auto imported_offset = rd->meta("legacy_id_offset");
  if (!imported_offset) throw runtime_failure(imported_offset.err().message);
  if (*imported_offset && **imported_offset != std::to_string(profile.id_offset))
    throw runtime_failure("the store " + o.db + " was imported with id_offset " +
                          **imported_offset + ", the legacy profile (" + profile.source +
                          ") says " + std::to_string(profile.id_offset) +
                          "; serve with the profile it was imported with");
  hub_limits hl;
  hl.max_entries = o.cache_entries;
  hl.max_bytes = o.cache_mb * 1024 * 1024;
  hub h(*head, std::move(*marks), hl);
  if (*prune_floor) h.on_prune_floor(**prune_floor);
  // Ranges Redis lost or trimmed (DESIGN §3) expire the cursors inside them, as marks do.
  auto lost = rd->lost_ranges();
  if (!lost) throw runtime_failure(lost.err().message);
  for (const auto& range : *lost) h.on_lost({}, range.after, range.through);

  store::reader_pool readers;
  if (auto st = readers.start(o.db, o.store_readers, 10000); !st)
    throw runtime_failure(st.err().message);

  // ---- server context
  net::server_context ctx;
  ctx.opt = o.server;
  ctx.hub_ = &h;
  store::pool_history history(readers);
  ctx.readers = &history;
  if (o.demo) auth.demo_secret = random_key();
  ctx.auth = std::make_unique<net::authenticator>(auth);
  ctx.origins = net::origin_policy(std::move(allowed_origins));
  legacy::rollout_config rc;
  rc.percent = o.rollout_percent;
  rc.allow.insert(o.rollout_allow.begin(), o.rollout_allow.end());
  rc.deny.insert(o.rollout_deny.begin(), o.rollout_deny.end());
  auto rollout = std::make_unique<legacy::rollout_policy>(rc);
  ctx.limits.max_payload = o.max_payload;

  // Pass-through and upstream identity: both talk to the legacy app from worker threads.
  std::unique_ptr<net::upstream_pool> upstream, auth_pool;
  std::unique_ptr<net::upstream_auth> upstream_identity;
  if (upstream_target) {
    net::upstream_options uo;
    uo.threads = o.upstream_threads;
    uo.timeout = o.upstream_timeout;
    upstream = std::make_unique<net::upstream_pool>(*upstream_target, uo);
    ctx.upstream = upstream.get();
  }
  if (auth_target) {
    net::upstream_options uo;
    uo.threads = o.auth_threads;
    uo.timeout = std::chrono::seconds(5);
    uo.max_response_bytes = 64 * 1024;
    auth_pool = std::make_unique<net::upstream_pool>(*auth_target, uo);
    net::upstream_auth_options ao;
    ao.ttl = o.auth_cache_ttl;
    ao.refusal_ttl = std::min(o.auth_refusal_ttl, o.auth_cache_ttl);
    ao.user_field = profile.identity.user_field;
    ao.session_cookie = profile.identity.session_cookie;
    upstream_identity = std::make_unique<net::upstream_auth>(*auth_pool, ao);
    ctx.upstream_identity = upstream_identity.get();
  }
  std::unique_ptr<redis_publish_sink> publisher;
  if (!o.admin_token.empty() || o.demo) {  // --demo: the page's button publishes
    publisher = std::make_unique<redis_publish_sink>(o.redis, o.streams.front(), o.publish_maxlen,
                                                     ctx.limits, o.publish_replicas);
    ctx.publisher = publisher.get();
    ctx.admin_token = o.admin_token;
  }
  legacy::longpoll_route poll({&profile, o.poll_batch, o.server.ws_path, rollout.get(),
                               [&h] { return h.head_ingested_ms(); }});
  ctx.routes[o.poll_path] = &poll;

  // ---- ingest
  ingest::options io;
  io.db_path = o.db;
  io.redis_url = o.redis;
  io.redis_read_url = o.redis_read;
  io.streams = o.streams;
  io.stream_start = o.stream_start;
  io.pubsub = o.pubsub;
  io.deliver_before_commit = !o.deliver_after_commit;
  io.pubsub_lock_ttl = o.pubsub_lock_ttl;
  io.pubsub_maxlen = o.publish_maxlen;
  io.limits.max_payload = o.max_payload;
  if (o.retain_age.count() > 0) io.retention.max_age = o.retain_age;
  if (o.retain_per_topic > 0) io.retention.max_per_topic = o.retain_per_topic;
  io.prune_interval = o.prune_interval;
  io.max_clock_skew = o.max_clock_skew;
  io.store_cache_kib = o.store_cache_mb * 1024;
  ingest::ingest in(io, h);
  // The store file as opened: readiness notices it deleted or replaced under us.
  struct stat opened {};
  if (::stat(o.db.c_str(), &opened) != 0) throw runtime_failure("cannot stat the store " + o.db);
  const std::string db_dir = dbp.has_parent_path() ? dbp.parent_path().string() : std::string(".");
  ctx.ready = [&in, &o, opened, db_dir] {
    auto s = in.snapshot();
    // The store (DESIGN §8 "store open"): its file still there, space left on its disk, and
    // the last commit succeeded. A few syscalls, no SQLite: fine on an I/O thread.
    const char* store_state = "open";
    struct stat now_st {};
    struct statvfs fs {};
    if (::stat(o.db.c_str(), &now_st) != 0)
      store_state = "missing";
    else if (now_st.st_ino != opened.st_ino || now_st.st_dev != opened.st_dev)
      store_state = "replaced";
    else if (::statvfs(db_dir.c_str(), &fs) == 0 &&
             static_cast<unsigned long long>(fs.f_bavail) * fs.f_frsize < kMinFreeBytes)
      store_state = "disk_full";
    else if (s.failing_commits > 0)
      store_state = "commit_failing";
    bool store_ok = std::string_view(store_state) == "open";
    bool connected = s.state == ingest::link_state::connected;
    bool lag_ok = s.lag_ms >= 0 && s.lag_ms <= o.ready_max_lag.count();
    // An id ahead of the clock (DESIGN §2): not ready until the clock passes it.
    auto now = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                              std::chrono::system_clock::now().time_since_epoch())
                                              .count());
    bool clock_ok = !s.ahead_id || s.ahead_id->ms <= now;
    // --ready-min-history: a new instance (e.g. from an empty store) is not ready until it
    // holds this much history, so cursors a little old are answered, not expired.
    const auto min_history = static_cast<std::uint64_t>(o.ready_min_history.count());
    std::uint64_t history_ms = s.oldest_ms && *s.oldest_ms < now ? now - *s.oldest_ms : 0;
    bool history_ok = min_history == 0 || history_ms >= min_history;
    net::readiness r;
    r.ready = connected && lag_ok && clock_ok && store_ok && history_ok;
    r.detail =
        std::string("{\"ready\":") + (r.ready ? "true" : "false") + ",\"store\":\"" + store_state +
        "\",\"redis\":\"" + ingest::to_string(s.state) +
        "\",\"lag_ms\":" + std::to_string(s.lag_ms) +
        ",\"committed\":" + (s.committed ? "\"" + s.committed->str() + "\"" : std::string("null")) +
        (clock_ok ? std::string() : ",\"id_ahead_of_clock\":\"" + s.ahead_id->str() + "\"") +
        (min_history == 0 ? std::string() : ",\"history_ms\":" + std::to_string(history_ms)) + "}";
    return r;
  };
  ctx.extra_metrics = [&ctx, &in, pass = upstream.get(), identity = upstream_identity.get()] {
    std::string out = legacy::render_poll_metrics() + ingest_metrics(in.snapshot()) +
                      upstream_metrics(pass, identity);
    net::prometheus_help(out, "cutover_ready", "gauge", "1 while /readyz answers ready.");
    net::prometheus_sample(out, "cutover_ready", "", ctx.ready().ready ? 1.0 : 0.0);
    return out;
  };

  ctx.dashboard_fields = [&ctx, &in, pol = rollout.get(), pass = upstream.get(),
                          identity = upstream_identity.get()] {
    auto s = in.snapshot();
    auto num = [](double v) {
      char b[32];
      std::snprintf(b, sizeof b, "%.6g", v);
      return std::string(b);
    };
    // p99 of store commits, interpolated within its bucket (null: none yet).
    auto q = s.commit_seconds.quantile(0.99);
    std::string p99 = q ? num(*q) : "null";
    auto recent = [](const std::vector<ingest::recent_event>& ring) {
      std::string out = "[";
      for (auto it = ring.rbegin(); it != ring.rend(); ++it) {  // newest first
        if (out.size() > 1) out += ',';
        out += "{\"time_ms\":" + std::to_string(it->time_ms) +
               ",\"what\":" + json_text::quoted(it->what) + "}";
      }
      return out + "]";
    };
    // Errors toward the legacy app: pass-through (--upstream) and identity (--auth upstream);
    // null when neither is configured.
    std::string up = "null";
    if (pass || identity) {
      up = "{";
      if (pass) {
        auto st = pass->stats();
        up += "\"unreachable\":" + std::to_string(st.unreachable) +
              ",\"timeout\":" + std::to_string(st.timeouts) +
              ",\"too_large\":" + std::to_string(st.too_large) +
              ",\"rejected\":" + std::to_string(st.rejected);
      }
      if (identity)
        up += std::string(pass ? "," : "") +
              "\"auth_failed\":" + std::to_string(identity->stats().failures);
      up += "}";
    }
    auto cohort = pol->current();
    return std::string("\"ready\":") + (ctx.ready().ready ? "true" : "false") +
           ",\"ingest_lag_ms\":" + std::to_string(s.lag_ms) + ",\"store_commit_p99_s\":" + p99 +
           ",\"dead_letters\":" + std::to_string(s.dead_letters) +
           ",\"dead_letters_recent\":" + recent(s.recent_dead_letters) +
           ",\"rewinds\":" + std::to_string(s.rewinds) +
           ",\"orphaned\":" + std::to_string(s.orphaned) +
           ",\"rewinds_recent\":" + recent(s.recent_rewinds) + ",\"upstream_errors\":" + up +
           ",\"redis\":{\"state\":\"" + ingest::to_string(s.state) +
           "\",\"reconnects\":" + std::to_string(s.reconnects) +
           ",\"last_error\":" + json_text::quoted(s.last_error) + "}" +
           ",\"ws_rollout_percent\":" + num(cohort->percent) +
           ",\"ws_rollout_listed\":" + std::to_string(cohort->allow.size());
  };

  net::server srv(ctx);
  srv.prepare();  // fan-out targets exist before the first commit
  if (auto st = in.start(); !st) throw runtime_failure(st.err().message);
  // Handlers before anyone can see the listener: a SIGTERM right after "listening" (a
  // supervisor, a test) must shut down cleanly, not kill the process (exit 143).
  boost::asio::io_context signals_io(1);
  boost::asio::signal_set signals(signals_io, SIGINT, SIGTERM, SIGHUP);
  auto bound = srv.start();
  if (!bound) {
    in.stop();
    throw runtime_failure(bound.err().message);
  }
  std::string shown = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  std::printf("cutover: listening on http://%s:%u\n", shown.c_str(), static_cast<unsigned>(*bound));
  std::fflush(stdout);
  // Through core/log: `--log-format json` makes these JSON lines too (the text is unchanged).
  const core::logger life("");
  life.line(
      "serving " + shown + " (poll " + profile.method + " " + o.poll_path + " as profile " +
          profile.source + ", websocket " + o.server.ws_path + ", events " + o.server.sse_path +
          ", socket.io " + (o.server.sio_path.empty() ? std::string("off") : o.server.sio_path) +
          "), auth " + o.auth + ", store " + o.db + ", redis " + o.redis,
      {{"listen", shown + ":" + std::to_string(*bound)}, {"store", o.db}, {"redis", o.redis}});
  if (o.demo) life.line("demo page: http://" + shown + ":" + std::to_string(*bound) + "/demo");

  // ---- wait for a signal
  std::function<void(boost::system::error_code, int)> on_signal = [&](boost::system::error_code ec,
                                                                      int sig) {
    if (ec) return;
    if (sig == SIGHUP) {
      if (o.config_path.empty()) {
        life.at(core::log_level::warning, "SIGHUP: no --config file to reload the rollout from");
      } else {
        std::string why;
        if (auto next = reload_rollout(why)) {
          rollout->replace(*next);
          char pct[32];
          std::snprintf(pct, sizeof pct, "%g", next->percent);
          life.line(std::string("SIGHUP: rollout now ") + pct + "%, " +
                    std::to_string(next->allow.size()) + " allowed, " +
                    std::to_string(next->deny.size()) + " denied (from " + o.config_path + ")");
        } else {
          life.at(core::log_level::warning, "SIGHUP: nothing changed, every setting stays; " +
                                                o.config_path + " is refused: " + why);
        }
      }
      signals.async_wait(on_signal);
      return;
    }
    life.line(std::string(sig == SIGTERM ? "SIGTERM" : "SIGINT") + ": shutting down");
    signals_io.stop();
  };
  signals.async_wait(on_signal);
  signals_io.run();

  auto started = std::chrono::steady_clock::now();
  srv.shutdown();  // polls answered, WebSockets closed 1001
  if (upstream) upstream->stop();
  if (auth_pool) auth_pool->stop();
  if (publisher) publisher->stop();
  in.stop();  // everything read from Redis is committed
  readers.stop();
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - started);
  life.line("stopped in " + std::to_string(took.count()) + " ms",
            {{"took_ms", std::to_string(took.count())}});
}

// Every `serve` option, into `o`: used for the command line and again, into a fresh
// serve_opts, by a SIGHUP reload.
serve_option_refs add_serve_options(CLI::App* cmd, serve_opts* o) {
  cmd->add_option("--listen", o->listen, "HOST:PORT to listen on (port 0 picks a free one)")
      ->envname("CUTOVER_LISTEN")
      ->capture_default_str();
  add_db_option(*cmd, o->db);
  cmd->add_option("--redis", o->redis,
                  "Redis URL: redis://[user:password@]host:port[/db], unix:///path or "
                  "redis+sentinel://host:port,host:port/<master>")
      ->envname("CUTOVER_REDIS")
      ->capture_default_str();
  cmd->add_option("--auth", o->auth, "Identity: token | upstream | header | insecure-query")
      ->envname("CUTOVER_AUTH")
      ->capture_default_str();
  cmd->add_option("--token-secret", o->token_secret, "HMAC secret for --auth token (JWT HS256)")
      ->envname("CUTOVER_TOKEN_SECRET");
  cmd->add_option("--auth-header", o->auth_header, "Header carrying the user id (--auth header)")
      ->envname("CUTOVER_AUTH_HEADER");
  cmd->add_option("--trusted-peer", o->trusted_peers,
                  "CIDR of a gateway or proxy: may set --auth-header and X-Forwarded-Proto "
                  "(repeatable)");
  cmd->add_option("--allow-origin", o->allow_origins,
                  "Origin (https://app.example) whose pages may use the WebSocket, SSE and "
                  "Socket.IO endpoints; without it only the same origin may (repeatable)");
  cmd->add_option("--auth-url", o->auth_url,
                  "Legacy app's who-am-I URL for --auth upstream (gets the request's Cookie and "
                  "Authorization)")
      ->envname("CUTOVER_AUTH_URL");
  add_duration(*cmd, "--auth-cache-ttl", o->auth_cache_ttl,
               "How long an upstream identity is cached");
  add_duration(*cmd, "--auth-refusal-ttl", o->auth_refusal_ttl,
               "How long an upstream refusal (401/403) is cached");
  cmd->add_option("--auth-threads", o->auth_threads,
                  "Threads (and connections) asking --auth-url, 1-256; concurrent lookups of one "
                  "credential share one request")
      ->capture_default_str();
  add_duration(*cmd, "--token-max-ttl", o->token_max_ttl,
               "Refuse tokens without exp, or valid for longer than this from now (0: accept "
               "tokens without exp)");
  cmd->add_option(
         "--upstream", o->upstream,
         "Forward every request Cutover does not own to this legacy app (http://host:port)")
      ->envname("CUTOVER_UPSTREAM");
  add_duration(*cmd, "--upstream-timeout", o->upstream_timeout,
               "Longest wait for the upstream's answer (then 504)");
  cmd->add_option("--upstream-threads", o->upstream_threads,
                  "Worker threads (and keep-alive connections) for the upstream")
      ->capture_default_str();
  cmd->add_option("--admin-token", o->admin_token,
                  "Bearer token for POST /v1/publish (off when empty)")
      ->envname("CUTOVER_ADMIN_TOKEN");
  cmd->add_flag("--demo", o->demo,
                "Serve GET /demo, a page that connects over any transport and publishes to its "
                "user's own topic, and GET /demo/token?user=NAME, which mints that user a "
                "15-minute token (and lets it publish to user:NAME only); needs a loopback "
                "--listen and --auth token; tools/dev.sh run sets it")
      ->envname("CUTOVER_DEMO");
  cmd->add_option("--publish-maxlen", o->publish_maxlen,
                  "MAXLEN ~ for HTTP publishes into the stream")
      ->capture_default_str();
  cmd->add_option("--redis-read", o->redis_read,
                  "Ingest reads the streams from this Redis (a replica; same URL forms as "
                  "--redis); publishes, the pub/sub bridge and loss detection use --redis")
      ->envname("CUTOVER_REDIS_READ");
  cmd->add_option("--publish-replicas", o->publish_replicas,
                  "POST /v1/publish answers only after WAIT N confirms the entry on N replicas "
                  "(else one retry with the same idempotency key, then 503; 0: no WAIT)")
      ->check(CLI::Range(0, 64))
      ->capture_default_str();
  cmd->add_option(
      "--stream", o->streams,
      "Redis stream key to ingest (repeatable; every instance gets the same list in the same "
      "order: stream i of N stores id <ms>-<seq*N+i>; default cutover:notifications)");
  cmd->add_option("--stream-start", o->stream_start,
                  "Where a store with no offset starts: 0 (all the stream holds) or $ (new only)")
      ->capture_default_str();
  cmd->add_flag("--pubsub", o->pubsub,
                "Bridge PUBLISH cutover:topic:* into the first --stream: one instance at a time "
                "(a Redis lock) copies each message with XADD; messages published while no "
                "bridge is subscribed are lost");
  cmd->add_flag("--deliver-after-commit", o->deliver_after_commit,
                "Deliver a stream entry only after this instance's store commit (the old path; "
                "slower on a disk whose WAL writes wait). By default it is delivered as soon as "
                "its duplicate checks pass, before the commit (DESIGN §11)");
  add_duration(*cmd, "--pubsub-lock-ttl", o->pubsub_lock_ttl,
               "TTL of the pub/sub bridge lock (renewed every third of it; another instance "
               "takes over this long after the bridge dies)");
  cmd->add_option("--shared-topic", o->shared_topics,
                  "Topic every user also reads, e.g. all (repeatable)");
  cmd->add_option("--legacy-profile", o->legacy_profile,
                  "The old app's legacy endpoint described as a profile (docs/legacy-profiles.md); "
                  "default: Cutover's own format (docs/profiles/builtin.json)")
      ->envname("CUTOVER_LEGACY_PROFILE");
  auto* poll_timeout = add_duration(*cmd, "--poll-timeout", o->server.poll_timeout,
                                    "How long a legacy poll waits (overrides the profile's)");
  auto* poll_batch =
      cmd->add_option("--poll-batch", o->poll_batch,
                      "Most notifications per legacy poll answer (overrides the profile's)")
          ->capture_default_str();
  auto* poll_path = cmd->add_option("--poll-path", o->poll_path,
                                    "Path of the legacy poll endpoint (overrides the profile's)")
                        ->capture_default_str();
  cmd->add_option("--ws-rollout-percent", o->rollout_percent,
                  "Share of users (0-100) told to move to WebSocket")
      ->check(CLI::Range(0.0, 100.0))
      ->capture_default_str();
  cmd->add_option("--ws-rollout-allow", o->rollout_allow,
                  "User always in the WebSocket cohort (repeatable)");
  cmd->add_option("--ws-rollout-deny", o->rollout_deny,
                  "User never in the WebSocket cohort (repeatable; wins over allow)");
  cmd->add_option("--ws-queue-bytes", o->server.ws_queue_bytes,
                  "Per-WebSocket send queue bound before catching up from the store")
      ->capture_default_str();
  add_duration(*cmd, "--stall-timeout", o->server.stall_timeout,
               "Close a peer that makes no write progress this long (1013)");
  add_duration(*cmd, "--ws-ping-interval", o->server.ws_ping_interval, "WebSocket ping interval");
  add_duration(*cmd, "--ws-silence-timeout", o->server.ws_silence_timeout,
               "Close a WebSocket peer that sent nothing (not even a pong) this long (1001)");
  add_duration(*cmd, "--sse-keepalive", o->server.sse_keepalive,
               "SSE: a ':' comment after this long with nothing sent");
  add_duration(*cmd, "--sse-retry", o->server.sse_retry,
               "SSE: the reconnection delay sent as 'retry:' (also when load is shed)");
  cmd->add_option("--sio-path", o->server.sio_path,
                  "Path of the Socket.IO endpoint (DESIGN 6.2; empty: off)")
      ->capture_default_str();
  add_duration(*cmd, "--sio-ping-interval", o->server.sio_ping_interval,
               "Socket.IO: Engine.IO ping interval (pingInterval)");
  add_duration(*cmd, "--sio-ping-timeout", o->server.sio_ping_timeout,
               "Socket.IO: close a session whose pong is this late (pingTimeout)");
  add_duration(*cmd, "--sio-connect-timeout", o->server.sio_connect_timeout,
               "Socket.IO: close an Engine.IO session that sent no CONNECT this long");
  cmd->add_option("--max-connections", o->server.max_connections,
                  "Open connections before new ones get 503")
      ->capture_default_str();
  cmd->add_option("--health-reserve", o->server.health_reserve,
                  "Connections past --max-connections for GET /healthz and /readyz only "
                  "(one request, read within 1 s, then closed); 0: none")
      ->capture_default_str();
  cmd->add_option("--max-waiting-polls", o->server.max_waiting_polls,
                  "Parked polls before new ones get 503")
      ->capture_default_str();
  cmd->add_option("--body-budget-mb", o->body_budget_mb,
                  "MiB of request bodies read at once, all connections together (else 503)")
      ->capture_default_str();
  cmd->add_option("--max-ws-message", o->server.max_ws_message,
                  "Largest client WebSocket message (close 1009 above)")
      ->capture_default_str();
  cmd->add_option("--max-payload", o->max_payload,
                  "Largest notification data accepted by ingest (dead letter above)")
      ->capture_default_str();
  add_duration(*cmd, "--retain-age", o->retain_age,
               "Prune notifications older than this (0 keeps all)");
  cmd->add_option("--retain-per-topic", o->retain_per_topic,
                  "Keep at most N notifications per topic (0 = no limit)")
      ->capture_default_str();
  add_duration(*cmd, "--prune-interval", o->prune_interval, "How often retention runs");
  add_duration(*cmd, "--ready-max-lag", o->ready_max_lag,
               "/readyz fails while ingest lags more than this");
  add_duration(*cmd, "--ready-min-history", o->ready_min_history,
               "/readyz fails while the oldest stored entry is younger than this (0: off), e.g. "
               "a new instance that started from an empty store");
  add_duration(*cmd, "--max-clock-skew", o->max_clock_skew,
               "An id further ahead of this clock (or past 2248) is stored, counted, and keeps "
               "/readyz failing until the clock passes it");
  cmd->add_option("--threads", o->server.threads, "I/O threads (0 = the CPUs this process may use)")
      ->capture_default_str();
  cmd->add_option("--store-readers", o->store_readers, "Threads reading old cursors from the store")
      ->capture_default_str();
  cmd->add_option("--cache-entries", o->cache_entries, "Recent notifications kept in memory")
      ->capture_default_str();
  cmd->add_option("--cache-mb", o->cache_mb, "Memory budget of that cache in MiB")
      ->capture_default_str();
  cmd->add_option(
         "--store-cache-mb", o->store_cache_mb,
         "SQLite page cache of the store writer in MiB (large: fast catch-up of a Redis backlog)")
      ->capture_default_str();
  add_duration(*cmd, "--idle-timeout", o->server.idle_timeout,
               "Close an idle keep-alive HTTP connection after this");
  add_duration(*cmd, "--header-timeout", o->server.header_timeout,
               "A request's headers, and a body Cutover reads whole (publish, Socket.IO "
               "polling), must arrive within this (else 408)");
  add_duration(*cmd, "--body-idle-timeout", o->server.body_idle_timeout,
               "A body passed through to --upstream is cut (408, close) when no bytes of it "
               "arrive for this long");
  add_duration(*cmd, "--body-timeout", o->server.body_timeout,
               "A body passed through to --upstream must be complete within this of its "
               "header, however steadily it comes (else 408, close)");
  return {poll_timeout, poll_batch, poll_path};
}

}  // namespace

void add_serve_command(CLI::App& app) {
  auto o = std::make_shared<serve_opts>();
  auto* cmd = app.add_subcommand(
      "serve",
      "Run the proxy: legacy long-poll and WebSocket endpoints fed by Redis (options also from "
      "--config FILE, before or after `serve`, section [serve]; SIGHUP re-reads it)");
  // `cutover serve --config FILE` as well as `cutover --config FILE serve`.
  cmd->fallthrough();
  auto refs = add_serve_options(cmd, o.get());
  cmd->callback([o, &app, refs] {
    note_given(app, refs, *o);
    run_serve(*o);
  });
}

}  // namespace cutover::app
