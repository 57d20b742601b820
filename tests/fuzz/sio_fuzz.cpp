// Engine.IO / Socket.IO input (DESIGN §6.2): every byte a client can send reaches one of
// these parsers or the session state machine.
//
// Invariants:
// - base64: what decodes re-encodes to the same text; what is encoded decodes back;
// - a polling payload that decodes re-encodes to the same body; a WebSocket text packet too;
// - a Socket.IO packet that decodes re-encodes to a text that decodes to the same packet;
// - the session, driven by a script of carrier events and clock steps made of the input,
//   never answers one request twice, only refuses after `closed`, and reports
//   `closed` at most once.

#include <set>
#include <string>

#include "fuzz_support.hpp"
#include "sio/base64.hpp"
#include "sio/eio_packet.hpp"
#include "sio/eio_session.hpp"
#include "sio/sio_packet.hpp"

namespace cutover::fuzz {
namespace {

using namespace std::chrono_literals;

void check_codecs(std::string_view text) {
  if (auto d = sio::base64_decode(text)) FUZZ_CHECK(sio::base64_encode(*d) == text);
  auto again = sio::base64_decode(sio::base64_encode(text));
  FUZZ_CHECK(again && *again == text);

  std::vector<sio::eio_packet> ps;
  if (sio::decode_payload(text, ps)) FUZZ_CHECK(sio::encode_payload(ps) == text);
  sio::eio_packet p;
  if (sio::decode_ws_text(text, p)) FUZZ_CHECK(sio::encode_ws_text(p) == text);

  if (auto s = sio::decode_sio(text)) {
    auto back = sio::decode_sio(sio::encode_sio(*s));
    FUZZ_CHECK(back);
    FUZZ_CHECK(back->type == s->type && back->nsp == (s->nsp.empty() ? "/" : s->nsp) &&
               back->id == s->id && back->attachments == s->attachments && back->data == s->data);
  }
  sio::sio_reader r(4);
  byte_reader in(reinterpret_cast<const std::uint8_t*>(text.data()), text.size());
  while (!in.empty()) {
    bool binary = in.flag();
    auto st = r.feed(binary, in.short_string());
    if (st == sio::sio_reader::status::packet && r.packet().attachments) {
      FUZZ_CHECK(r.attachments().size() == r.packet().attachments);
    }
  }
}

void drive_session(byte_reader& in) {
  sio::eio_config cfg;
  cfg.ping_interval = 300ms;
  cfg.ping_timeout = 200ms;
  cfg.upgrade_timeout = 1000ms;
  cfg.max_payload = 200;
  cfg.max_buffered_bytes = 300;
  auto now = sio::eio_clock::time_point{} + 1000s;
  bool ws_first = in.flag();
  sio::eio_session s("sid", ws_first ? sio::transport::websocket : sio::transport::polling, 1, cfg,
                     now);
  std::set<sio::carrier_id> answered;
  int closed = 0;
  sio::carrier_id next = 2;
  auto drain = [&] {
    for (auto& o : s.take_outputs()) {
      // After `closed`, only refusals: a request answered, a new WebSocket closed.
      FUZZ_CHECK(closed == 0 || o.what == sio::eio_output::kind::respond ||
                 o.what == sio::eio_output::kind::ws_close);
      if (o.what == sio::eio_output::kind::respond) {
        FUZZ_CHECK(answered.insert(o.carrier).second);  // one answer per request, ever
      }
      if (o.what == sio::eio_output::kind::closed) ++closed;
    }
  };
  drain();
  // The caller's contract: every request or connection gets a fresh id; bodies follow a
  // POST that was let in; frames and "gone" name any id seen so far.
  std::vector<sio::carrier_id> posts;
  while (!in.empty()) {
    std::uint8_t op = in.u8() % 9;
    sio::carrier_id seen = in.u8() % next;
    switch (op) {
      case 0:
        s.on_poll_get(next++, now);
        break;
      case 1: {
        sio::carrier_id c = next++;
        auto length = in.flag() ? std::optional<std::size_t>(in.u16()) : std::nullopt;
        if (s.on_poll_post_begin(c, length, now)) posts.push_back(c);
        break;
      }
      case 2:
        if (!posts.empty()) {
          sio::carrier_id c = posts[seen % posts.size()];
          posts.erase(posts.begin() + static_cast<std::ptrdiff_t>(seen % posts.size()));
          s.on_poll_post_body(c, in.short_string(), now);
        }
        break;
      case 3:
        s.on_ws_open(next++, now);
        break;
      case 4: {
        bool binary = in.flag();
        s.on_ws_frame(seen, binary, in.short_string(), now);
        break;
      }
      case 5:
        s.on_carrier_gone(seen, now);
        break;
      case 6:
        now += std::chrono::milliseconds(in.u16() % 1500);
        s.on_tick(now);
        break;
      case 7:
        if (in.flag()) {
          s.send_text(std::string(in.short_string()));
        } else {
          s.send_binary(std::string(in.short_string()));
        }
        break;
      case 8:
        if (in.u8() == 0) s.close(now);
        break;
    }
    drain();
  }
  FUZZ_CHECK(closed <= 1);
  if (closed) FUZZ_CHECK(s.closed());
}

}  // namespace
}  // namespace cutover::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace cutover;
  fuzz::check_codecs(fuzz::as_text(data, size));
  fuzz::byte_reader in(data, size);
  fuzz::drive_session(in);
  return 0;
}
