#pragma once
// One I/O thread: its own io_context (so every connection on it is serialised without a
// strand), its topic -> subscriber registry (touched only by this thread, so fan-out
// takes no lock), the list of its connections for the once-a-second sweep (pings,
// silence, read and stall deadlines), and the FIFO of parked polls with one timer.

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/hub.hpp"
#include "net/context.hpp"
#include "net/intrusive_list.hpp"

namespace cutover::net {

using clock = std::chrono::steady_clock;
class shard_host;

// Receives the entries of its topics from each committed batch (on its shard's thread).
class subscriber {
 public:
  // `entries`: only this subscriber's topics, in id order; may include ids it already has.
  virtual void on_entries(std::span<const notification_ptr> entries) = 0;
  // Redis lost the range after `after` through `through` (DESIGN §3); a subscriber whose
  // cursor lies in it is reset; a long-poll parked there reads again (and answers the reset).
  virtual void on_lost(stream_id after, stream_id through) { (void)after, (void)through; }

 protected:
  subscriber() = default;
  ~subscriber() = default;

 private:
  friend class shard;
  struct slot {
    std::vector<subscriber*>* list;
    std::size_t index;
  };
  std::vector<slot> slots_;
  topic_list topics_;
  std::uint64_t epoch_ = 0;
};

// A connection the sweep visits and shutdown reaches.
struct conn_hook : list_hook {};
class connection_base : public conn_hook {
 public:
  virtual void on_tick(clock::time_point now) = 0;
  virtual void on_shutdown() = 0;

 protected:
  ~connection_base() = default;
};

// A poll parked until an arrival or its deadline.
struct park_hook : list_hook {};
class parked_poll : public park_hook {
 public:
  virtual void on_deadline() = 0;
  clock::time_point park_deadline;

 protected:
  ~parked_poll() = default;
};

// Hash and equality that let a std::string-keyed map be searched with a string_view.
struct string_hash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept {
    return std::hash<std::string_view>{}(s);
  }
};

class shard final : public fanout_target {
 public:
  shard(server_context& ctx, unsigned index);
  ~shard() override;

  boost::asio::io_context& io() noexcept { return *io_; }
  server_context& ctx() noexcept { return ctx_; }
  unsigned index() const noexcept { return index_; }

  void start();  // spawns the thread
  void join();
  void stop() { io_->stop(); }

  // fanout_target: any thread; posts to this shard.
  void deliver(shared_batch batch) override;
  void lost(stream_id after, stream_id through) override;

  // This thread only.
  void subscribe(subscriber& s, topic_list topics);
  void unsubscribe(subscriber& s);
  bool subscribed(const subscriber& s) const { return !s.slots_.empty(); }

  void track(connection_base& c) { connections_.push_back(c); }
  void untrack(connection_base& c) { connections_.erase(c); }
  std::size_t connection_count() const { return connections_.size(); }

  void park(parked_poll& p, clock::time_point deadline);
  void unpark(parked_poll& p) { parked_.erase(p); }

  // Calls on_shutdown on every connection (this thread).
  void shutdown_connections();

  // A read buffer shared by every connection of this thread: a connection copies out
  // only the bytes it must keep, so idle sockets own no buffer.
  std::span<char> scratch() noexcept { return scratch_; }

  // What push sessions on this thread run on (net/push_carrier.hpp).
  shard_host& host() noexcept { return *host_; }

 private:
  void on_batch(const shared_batch& batch);
  void arm_sweep();
  void arm_park_timer();
  void on_park_timer();

  server_context& ctx_;
  unsigned index_;
  // Destroyed first (see ~shard): pending handlers may own sessions whose destructors
  // unlink themselves from the lists below.
  std::unique_ptr<boost::asio::io_context> io_;
  std::optional<boost::asio::steady_timer> sweep_timer_;
  std::optional<boost::asio::steady_timer> park_timer_;
  bool park_timer_armed_ = false;
  std::thread thread_;

  std::unordered_map<std::string, std::vector<subscriber*>, string_hash, std::equal_to<>> registry_;
  intrusive_list<connection_base, conn_hook> connections_;
  intrusive_list<parked_poll, park_hook> parked_;
  std::uint64_t epoch_ = 0;

  // Reused per batch: entries grouped by topic.
  std::unordered_map<std::string_view, std::vector<notification_ptr>> groups_;
  std::vector<subscriber*> wake_;
  std::vector<notification_ptr> merged_;
  std::array<char, 64 * 1024> scratch_;
  std::unique_ptr<shard_host> host_;
};

}  // namespace cutover::net
