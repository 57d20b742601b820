#pragma once
// Test support: the real `cutover serve` binary on 127.0.0.1:0 against a real
// redis-server, plus the clients tests use against it: plain HTTP (cpp-httplib), a raw
// WebSocket client (for the things a polite client never does: not reading, garbage
// frames), and /metrics scraping for events the server exposes.

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "redis_server.hpp"
#include "subprocess.hpp"

namespace cutover::testing {

struct http_reply {
  int status = 0;  // 0: no answer (connection failed or timed out)
  std::string body;
  std::map<std::string, std::string> headers;  // names lower-cased
};

// One HTTP/1.1 request on a fresh connection; `timeout` bounds the whole exchange.
http_reply http_get(int port, const std::string& target,
                    const std::map<std::string, std::string>& headers = {},
                    std::chrono::milliseconds timeout = std::chrono::seconds(10));
http_reply http_post(int port, const std::string& target, const std::string& body,
                     const std::map<std::string, std::string>& headers = {},
                     std::chrono::milliseconds timeout = std::chrono::seconds(10));

class cutover_server {
 public:
  // Starts `cutover serve` with the given extra flags (after the defaults below, so they
  // win): --listen 127.0.0.1:0 --db <dir>/cutover.db --redis <redis>
  cutover_server(const redis_server& redis, std::vector<std::string> flags,
                 const std::string& db_path = "");
  ~cutover_server();

  int port() const { return port_; }
  subprocess& process() { return *proc_; }
  const std::string& db() const { return db_; }

  // Value of one /metrics sample (name with labels exactly as printed), or nullopt.
  std::optional<double> metric(const std::string& sample) const;
  // Waits until metric(sample) >= value. The server exposes the event; this reads it.
  bool wait_metric_at_least(const std::string& sample, double value,
                            std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;
  // Resident memory of the server process, in bytes.
  std::size_t rss_bytes() const;

 private:
  temp_dir dir_;
  std::string db_;
  std::unique_ptr<subprocess> proc_;
  int port_ = 0;
};

// A WebSocket client written against RFC 6455 directly: reads only when asked, so a
// test can play a slow consumer, and can send anything, including broken frames.
class raw_ws {
 public:
  // `headers`: added to the handshake request; a "Host" entry replaces the default.
  raw_ws(int port, const std::string& target, int rcvbuf = 0,
         const std::map<std::string, std::string>& headers = {});
  ~raw_ws();
  int handshake_status() const { return status_; }
  const std::string& handshake_body() const { return body_; }

  struct frame {
    int opcode = -1;  // -1: timed out or connection closed
    std::string payload;
  };
  frame next(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Next text frame, skipping pings (answered) and pongs.
  std::optional<std::string> next_text(
      std::chrono::milliseconds timeout = std::chrono::seconds(10));
  void send_frame(int opcode, const std::string& payload, bool fin = true, bool mask = true);
  void send_raw(const std::string& bytes);
  void close_socket();
  bool peer_closed() const { return eof_; }

 private:
  bool fill(std::chrono::steady_clock::time_point deadline);
  int fd_ = -1;
  int status_ = 0;
  std::string body_;
  std::string buf_;
  bool eof_ = false;
};

// A token for the `token` auth mode, minted by the real `cutover token`.
std::string mint_token(const std::string& secret, const std::string& user,
                       const std::string& ttl = "1h");

// A client script of tests/js (real npm clients, headless Chromium) run with Node. Its
// dependencies are installed by `tools/dev.sh test` (npm ci); a missing install throws
// with the command to run. Waits for the exit; returns the last line it printed.
struct node_result {
  int exit_code = -1;  // -1: it did not exit within the timeout (then it is killed)
  std::string last_line;
  std::string output;  // everything, for failure messages
};
node_result run_node(const std::string& script, const std::vector<std::string>& args,
                     std::chrono::milliseconds timeout = std::chrono::seconds(60));
// The same, started in the background: the test talks to the server meanwhile.
std::unique_ptr<subprocess> spawn_node(const std::string& script,
                                       const std::vector<std::string>& args);

// A JSON field of a frame or body, as text ("" when absent); enough for assertions.
std::string json_field(const std::string& json, const std::string& key);

}  // namespace cutover::testing
