// Socket.IO sessions on their WebSocket write the notification frame every recipient shares
// (sio/sio_frame.hpp) straight onto the socket. Real sockets on a shard the test runs by
// hand: what each client reads is checked byte for byte, including when the server's socket
// fills and the rest of a frame waits on the sio_ws.

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <deque>

#include "core/history.hpp"
#include "core/hub.hpp"
#include "net/context.hpp"
#include "net/shard.hpp"
#include "net/sio_server.hpp"
#include "sio/sio_frame.hpp"

namespace cutover::net {
namespace {
namespace asio = boost::asio;
using namespace std::chrono_literals;

struct no_history final : public history {
  bool read(job) override { return false; }
};

struct client {
  asio::ip::tcp::socket socket;
  std::string got;
};

struct rig {
  rig() : h(std::nullopt, {}), svc(16, sio::eio_config{}, std::chrono::seconds(45)) {
    ctx.hub_ = &h;
    ctx.readers = &readers;
    sh.emplace(ctx, 0);
  }
  // A new Socket.IO WebSocket session for user 1; `sndbuf`: the server socket's send buffer.
  client& connect(int sndbuf = 0) {
    asio::ip::tcp::acceptor acc(sh->io(), {asio::ip::make_address("127.0.0.1"), 0});
    auto& c = clients.emplace_back(client{asio::ip::tcp::socket(sh->io()), {}});
    c.socket.open(asio::ip::tcp::v4());
    if (sndbuf)  // before the SYN, so the window stays small too
      ::setsockopt(c.socket.native_handle(), SOL_SOCKET, SO_RCVBUF, &sndbuf, sizeof sndbuf);
    c.socket.connect(acc.local_endpoint());
    auto server_side = acc.accept();
    if (sndbuf)
      ::setsockopt(server_side.native_handle(), SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    c.socket.non_blocking(true);
    sio_websocket_new(*sh, svc, std::move(server_side), "key", sio_start{"1", std::nullopt}, "");
    return c;
  }
  // A masked client text frame (mask key 0, so the payload reads as it is), < 126 bytes.
  static void send(client& c, std::string_view payload) {
    std::string f = "\x81";
    f.push_back(static_cast<char>(0x80 | payload.size()));
    f.append(4, '\0');
    f.append(payload);
    c.socket.non_blocking(false);
    asio::write(c.socket, asio::buffer(f));
    c.socket.non_blocking(true);
  }
  // Runs the server's side, reading what the clients are sent (if `read`), until `done()`.
  template <class Done>
  bool run_until(Done done, bool read = true, int rounds = 3000) {
    for (int i = 0; i < rounds && !done(); ++i) {
      sh->io().restart();
      sh->io().run_for(1ms);
      if (!read) continue;
      for (auto& c : clients) {
        char buf[65536];
        boost::system::error_code ec;
        std::size_t n = c.socket.read_some(asio::buffer(buf), ec);
        if (!ec) c.got.append(buf, n);
      }
    }
    return done();
  }
  static bool has(const client& c, std::string_view bytes) {
    return c.got.find(bytes) != std::string::npos;
  }

  hub h;
  server_context ctx;
  no_history readers;
  std::optional<shard> sh;
  sio_service svc;
  std::deque<client> clients;
};

notification_ptr make(std::uint64_t ms, std::size_t size) {
  return std::make_shared<const notification>(stream_id{ms, 0}, "user:1", "chat",
                                              "\"" + std::string(size, 'x') + "\"");
}

// The server's frames from a client's bytes (after the 101 head): their payloads, in order.
std::vector<std::string> frames(const std::string& got) {
  std::vector<std::string> out;
  std::size_t p = got.find("\r\n\r\n");
  if (p == std::string::npos) return out;
  p += 4;
  while (p + 2 <= got.size()) {
    std::size_t len = static_cast<unsigned char>(got[p + 1]) & 0x7F, h = 2;
    if (len == 126) {
      if (p + 4 > got.size()) break;
      len = (static_cast<unsigned char>(got[p + 2]) << 8) | static_cast<unsigned char>(got[p + 3]);
      h = 4;
    }
    if (p + h + len > got.size()) break;
    out.push_back(got.substr(p + h, len));
    p += h + len;
  }
  return out;
}

TEST(SioDirect, TwoWebSocketSessionsWriteTheSameSharedFrame) {
  rig r;
  auto& a = r.connect();
  auto& b = r.connect();
  for (auto* c : {&a, &b}) r.send(*c, "40");
  ASSERT_TRUE(r.run_until([&] { return r.has(a, "42[\"hello\"") && r.has(b, "42[\"hello\""); }))
      << "both sessions are live";
  auto n = make(1'700'000'000'000, 20);
  r.sh->deliver(std::make_shared<const notification_batch>(notification_batch{n}));
  const std::string& frame = sio::sio_notification_frame(*n);
  ASSERT_TRUE(r.run_until([&] { return r.has(a, frame) && r.has(b, frame); }));
  auto fa = frames(a.got), fb = frames(b.got);
  ASSERT_FALSE(fa.empty());
  ASSERT_FALSE(fb.empty());
  EXPECT_EQ(fa.back(), fb.back()) << "byte-identical events";
  EXPECT_EQ(fa.back(), "4" + std::string(sio::sio_frame_packet(frame)));
  EXPECT_EQ(a.got.substr(a.got.size() - frame.size()), frame) << "the frame as rendered, whole";
}

TEST(SioDirect, AFullSocketTakesTheRestOfAFrameLaterAndLosesNothing) {
  rig r;
  auto& a = r.connect(4096);
  r.send(a, "40");
  ASSERT_TRUE(r.run_until([&] { return r.has(a, "42[\"hello\""); }));
  // 60 notifications of ~1.5 KB (90 KB: within the queue bounds, far past the socket's
  // buffers) delivered while the client reads nothing: the socket fills mid-frame.
  notification_batch batch;
  for (std::uint64_t i = 1; i <= 60; ++i) batch.push_back(make(1'700'000'000'000 + i, 1500));
  r.sh->deliver(std::make_shared<const notification_batch>(batch));
  r.run_until([] { return false; }, /*read=*/false, 200);  // the server alone for a while
  const std::string& last = sio::sio_notification_frame(*batch.back());
  ASSERT_TRUE(r.run_until([&] { return r.has(a, last); }));
  std::vector<std::string> events;
  for (auto& f : frames(a.got))
    if (f.starts_with("42[\"notification\"")) events.push_back(f);
  ASSERT_EQ(events.size(), batch.size()) << "every notification once";
  for (std::size_t i = 0; i < batch.size(); ++i)
    EXPECT_EQ(events[i],
              "4" + std::string(sio::sio_frame_packet(sio::sio_notification_frame(*batch[i]))))
        << "in order, whole: " << i;
}

}  // namespace
}  // namespace cutover::net
