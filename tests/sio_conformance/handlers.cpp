#include "handlers.hpp"

#include <boost/json/serialize.hpp>

#include "sio/sid_registry.hpp"

namespace cutover::sio_conformance {

using sio::sio_packet;
using sio::sio_type;

void eio_echo::on_message(sio::eio_session& s, const sio::eio_packet& m,
                          sio::eio_clock::time_point) {
  s.send(m);
}

void sio_echo::send(sio::eio_session& s, const sio_packet& p) {
  s.send_text(sio::encode_sio(p));
}

void sio_echo::on_tick(sio::eio_session& s, sio::eio_clock::time_point now) {
  if (now < connect_deadline_) return;
  connect_deadline_ = sio::eio_clock::time_point::max();
  // The README: a client that does not CONNECT is closed (the reference server waits
  // connectTimeout for it).
  if (connected_.empty()) s.close(now);
}

void sio_echo::on_message(sio::eio_session& s, const sio::eio_packet& m,
                          sio::eio_clock::time_point now) {
  switch (reader_.feed(m.binary, m.data)) {
    case sio::sio_reader::status::need_more:
      return;
    case sio::sio_reader::status::error:
      return s.close(now);  // protocol garbage closes the connection
    case sio::sio_reader::status::packet:
      return on_packet(s, now);
  }
}

void sio_echo::on_packet(sio::eio_session& s, sio::eio_clock::time_point now) {
  sio_packet& p = reader_.packet();
  bool known_nsp = p.nsp == "/" || p.nsp == "/custom";
  if (p.type == sio_type::connect) {
    if (connected_.count(p.nsp)) return s.close(now);  // a second CONNECT: invalid state
    if (!known_nsp) {
      sio_packet err;
      err.type = sio_type::connect_error;
      err.nsp = p.nsp;
      err.data = R"({"message":"Invalid namespace"})";
      return send(s, err);
    }
    connected_.insert(p.nsp);
    connect_deadline_ = sio::eio_clock::time_point::max();
    sio_packet ack;
    ack.type = sio_type::connect;
    ack.nsp = p.nsp;
    ack.data = "{\"sid\":\"" + sio::make_sid() + "\"}";  // exactly `sid`: no pid here
    send(s, ack);
    sio_packet auth;
    auth.type = sio_type::event;
    auth.nsp = p.nsp;
    auth.data = "[\"auth\"," + (p.data.empty() ? std::string("{}") : p.data) + "]";
    return send(s, auth);
  }
  // Anything else for a namespace this client has not joined is an invalid state.
  if (!connected_.count(p.nsp)) return s.close(now);
  if (p.type == sio_type::disconnect) {
    connected_.erase(p.nsp);
    return;
  }
  if (p.nsp != "/" || (p.type != sio_type::event && p.type != sio_type::binary_event)) return;
  auto& args = p.json.as_array();
  if (!args[0].is_string()) return;
  bool binary = p.type == sio_type::binary_event;
  if (args[0].get_string() == "message") {
    args[0] = "message-back";
    sio_packet back;
    back.type = p.type;
    back.attachments = p.attachments;
    back.data = boost::json::serialize(args);
    send(s, back);
  } else if (args[0].get_string() == "message-with-ack" && p.id) {
    args.erase(args.begin());
    sio_packet ack;
    ack.type = binary ? sio_type::binary_ack : sio_type::ack;
    ack.id = p.id;
    ack.attachments = p.attachments;
    ack.data = boost::json::serialize(args);
    send(s, ack);
  } else {
    return;
  }
  if (binary)
    for (auto& a : reader_.attachments()) s.send_binary(a);
}

}  // namespace cutover::sio_conformance
