#include "sio/eio_session.hpp"

#include <utility>

#include "core/json_text.hpp"

namespace cutover::sio {

eio_session::eio_session(std::string sid, transport initial, carrier_id first,
                         const eio_config& cfg, eio_clock::time_point now)
    : sid_(std::move(sid)), cfg_(&cfg), transport_(initial), next_ping_(now + cfg.ping_interval) {
  std::string open = open_packet(sid_, initial, cfg);
  if (initial == transport::polling) {
    respond(first, 200, kTextPlain, std::move(open));
  } else {
    ws_ = first;
    eio_output o;
    o.what = eio_output::kind::ws_text;
    o.carrier = first;
    o.body = std::move(open);
    out_.push_back(std::move(o));
  }
}

void eio_session::respond(carrier_id c, int status, std::string_view type, std::string body) {
  eio_output o;
  o.what = eio_output::kind::respond;
  o.carrier = c;
  o.status = status;
  o.content_type = type;
  o.body = std::move(body);
  out_.push_back(std::move(o));
}

void eio_session::refuse(carrier_id c, eio_error e) {
  respond(c, eio_error_status(e), kJson, eio_error_body(e));
}

namespace {
eio_output frame(eio_output::kind k, carrier_id c, std::string body = {}) {
  eio_output o;
  o.what = k;
  o.carrier = c;
  o.body = std::move(body);
  return o;
}
}  // namespace

void eio_session::end(std::string reason, eio_type get_answer) {
  if (state_ == state::closed) return;
  if (held_get_) respond(held_get_, 200, kTextPlain, std::string(1, static_cast<char>(get_answer)));
  held_get_ = 0;
  if (ws_) out_.push_back(frame(eio_output::kind::ws_close, ws_));
  if (probe_) out_.push_back(frame(eio_output::kind::ws_close, probe_));
  ws_ = probe_ = 0;
  queue_.clear();
  buffered_bytes_ = 0;
  state_ = state::closed;
  out_.push_back(frame(eio_output::kind::closed, 0, std::move(reason)));
}

void eio_session::on_poll_get(carrier_id c, eio_clock::time_point now) {
  expire(now);
  if (state_ == state::closed) return refuse(c, eio_error::session_id_unknown);
  if (state_ == state::lingering) {
    respond(c, 200, kTextPlain, "6");
    return end("transport close", eio_type::noop);
  }
  if (transport_ != transport::polling) return refuse(c, eio_error::bad_request);
  if (held_get_) {
    refuse(c, eio_error::bad_request);
    return end("overlapping GET requests", eio_type::close);
  }
  held_get_ = c;  // answered by flush(): at once when something is queued or upgrading
}

bool eio_session::on_poll_post_begin(carrier_id c, std::optional<std::size_t> content_length,
                                     eio_clock::time_point now) {
  expire(now);
  if (state_ == state::closed || state_ == state::lingering) {
    refuse(c, eio_error::session_id_unknown);
    return false;
  }
  if (transport_ != transport::polling) {
    refuse(c, eio_error::bad_request);
    return false;
  }
  if (active_post_ && active_post_ != c) {
    refuse(c, eio_error::bad_request);
    end("overlapping POST requests", eio_type::close);
    return false;
  }
  if (content_length && *content_length > cfg_->max_payload) {
    respond(c, 413, kJson, eio_error_body(eio_error::bad_request));
    end("payload too large", eio_type::close);
    return false;
  }
  active_post_ = c;
  return true;
}

void eio_session::on_poll_post_body(carrier_id c, std::string_view body,
                                    eio_clock::time_point now) {
  expire(now);
  if (state_ == state::closed || state_ == state::lingering) {
    if (active_post_ == c) active_post_ = 0;
    return refuse(c, eio_error::session_id_unknown);
  }
  if (active_post_ != c && !on_poll_post_begin(c, body.size(), now)) return;
  active_post_ = 0;
  if (body.size() > cfg_->max_payload) {
    respond(c, 413, kJson, eio_error_body(eio_error::bad_request));
    return end("payload too large", eio_type::close);
  }
  std::vector<eio_packet> packets;
  if (!json_text::valid_utf8(body) || !decode_payload(body, packets)) {
    refuse(c, eio_error::bad_request);
    return end("parse error", eio_type::close);
  }
  for (const auto& p : packets) {
    if (p.type == eio_type::close) {
      respond(c, 200, kTextPlain, "ok");
      if (held_get_) return end("transport close", eio_type::noop);
      if (probe_) out_.push_back(frame(eio_output::kind::ws_close, probe_));
      cancel_upgrade();
      queue_.clear();
      buffered_bytes_ = 0;
      state_ = state::lingering;
      close_deadline_ = now + cfg_->ping_timeout;
      return;
    }
    on_packet(p, now);
  }
  respond(c, 200, kTextPlain, "ok");
}

void eio_session::on_packet(const eio_packet& p, eio_clock::time_point now) {
  switch (p.type) {
    case eio_type::pong:
      if (pong_deadline_ != eio_clock::time_point::max()) {
        pong_deadline_ = eio_clock::time_point::max();
        next_ping_ = now + cfg_->ping_interval;
      }
      break;
    case eio_type::message: {
      eio_output o;
      o.what = eio_output::kind::deliver;
      o.message = p;
      out_.push_back(std::move(o));
      break;
    }
    default:
      // open, ping (a v3 client's), upgrade and noop mean nothing on an established
      // transport; the reference server ignores them too.
      break;
  }
}

void eio_session::on_ws_open(carrier_id c, eio_clock::time_point now) {
  expire(now);
  if (state_ != state::open || transport_ != transport::polling || probe_) {
    // One WebSocket per session (README, "WebSocket"): the newcomer is closed.
    out_.push_back(frame(eio_output::kind::ws_close, c));
    return;
  }
  probe_ = c;
  probed_ = false;
  upgrade_deadline_ = now + cfg_->upgrade_timeout;
}

void eio_session::cancel_upgrade() {
  probe_ = 0;
  probed_ = false;
  upgrade_deadline_ = eio_clock::time_point::max();
}

void eio_session::on_probe_frame(carrier_id c, bool binary, std::string_view data,
                                 eio_clock::time_point now) {
  (void)now;
  if (!binary && !probed_ && data == "2probe") {
    probed_ = true;
    out_.push_back(frame(eio_output::kind::ws_text, c, "3probe"));
    return;  // flush() answers the held GET with a noop
  }
  if (!binary && probed_ && data == "5") {
    transport_ = transport::websocket;
    ws_ = c;
    cancel_upgrade();
    if (held_get_) respond(held_get_, 200, kTextPlain, "6");
    held_get_ = 0;
    return;  // flush() sends what is queued on the WebSocket
  }
  out_.push_back(frame(eio_output::kind::ws_close, c));
  cancel_upgrade();
}

void eio_session::on_ws_frame(carrier_id c, bool binary, std::string_view data,
                              eio_clock::time_point now) {
  expire(now);
  if (state_ == state::closed) return;
  if (state_ == state::lingering) {
    out_.push_back(frame(eio_output::kind::ws_close, c));
    return;
  }
  if (c == probe_) return on_probe_frame(c, binary, data, now);
  if (c != ws_) {
    out_.push_back(frame(eio_output::kind::ws_close, c));
    return;
  }
  if (data.size() > cfg_->max_payload) return end("payload too large", eio_type::close);
  if (binary) return on_packet(eio_packet::bytes(std::string(data)), now);
  eio_packet p;
  if (!decode_ws_text(data, p)) return end("parse error", eio_type::close);
  if (p.type == eio_type::close) return end("transport close", eio_type::noop);
  on_packet(p, now);
}

void eio_session::on_carrier_gone(carrier_id c, eio_clock::time_point now) {
  (void)now;
  if (state_ == state::closed || c == 0) return;
  if (c == held_get_) {
    held_get_ = 0;
    return end("poll connection closed prematurely", eio_type::close);
  }
  if (c == active_post_) active_post_ = 0;
  if (c == probe_) cancel_upgrade();
  if (c == ws_) {
    ws_ = 0;
    end("transport close", eio_type::close);
  }
}

void eio_session::on_tick(eio_clock::time_point now) {
  expire(now);
}

void eio_session::expire(eio_clock::time_point now) {
  if (state_ == state::closed) return;
  if (state_ == state::lingering) {
    if (close_deadline_ <= now) end("transport close", eio_type::noop);
    return;
  }
  // A ping counts as sent when it was due, not when a late timer or the next input got to
  // it: the session keeps protocol time however loaded the process is.
  if (state_ == state::open && pong_deadline_ == eio_clock::time_point::max() &&
      next_ping_ <= now) {
    queue_control(eio_packet::text(eio_type::ping));
    pong_deadline_ = next_ping_ + cfg_->ping_timeout;
  }
  if (pong_deadline_ <= now) return end("ping timeout", eio_type::close);
  if (state_ == state::closing && close_deadline_ <= now) {
    return end("server close", eio_type::close);
  }
  if (probe_ && upgrade_deadline_ <= now) {
    out_.push_back(frame(eio_output::kind::ws_close, probe_));
    cancel_upgrade();
  }
}

eio_clock::time_point eio_session::next_deadline() const noexcept {
  auto t = eio_clock::time_point::max();
  if (state_ == state::closed) return t;
  if (state_ == state::lingering) return close_deadline_;
  if (pong_deadline_ < t) t = pong_deadline_;
  if (probe_ && upgrade_deadline_ < t) t = upgrade_deadline_;
  if (state_ == state::closing && close_deadline_ < t) t = close_deadline_;
  if (state_ == state::open && pong_deadline_ == eio_clock::time_point::max() && next_ping_ < t)
    t = next_ping_;
  return t;
}

bool eio_session::send(eio_packet message) {
  if (state_ != state::open) return false;
  std::size_t size = message.data.size() + 1;
  if (buffered_bytes_ > 0 && buffered_bytes_ + size > cfg_->max_buffered_bytes) return false;
  buffered_bytes_ += size;
  queue_.push_back(std::move(message));
  return true;
}

void eio_session::queue_control(eio_packet p) {
  buffered_bytes_ += p.data.size() + 1;
  queue_.push_back(std::move(p));
}

void eio_session::close(eio_clock::time_point now) {
  if (state_ != state::open) return;
  state_ = state::closing;
  close_deadline_ = now + cfg_->ping_timeout;
  if (probe_) {
    out_.push_back(frame(eio_output::kind::ws_close, probe_));
    cancel_upgrade();
  }
  queue_control(eio_packet::text(eio_type::close));
}

void eio_session::flush() {
  if (state_ == state::closed || state_ == state::lingering) return;
  if (transport_ == transport::polling) {
    if (!held_get_) return;
    if (queue_.empty()) {
      // Upgrading: end the held GET so the client can send "5" (README, "Upgrade").
      if (probed_) {
        respond(held_get_, 200, kTextPlain, "6");
        held_get_ = 0;
      }
      return;
    }
    std::string body;
    bool closing = false;
    for (std::size_t i = 0; i < queue_.size(); ++i) {
      if (i) body += kRecordSeparator;
      append_payload_packet(body, queue_[i]);
      if (queue_[i].type == eio_type::close) closing = true;
    }
    std::vector<eio_packet>().swap(queue_);  // an idle polling session keeps no slots
    buffered_bytes_ = 0;
    respond(held_get_, 200, kTextPlain, std::move(body));
    held_get_ = 0;
    if (closing) end("server close", eio_type::close);
    return;
  }
  if (!ws_) return;
  std::vector<eio_packet> packets = std::exchange(queue_, {});
  buffered_bytes_ = 0;
  for (auto& p : packets) {
    if (p.type == eio_type::close)
      return end("server close", eio_type::close);  // closes the WebSocket; the rest is dropped
    if (p.binary) {
      out_.push_back(frame(eio_output::kind::ws_binary, ws_, std::move(p.data)));
    } else {
      out_.push_back(frame(eio_output::kind::ws_text, ws_, encode_ws_text(p)));
    }
  }
  buffered_bytes_ = 0;
}

std::vector<eio_output> eio_session::take_outputs() {
  flush();
  return std::exchange(out_, {});
}

}  // namespace cutover::sio
