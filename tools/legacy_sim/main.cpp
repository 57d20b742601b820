// legacy_sim: a reference implementation of the OLD system Cutover replaces — a
// cpp-httplib thread-pool server whose long-poll holds a worker thread and re-reads the
// store every second. Used as the upstream app in tests, the reference in the parity
// suite and the baseline in benchmarks. main() only parses flags and wires the parts.

#include <httplib.h>
#include <pthread.h>
#include <signal.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include "notification_db.hpp"
#include "options.hpp"
#include "routes.hpp"
#include "sim_state.hpp"

namespace {

using namespace cutover::legacy_sim;

constexpr int kExitRuntime = 1;
constexpr int kExitUsage = 2;

int usage_error(const std::string& text) {
  std::fprintf(stderr, "legacy_sim: %s\n", text.c_str());
  return kExitUsage;
}

}  // namespace

int main(int argc, char** argv) {
  sim_options opt;
  std::string timeout_text = "30";
  CLI::App app{"legacy_sim: the old long-poll app Cutover replaces (a reference, slow on purpose)"};
  app.add_option("--listen", opt.listen, "HOST:PORT to listen on (port 0 picks a free one)")
      ->capture_default_str();
  app.add_option("--db", opt.db_path,
                 "Cutover SQLite store to read notifications from (read-only)");
  app.add_option("--threads", opt.threads, "Worker threads; each waiting poll holds one")
      ->check(CLI::Range(1, 100'000))
      ->capture_default_str();
  app.add_option("--poll-timeout", timeout_text, "How long a poll waits: 500ms, 2s, or seconds")
      ->capture_default_str();
  app.add_option("--poll-batch", opt.poll_batch, "Most notifications per poll answer")
      ->check(CLI::Range(1, 10'000))
      ->capture_default_str();
  app.add_option("--shared-topic", opt.shared_topics, "Topic every user also sees (repeatable)")
      ->allow_extra_args(false);
  app.add_option("--poll-path", opt.poll_path, "Path of the legacy poll endpoint")
      ->capture_default_str();
  app.add_flag(
      "--allow-user-param", opt.allow_user_param,
      "Also take the poll caller's identity from ?user= (parity with --auth insecure-query)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help
    return usage_error(e.what());
  }

  auto address = parse_listen(opt.listen);
  if (!address)
    return usage_error("--listen: expected HOST:PORT or [IPv6]:PORT, got '" + opt.listen + "'");
  auto timeout = parse_duration(timeout_text);
  if (!timeout)
    return usage_error("--poll-timeout: expected 500ms, 30s, 2m or seconds, got '" + timeout_text +
                       "'");
  opt.poll_timeout = *timeout;
  if (opt.poll_path.empty() || opt.poll_path.front() != '/')
    return usage_error("--poll-path: expected a path starting with '/', got '" + opt.poll_path +
                       "'");

  if (!opt.db_path.empty()) {
    // Fail at start, not at the first poll, when the store is missing or not a store.
    std::string error;
    auto db = notification_db::open(opt.db_path, error);
    if (!db || !db->newest_legacy_id(error)) {
      std::fprintf(stderr, "legacy_sim: --db: %s\n", error.c_str());
      return kExitRuntime;
    }
  }

  // Signals are taken by one thread with sigwait, so blocked before any thread exists
  // (httplib's pool inherits the mask). A write to a closed client must not kill us.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  sim_state st(opt);
  httplib::Server svr;
  // The old way: a fixed pool, one worker per connection for as long as it lives.
  svr.new_task_queue = [n = opt.threads] { return new httplib::ThreadPool(n); };
  svr.set_payload_max_length(64u << 20);
  install_routes(svr, st);

  int port = address->port;
  if (port == 0) {
    port = svr.bind_to_any_port(address->host);
  } else if (!svr.bind_to_port(address->host, port)) {
    port = -1;
  }
  if (port <= 0) {
    std::fprintf(stderr, "legacy_sim: cannot listen on %s\n", opt.listen.c_str());
    return kExitRuntime;
  }
  std::string shown =
      address->host.find(':') != std::string::npos ? "[" + address->host + "]" : address->host;
  std::printf("legacy_sim: listening on http://%s:%d\n", shown.c_str(), port);
  std::fflush(stdout);
  std::fprintf(stderr,
               "legacy_sim: serving poll %s (timeout %lld ms, batch %zu, re-check every 1 s), %zu "
               "threads, store %s%s\n",
               opt.poll_path.c_str(), static_cast<long long>(opt.poll_timeout.count()),
               opt.poll_batch, opt.threads,
               opt.db_path.empty() ? "(none: polls always time out)" : opt.db_path.c_str(),
               opt.allow_user_param ? ", ?user= accepted" : "");

  std::atomic<bool> listen_returned{false};
  std::atomic<bool> signalled{false};
  std::thread signal_thread([&] {
    int sig = 0;
    sigwait(&stop_signals, &sig);
    if (listen_returned.load()) return;  // woken by main after the listener failed
    signalled.store(true);
    std::fprintf(stderr, "legacy_sim: %s: stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    // httplib's stop() does nothing until listen_after_bind() has started, and must not
    // be called twice; wait out that start-up instant, then call it once.
    while (!svr.is_running() && !listen_returned.load())
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    if (!listen_returned.load()) svr.stop();
    // Waiting polls answer an empty 200 at once instead of sitting out their timeout.
    st.stop.request();
  });

  bool ok =
      svr.listen_after_bind();  // returns once stop() closed the listener and the pool drained
  listen_returned.store(true);
  if (!signalled.load()) pthread_kill(signal_thread.native_handle(), SIGTERM);
  signal_thread.join();
  if (!signalled.load()) {
    std::fprintf(stderr, "legacy_sim: listener failed%s\n", ok ? "" : " (accept error)");
    return kExitRuntime;
  }
  std::fprintf(stderr, "legacy_sim: stopped\n");
  return 0;
}
