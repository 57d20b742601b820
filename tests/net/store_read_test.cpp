// net/fetch's store reads against a history whose queue the test runs by hand, so a read
// can be left queued while its asker lets go, or until its deadline has passed. The shard
// is not started: the test runs its io_context to receive the answers.

#include <gtest/gtest.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <deque>

#include "core/hub.hpp"
#include "net/fetch.hpp"
#include "net/metrics.hpp"
#include "net/sio_server.hpp"

namespace cutover::net {
namespace {
using namespace std::chrono_literals;

// The store's side: counts what each read looks at. `rows_visited` is every row a read
// returned or inspected (a topic's oldest id counts one).
class counting_reader final : public history_reader {
 public:
  result<notification_batch> read_after(std::span<const std::string> topics, stream_id,
                                        std::size_t) override {
    ++reads;
    rows_visited += topics.size();
    return notification_batch{};
  }
  result<std::optional<stream_id>> oldest(const std::string& topic) override {
    ++rows_visited;
    oldest_asked.push_back(topic);
    return std::optional<stream_id>(stream_id{900'000, 0});
  }
  int reads = 0;
  std::size_t rows_visited = 0;
  std::vector<std::string> oldest_asked;
};

class manual_history final : public history {
 public:
  bool read(job j) override {
    queue.push_back(std::move(j));
    return true;
  }
  void run_all(history_reader& r) {
    while (!queue.empty()) {
      auto j = std::move(queue.front());
      queue.pop_front();
      j(r);
    }
  }
  std::deque<job> queue;
};

struct rig {
  explicit rig(std::map<std::string, stream_id> marks = {}) : h(std::nullopt, std::move(marks)) {
    ctx.hub_ = &h;
    ctx.readers = &queue;
    sh.emplace(ctx, 0);
  }
  // Queues a read of user:1 and all after `after`; its answer lands in `got`.
  void read(stream_id after, read_claim_ptr claim) {
    auto topics =
        std::make_shared<const std::vector<std::string>>(std::vector<std::string>{"user:1", "all"});
    fetch_from_store(
        *sh, topics, after, 100, [this](fetch_result r) { got.push_back(std::move(r)); },
        std::move(claim));
  }
  void run() {
    queue.run_all(reader);
    sh->io().restart();
    sh->io().poll();
  }
  hub h;
  server_context ctx;
  manual_history queue;
  counting_reader reader;
  std::optional<shard> sh;
  std::vector<fetch_result> got;
};

TEST(StoreReads, AQueuedReadWhoseAskerLetGoNeverTouchesTheStore) {
  rig r;
  auto& m = global_metrics();
  auto gone = m.store_reads_skipped_gone.get();
  auto claim = std::make_shared<read_claim>();
  r.read({5, 0}, claim);
  auto kept = std::make_shared<read_claim>();
  r.read({5, 0}, kept);
  claim->drop();  // the client left while its read was queued
  r.run();
  ASSERT_EQ(r.got.size(), 2u) << "both askers hear back (on their I/O thread)";
  EXPECT_TRUE(r.got[0].skipped);
  EXPECT_FALSE(r.got[1].skipped);
  EXPECT_EQ(r.reader.reads, 1) << "only the read still wanted ran";
  EXPECT_EQ(m.store_reads_skipped_gone.get() - gone, 1u);
}

TEST(StoreReads, AReadThatCouldNotStartBeforeItsDeadlineIsSkipped) {
  rig r;
  auto& m = global_metrics();
  auto late = m.store_reads_skipped_late.get();
  auto claim = std::make_shared<read_claim>();
  claim->start_by = clock::now() - 1ms;  // its poll's deadline passed while it was queued
  r.read({5, 0}, claim);
  auto in_time = std::make_shared<read_claim>();
  in_time->start_by = clock::now() + 1h;
  r.read({5, 0}, in_time);
  r.run();
  ASSERT_EQ(r.got.size(), 2u);
  EXPECT_TRUE(r.got[0].skipped);
  EXPECT_FALSE(r.got[1].skipped);
  EXPECT_EQ(r.reader.reads, 1);
  EXPECT_EQ(m.store_reads_skipped_late.get() - late, 1u);
}

TEST(StoreReads, AResetReadLooksAtItsCallersTopicsOnlyWhateverTheMarks) {
  // 200,000 marks (issue 12: with that many, one reset poll cost 100-160 ms of store
  // reader, because each read loaded every mark).
  std::map<std::string, stream_id> marks;
  for (std::uint64_t i = 2; i <= 200'001; ++i)
    marks.emplace("user:" + std::to_string(i), stream_id{i, 0});
  marks.emplace("user:1", stream_id{700'000, 0});
  rig r(std::move(marks));
  r.read({600'000, 0}, nullptr);  // before user:1's mark: expired
  r.run();
  ASSERT_EQ(r.got.size(), 1u);
  const auto& got = r.got[0];
  EXPECT_TRUE(got.expired);
  EXPECT_EQ(got.pruned_through, (stream_id{700'000, 0}));
  EXPECT_EQ(got.oldest, (stream_id{900'000, 0}));
  EXPECT_EQ(r.reader.oldest_asked, (std::vector<std::string>{"user:1"}))
      << "only the expired topic's oldest entry";
  // One oldest id and the range read of two topics: no mark is read from the store.
  EXPECT_EQ(r.reader.rows_visited, 3u);
  // The floor expires a topic without a mark of its own, still without reading marks.
  r.h.on_prune_floor({800'000, 0});
  r.reader = {};
  r.read({600'000, 0}, nullptr);
  r.run();
  ASSERT_EQ(r.got.size(), 2u);
  EXPECT_TRUE(r.got[1].expired);
  EXPECT_EQ(r.got[1].pruned_through, (stream_id{800'000, 0}));
  EXPECT_EQ(r.reader.oldest_asked, (std::vector<std::string>{"user:1", "all"}));
  EXPECT_EQ(r.reader.rows_visited, 4u);
}

// Socket.IO's CONNECT with a Cutover pid and offset reads the store once, to tell whether the
// offset is still whole (socket.recovered). That read carries a claim like every other.
struct sio_rig : rig {
  // user:1's mark after the offset: memory cannot answer, the store must.
  sio_rig()
      : rig({{"user:1", stream_id{10, 0}}}), svc(16, sio::eio_config{}, std::chrono::seconds(45)) {
    namespace asio = boost::asio;
    asio::ip::tcp::acceptor acc(sh->io(), {asio::ip::make_address("127.0.0.1"), 0});
    client.connect(acc.local_endpoint());
    sio_websocket_new(*sh, svc, acc.accept(), "key", sio_start{"1", std::nullopt}, "");
  }
  // A masked client text frame (mask key 0, so the payload reads as it is), < 126 bytes.
  void send(std::string_view payload) {
    std::string f = "\x81";
    f.push_back(static_cast<char>(0x80 | payload.size()));
    f.append(4, '\0');
    f.append(payload);
    boost::asio::write(client, boost::asio::buffer(f));
  }
  // Runs the server's side until `done()` or a few seconds pass.
  template <class Done>
  bool run_until(Done done) {
    for (int i = 0; i < 2000 && !done(); ++i) {
      sh->io().restart();
      sh->io().run_for(std::chrono::milliseconds(2));
    }
    return done();
  }
  sio_service svc;
  boost::asio::ip::tcp::socket client{sh->io()};
};

constexpr std::string_view kRecoveringConnect = R"(40{"pid":"cutover.abc","offset":"5-0"})";

TEST(StoreReads, ASocketIoRecoveryReadWhoseClientLeftNeverTouchesTheStore) {
  sio_rig r;
  auto& m = global_metrics();
  auto gone = m.store_reads_skipped_gone.get();
  r.send(kRecoveringConnect);
  ASSERT_TRUE(r.run_until([&] { return !r.queue.queue.empty(); }))
      << "the CONNECT's recovery read waits in the store's queue";
  r.client.close();  // the client leaves before the read begins
  ASSERT_TRUE(r.run_until([&] { return r.svc.registry.size() == 0; })) << "the session ended";
  r.queue.run_all(r.reader);
  EXPECT_EQ(r.reader.reads, 0) << "a read nobody waits for never reaches SQLite";
  EXPECT_EQ(m.store_reads_skipped_gone.get() - gone, 1u);
}

TEST(StoreReads, ASocketIoRecoveryReadReplacedByANewConnectIsSkipped) {
  sio_rig r;
  auto& m = global_metrics();
  auto gone = m.store_reads_skipped_gone.get();
  r.send(kRecoveringConnect);
  ASSERT_TRUE(r.run_until([&] { return r.queue.queue.size() == 1; }));
  r.send("41");  // leaves "/" while the read is queued, and connects again
  r.send(kRecoveringConnect);
  ASSERT_TRUE(r.run_until([&] { return r.queue.queue.size() == 2; }));
  r.queue.run_all(r.reader);
  EXPECT_EQ(r.reader.reads, 1) << "only the second CONNECT's read ran";
  EXPECT_EQ(m.store_reads_skipped_gone.get() - gone, 1u);
  EXPECT_EQ(r.svc.registry.size(), 1u) << "the session stays";
}

}  // namespace
}  // namespace cutover::net
