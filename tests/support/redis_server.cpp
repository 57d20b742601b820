#include "redis_server.hpp"

#include <signal.h>

#include <stdexcept>

namespace cutover::testing {

redis_server::redis_server(redis_options opt) : opt_(std::move(opt)) {
  start();
}

redis_server::~redis_server() {
  if (proc_) kill();
}

void redis_server::start() {
  for (int attempt = 0; attempt < 5; ++attempt) {
    if (port_ == 0 || attempt > 0) port_ = free_port();
    std::vector<std::string> argv = {"redis-server",
                                     "--port",
                                     std::to_string(port_),
                                     "--bind",
                                     "127.0.0.1",
                                     "--dir",
                                     dir_.path(),
                                     "--save",
                                     "",
                                     "--daemonize",
                                     "no",
                                     "--appendonly",
                                     opt_.appendonly ? "yes" : "no",
                                     "--appendfsync",
                                     opt_.appendfsync,
                                     "--protected-mode",
                                     "no"};
    argv.insert(argv.end(), opt_.extra_args.begin(), opt_.extra_args.end());
    proc_ = subprocess::spawn(argv);
    if (proc_->wait_for_line("Ready to accept connections", std::chrono::seconds(20))) return;
    std::string out = proc_->output();
    proc_.reset();
    // A restart must keep its port; only a first start may move to another one.
    if (out.find("Address already in use") == std::string::npos || attempt == 4)
      throw std::runtime_error("redis-server did not start:\n" + out);
  }
}

void redis_server::kill() {
  if (!proc_) return;
  proc_->signal(SIGKILL);
  proc_->wait_exit(std::chrono::seconds(10));
  proc_.reset();
}

void redis_server::restart() {
  kill();
  std::vector<std::string> argv = {"redis-server",
                                   "--port",
                                   std::to_string(port_),
                                   "--bind",
                                   "127.0.0.1",
                                   "--dir",
                                   dir_.path(),
                                   "--save",
                                   "",
                                   "--daemonize",
                                   "no",
                                   "--appendonly",
                                   opt_.appendonly ? "yes" : "no",
                                   "--appendfsync",
                                   opt_.appendfsync,
                                   "--protected-mode",
                                   "no"};
  argv.insert(argv.end(), opt_.extra_args.begin(), opt_.extra_args.end());
  // The old socket may linger in TIME_WAIT only on the client side; redis sets SO_REUSEADDR.
  proc_ = subprocess::spawn(argv);
  if (!proc_->wait_for_line("Ready to accept connections", std::chrono::seconds(20)))
    throw std::runtime_error("redis-server did not restart:\n" + proc_->output());
}

redis_client::redis_client(int port) {
  timeval tv{5, 0};
  ctx_ = redisConnectWithTimeout("127.0.0.1", port, tv);
  if (!ctx_ || ctx_->err) {
    std::string msg = ctx_ ? ctx_->errstr : "out of memory";
    if (ctx_) redisFree(ctx_);
    throw std::runtime_error("cannot connect to redis: " + msg);
  }
  redisSetTimeout(ctx_, tv);
}

redis_client::~redis_client() {
  if (ctx_) redisFree(ctx_);
}

reply_ptr redis_client::command(const std::vector<std::string>& argv) {
  std::vector<const char*> args;
  std::vector<size_t> lens;
  for (const auto& a : argv) {
    args.push_back(a.data());
    lens.push_back(a.size());
  }
  auto* r = static_cast<redisReply*>(
      redisCommandArgv(ctx_, static_cast<int>(args.size()), args.data(), lens.data()));
  if (!r) throw std::runtime_error(std::string("redis command failed: ") + ctx_->errstr);
  return reply_ptr(r);
}

std::string redis_client::xadd(const std::string& key,
                               const std::vector<std::pair<std::string, std::string>>& fields) {
  std::vector<std::string> argv = {"XADD", key, "*"};
  for (const auto& [f, v] : fields) {
    argv.push_back(f);
    argv.push_back(v);
  }
  auto r = command(argv);
  if (r->type != REDIS_REPLY_STRING)
    throw std::runtime_error("XADD failed: " + std::string(r->str ? r->str : "?"));
  return std::string(r->str, r->len);
}

std::string redis_client::stream_entry::field(const std::string& name) const {
  for (std::size_t k = 0; k + 1 < fields.size(); k += 2)
    if (fields[k] == name) return fields[k + 1];
  return {};
}

std::vector<redis_client::stream_entry> redis_client::xrange(const std::string& key) {
  auto r = command({"XRANGE", key, "-", "+"});
  if (r->type != REDIS_REPLY_ARRAY)
    throw std::runtime_error("XRANGE failed: " + std::string(r->str ? r->str : "?"));
  std::vector<stream_entry> out;
  for (std::size_t i = 0; i < r->elements; ++i) {
    const auto* e = r->element[i];
    stream_entry se{std::string(e->element[0]->str, e->element[0]->len), {}};
    for (std::size_t k = 0; k < e->element[1]->elements; ++k)
      se.fields.emplace_back(e->element[1]->element[k]->str, e->element[1]->element[k]->len);
    out.push_back(std::move(se));
  }
  return out;
}

void redis_client::pipeline(const std::vector<std::vector<std::string>>& commands) {
  for (const auto& argv : commands) {
    std::vector<const char*> args;
    std::vector<size_t> lens;
    for (const auto& a : argv) {
      args.push_back(a.data());
      lens.push_back(a.size());
    }
    redisAppendCommandArgv(ctx_, static_cast<int>(args.size()), args.data(), lens.data());
  }
  for (std::size_t i = 0; i < commands.size(); ++i) {
    void* raw = nullptr;
    if (redisGetReply(ctx_, &raw) != REDIS_OK)
      throw std::runtime_error(std::string("pipeline: ") + ctx_->errstr);
    reply_ptr r(static_cast<redisReply*>(raw));
    if (r->type == REDIS_REPLY_ERROR) throw std::runtime_error("pipeline: " + std::string(r->str));
  }
}

}  // namespace cutover::testing
