// legacy_sim: a stand-in for the OLD app Cutover replaces — an inbox app with its own
// database, wire format, cursor and login, served by a cpp-httplib thread-pool server
// whose update poll holds a worker thread and re-reads the database every second. Used
// as the upstream app in tests, the reference in the parity and cutover-day suites and the
// baseline in benchmarks. main() only parses flags and wires the parts.

#include <httplib.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "inbox_db.hpp"
#include "longpoll.hpp"
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
  std::string wait_text = "25s";
  CLI::App app{
      "legacy_sim: the old inbox app Cutover replaces (its own database and format; slow on "
      "purpose)"};
  app.add_option("--listen", opt.listen, "HOST:PORT to listen on (port 0 picks a free one)")
      ->capture_default_str();
  app.add_option("--db", opt.db_path,
                 "The app's SQLite database (created if missing); default: a temporary file "
                 "removed at exit");
  app.add_option("--threads", opt.threads, "Worker threads; each waiting poll holds one")
      ->check(CLI::Range(1, 100'000))
      ->capture_default_str();
  app.add_option("--wait", wait_text, "How long an update poll waits: 500ms, 2s, or seconds")
      ->capture_default_str();
  app.add_option("--page-size", opt.page_size, "Most events per update answer")
      ->check(CLI::Range(1, 10'000))
      ->capture_default_str();
  app.add_option("--channel", opt.channels, "Broadcast channel every user reads (repeatable)")
      ->allow_extra_args(false);
  app.add_flag(
      "--allow-user-param", opt.allow_user_param,
      "Also take the poll caller's identity from ?user= (benchmarks; like Cutover's --auth "
      "insecure-query)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help
    return usage_error(e.what());
  }

  auto address = parse_listen(opt.listen);
  if (!address)
    return usage_error("--listen: expected HOST:PORT or [IPv6]:PORT, got '" + opt.listen + "'");
  auto wait = parse_duration(wait_text);
  if (!wait)
    return usage_error("--wait: expected 500ms, 30s, 2m or seconds, got '" + wait_text + "'");
  opt.wait = *wait;

  std::string temporary;  // the database file when none was given, removed at exit
  if (opt.db_path.empty()) {
    const char* dir = std::getenv("TMPDIR");
    std::string tmpl = std::string(dir && *dir ? dir : "/tmp") + "/legacy_sim-XXXXXX";
    int fd = mkstemp(tmpl.data());
    if (fd < 0) {
      std::fprintf(stderr, "legacy_sim: cannot create a temporary database in %s\n", tmpl.c_str());
      return kExitRuntime;
    }
    close(fd);
    temporary = opt.db_path = tmpl;
  }
  auto remove_temporary = [&temporary] {
    if (temporary.empty()) return;
    for (const char* suffix : {"", "-wal", "-shm"}) unlink((temporary + suffix).c_str());
  };
  {
    // Fail at start, not at the first request, when the database cannot be used.
    std::string error;
    if (!inbox_db::open(opt.db_path, error, /*create=*/true)) {
      std::fprintf(stderr, "legacy_sim: --db: %s\n", error.c_str());
      remove_temporary();
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
    remove_temporary();
    return kExitRuntime;
  }
  std::string shown =
      address->host.find(':') != std::string::npos ? "[" + address->host + "]" : address->host;
  std::printf("legacy_sim: listening on http://%s:%d\n", shown.c_str(), port);
  std::fflush(stdout);
  std::fprintf(stderr,
               "legacy_sim: serving updates on %s (wait %lld ms, page %zu, re-check every 1 s), "
               "%zu threads, database %s%s\n",
               std::string(kUpdatesPath).c_str(), static_cast<long long>(opt.wait.count()),
               opt.page_size, opt.threads, opt.db_path.c_str(),
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
  remove_temporary();
  if (!signalled.load()) {
    std::fprintf(stderr, "legacy_sim: listener failed%s\n", ok ? "" : " (accept error)");
    return kExitRuntime;
  }
  std::fprintf(stderr, "legacy_sim: stopped\n");
  return 0;
}
