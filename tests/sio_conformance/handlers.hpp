#pragma once
// The handlers the published protocol suites expect (their READMEs' reference servers):
// Engine.IO echoes every message; Socket.IO emits "auth" with the CONNECT payload, answers
// "message" with "message-back", acks "message-with-ack", serves "/" and "/custom". A push
// server has none of them; they exist only so the suites can exercise cutover_sio.
// Lives on the server's one I/O thread.

#include <chrono>
#include <memory>
#include <set>
#include <string>

#include "sio/eio_session.hpp"
#include "sio/sio_packet.hpp"

namespace cutover::sio_conformance {

class handler {
 public:
  virtual ~handler() = default;
  virtual void on_message(sio::eio_session& s, const sio::eio_packet& m,
                          sio::eio_clock::time_point now) = 0;
  virtual void on_tick(sio::eio_session&, sio::eio_clock::time_point) {}
  virtual sio::eio_clock::time_point next_deadline() const {
    return sio::eio_clock::time_point::max();
  }
};

class eio_echo : public handler {
 public:
  void on_message(sio::eio_session& s, const sio::eio_packet& m,
                  sio::eio_clock::time_point now) override;
};

class sio_echo : public handler {
 public:
  sio_echo(std::chrono::milliseconds connect_timeout, sio::eio_clock::time_point now)
      : connect_deadline_(now + connect_timeout) {}
  void on_message(sio::eio_session& s, const sio::eio_packet& m,
                  sio::eio_clock::time_point now) override;
  void on_tick(sio::eio_session& s, sio::eio_clock::time_point now) override;
  sio::eio_clock::time_point next_deadline() const override { return connect_deadline_; }

 private:
  void on_packet(sio::eio_session& s, sio::eio_clock::time_point now);
  void send(sio::eio_session& s, const sio::sio_packet& p);

  sio::sio_reader reader_;
  std::set<std::string> connected_;
  sio::eio_clock::time_point connect_deadline_;
};

}  // namespace cutover::sio_conformance
