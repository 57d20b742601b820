#pragma once
// Test support: a real redis-server on a free port, in its own temp dir, that a test can
// kill (SIGKILL), restart on the same port and data, or pause. Never a mock.

#include <hiredis/hiredis.h>

#include <memory>
#include <string>
#include <vector>

#include "subprocess.hpp"

namespace cutover::testing {

struct redis_options {
  bool appendonly = false;
  std::string appendfsync = "everysec";
  std::vector<std::string> extra_args;
};

class redis_server {
 public:
  explicit redis_server(redis_options opt = {});
  ~redis_server();

  void start();    // waits for "Ready to accept connections"; throws on failure
  void kill();     // SIGKILL, waits for the exit
  void restart();  // start() on the same port and dir
  subprocess& process() { return *proc_; }

  int port() const { return port_; }
  std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_); }
  const std::string& dir() const { return dir_.path(); }

 private:
  redis_options opt_;
  temp_dir dir_;
  int port_ = 0;
  std::unique_ptr<subprocess> proc_;
};

// A blocking hiredis client for test code (never used by the product).
struct redis_reply_free {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using reply_ptr = std::unique_ptr<redisReply, redis_reply_free>;

class redis_client {
 public:
  explicit redis_client(int port);
  ~redis_client();
  redis_client(const redis_client&) = delete;
  redis_client& operator=(const redis_client&) = delete;

  // Sends argv as one command; throws on a connection error (not on a Redis error reply).
  reply_ptr command(const std::vector<std::string>& argv);
  // XADD key * field value...; returns the new id. Throws on error replies.
  std::string xadd(const std::string& key,
                   const std::vector<std::pair<std::string, std::string>>& fields);
  // One stream entry as XRANGE returns it: id, then field names and values in order.
  struct stream_entry {
    std::string id;
    std::vector<std::string> fields;                   // name, value, name, value, ...
    std::string field(const std::string& name) const;  // "" when absent
  };
  // XRANGE key - +; throws on an error reply.
  std::vector<stream_entry> xrange(const std::string& key);
  // Appends many commands and reads all replies (pipelining); throws on any error reply.
  void pipeline(const std::vector<std::vector<std::string>>& commands);

 private:
  redisContext* ctx_ = nullptr;
};

}  // namespace cutover::testing
