#pragma once
// Helpers for the ingest tests: a listener and a log sink that tests wait on (condition
// variables with a timeout, never sleep), option defaults that keep retries fast, and
// direct reads of the store's tables to assert exact contents.

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/commit_listener.hpp"
#include "ingest/ingest.hpp"
#include "redis_server.hpp"
#include "store/sqlite.hpp"

namespace cutover::ingest::test {

using namespace std::chrono_literals;

inline constexpr auto kWait = std::chrono::seconds(15);

// Records every committed notification; tests wait for a count.
class recording_listener : public commit_listener {
 public:
  void on_committed(const notification_batch& added) override {
    std::lock_guard lk(mu_);
    for (const auto& n : added) all_.push_back(n);
    ++batches_;
    cv_.notify_all();
  }
  void on_pruned(const std::map<std::string, stream_id>& marks) override {
    std::lock_guard lk(mu_);
    for (const auto& [t, id] : marks) pruned_[t] = id;
    cv_.notify_all();
  }
  void on_lost(const notification_batch& removed, stream_id, stream_id) override {
    std::lock_guard lk(mu_);
    removed_ += removed.size();
    cv_.notify_all();
  }
  bool wait_for_count(std::size_t n, std::chrono::milliseconds timeout = kWait) {
    std::unique_lock lk(mu_);
    return cv_.wait_for(lk, timeout, [&] { return all_.size() >= n; });
  }
  // Until exactly `n` of what was committed is still stored (committed minus the entries
  // rewinds moved to orphans, DESIGN §3).
  bool wait_for_stored(std::size_t n, std::chrono::milliseconds timeout = kWait) {
    std::unique_lock lk(mu_);
    return cv_.wait_for(lk, timeout, [&] { return all_.size() - removed_ == n; });
  }
  bool wait_for_pruned(const std::string& topic, std::chrono::milliseconds timeout = kWait) {
    std::unique_lock lk(mu_);
    return cv_.wait_for(lk, timeout, [&] { return pruned_.count(topic) > 0; });
  }
  bool wait_for_mark(const std::string& topic, const std::string& id,
                     std::chrono::milliseconds timeout = kWait) {
    std::unique_lock lk(mu_);
    return cv_.wait_for(lk, timeout, [&] {
      auto it = pruned_.find(topic);
      return it != pruned_.end() && it->second.str() == id;
    });
  }
  std::vector<notification_ptr> all() const {
    std::lock_guard lk(mu_);
    return all_;
  }
  std::size_t count() const {
    std::lock_guard lk(mu_);
    return all_.size();
  }
  std::map<std::string, stream_id> pruned() const {
    std::lock_guard lk(mu_);
    return pruned_;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<notification_ptr> all_;
  std::map<std::string, stream_id> pruned_;
  std::size_t batches_ = 0;
  std::size_t removed_ = 0;
};

// The loss checks ingest reports (options::on_loss_check): tests wait until a check agreed
// with a given offset, instead of polling a metric.
class check_waiter {
 public:
  std::function<void(const std::string&, stream_id)> hook() {
    return [this](const std::string& stream, stream_id agreed) {
      std::lock_guard lk(mu_);
      agreed_[stream] = agreed;
      cv_.notify_all();
    };
  }
  bool wait_agreed(const std::string& stream, const std::string& id,
                   std::chrono::milliseconds timeout = kWait) {
    std::unique_lock lk(mu_);
    return cv_.wait_for(lk, timeout, [&] {
      auto it = agreed_.find(stream);
      return it != agreed_.end() && it->second.str() == id;
    });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, stream_id> agreed_;
};

// Collects ingest log lines; tests wait for one to appear.
class log_capture {
 public:
  core::log_sink sink() {
    return [this](std::string_view line) {
      std::lock_guard lk(mu_);
      lines_.emplace_back(line);
      cv_.notify_all();
    };
  }
  std::optional<std::string> wait_for(std::string_view needle,
                                      std::chrono::milliseconds timeout = kWait,
                                      std::size_t from = 0) {
    std::unique_lock lk(mu_);
    std::optional<std::string> found;
    cv_.wait_for(lk, timeout, [&] {
      for (std::size_t i = from; i < lines_.size(); ++i)
        if (lines_[i].find(needle) != std::string::npos) {
          found = lines_[i];
          return true;
        }
      return false;
    });
    return found;
  }
  std::size_t count(std::string_view needle) const {
    std::lock_guard lk(mu_);
    std::size_t n = 0;
    for (const auto& l : lines_)
      if (l.find(needle) != std::string::npos) ++n;
    return n;
  }
  std::size_t size() const {
    std::lock_guard lk(mu_);
    return lines_.size();
  }
  std::string text() const {
    std::lock_guard lk(mu_);
    std::string all;
    for (const auto& l : lines_) all += l + "\n";
    return all;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> lines_;
};

// Fast retries so a test of a reconnect takes milliseconds, not seconds.
inline options test_options(const std::string& db, const std::string& url,
                            log_capture* log = nullptr) {
  options o;
  o.db_path = db;
  o.redis_url = url;
  o.block = 500ms;
  o.backoff_base = 10ms;
  o.backoff_cap = 200ms;
  o.connect_timeout = 1000ms;
  o.store.busy_timeout = 50ms;
  if (log) o.log = log->sink();
  return o;
}

struct row {
  std::string id, topic, type, data;
  bool operator==(const row&) const = default;
};
inline std::ostream& operator<<(std::ostream& os, const row& r) {
  return os << "{" << r.id << " " << r.topic << " " << r.type << " " << r.data << "}";
}

struct dead_row {
  std::string source, entry_id, raw, reason;
};

// Every stored notification in id order, read straight from the table.
inline std::vector<row> stored_rows(const std::string& db) {
  auto h = store::sql::open(db, store::sql::open_mode::existing);
  EXPECT_TRUE(h.ok()) << (h ? "" : h.err().message);
  std::vector<row> out;
  if (!h) return out;
  auto s = store::sql::statement::prepare(
      h->get(), "SELECT ms, seq, topic, type, data FROM notifications ORDER BY ms, seq");
  EXPECT_TRUE(s.ok());
  while (s && s->step() == SQLITE_ROW)
    out.push_back({std::to_string(s->int64(0)) + "-" + std::to_string(s->int64(1)),
                   std::string(s->text(2)), std::string(s->text(3)), std::string(s->text(4))});
  return out;
}

inline std::vector<dead_row> dead_rows(const std::string& db) {
  auto h = store::sql::open(db, store::sql::open_mode::existing);
  std::vector<dead_row> out;
  if (!h) return out;
  auto s = store::sql::statement::prepare(
      h->get(), "SELECT source, entry_id, raw, reason FROM dead_letters ORDER BY id");
  while (s && s->step() == SQLITE_ROW)
    out.push_back({std::string(s->text(0)), std::string(s->text(1)), std::string(s->text(2)),
                   std::string(s->text(3))});
  return out;
}

inline std::optional<std::string> stored_offset(const std::string& db, const std::string& stream) {
  auto h = store::sql::open(db, store::sql::open_mode::existing);
  if (!h) return std::nullopt;
  auto s = store::sql::statement::prepare(h->get(),
                                          "SELECT ms, seq FROM ingest_offsets WHERE stream = ?1");
  if (!s) return std::nullopt;
  s->bind(1, std::string_view(stream));
  if (s->step() != SQLITE_ROW) return std::nullopt;
  return std::to_string(s->int64(0)) + "-" + std::to_string(s->int64(1));
}

// A notification entry as publishers write it.
inline std::vector<std::pair<std::string, std::string>> entry(const std::string& topic,
                                                              const std::string& data,
                                                              const std::string& type = "") {
  std::vector<std::pair<std::string, std::string>> f{{"topic", topic}, {"data", data}};
  if (!type.empty()) f.emplace_back("type", type);
  return f;
}

}  // namespace cutover::ingest::test
