#include "sio/sio_packet.hpp"

#include <array>
#include <boost/json/parse.hpp>

#include "core/json_text.hpp"

namespace cutover::sio {
namespace {

bool set_why(std::string* why, std::string_view msg) {
  if (why) *why = msg;
  return false;
}

bool payload_fits(sio_type t, const std::optional<boost::json::value>& v) {
  switch (t) {
    case sio_type::connect:
      return !v || v->is_object();
    case sio_type::disconnect:
      return !v;
    case sio_type::connect_error:
      return v && (v->is_object() || v->is_string());
    case sio_type::event:
    case sio_type::binary_event: {
      if (!v || !v->is_array() || v->get_array().empty()) return false;
      const auto& first = v->get_array().front();
      if (first.is_string()) return !reserved_event(first.get_string());
      return first.is_number();
    }
    case sio_type::ack:
    case sio_type::binary_ack:
      return v && v->is_array();
  }
  return false;
}

// Every placeholder must name an attachment that exists (the reference parser throws
// "illegal attachments" otherwise).
bool placeholders_fit(const boost::json::value& v, std::size_t attachments) {
  if (v.is_array()) {
    for (const auto& e : v.get_array())
      if (!placeholders_fit(e, attachments)) return false;
    return true;
  }
  if (!v.is_object()) return true;
  const auto& o = v.get_object();
  if (auto* ph = o.if_contains("_placeholder"); ph && ph->is_bool() && ph->get_bool()) {
    auto* num = o.if_contains("num");
    if (!num) return false;
    if (num->is_int64())
      return num->get_int64() >= 0 && std::size_t(num->get_int64()) < attachments;
    if (num->is_uint64()) return num->get_uint64() < attachments;
    return false;
  }
  for (const auto& kv : o)
    if (!placeholders_fit(kv.value(), attachments)) return false;
  return true;
}

}  // namespace

bool reserved_event(std::string_view name) {
  static constexpr std::array<std::string_view, 6> kReserved = {
      "connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"};
  for (auto r : kReserved)
    if (r == name) return true;
  return false;
}

void append_sio(std::string& out, const sio_packet& p) {
  out += static_cast<char>('0' + static_cast<int>(p.type));
  if (p.type == sio_type::binary_event || p.type == sio_type::binary_ack) {
    out += std::to_string(p.attachments);
    out += '-';
  }
  if (!p.nsp.empty() && p.nsp != "/") {
    out += p.nsp;
    out += ',';
  }
  if (p.id) out += std::to_string(*p.id);
  out += p.data;
}

std::string encode_sio(const sio_packet& p) {
  std::string out;
  out.reserve(8 + p.nsp.size() + p.data.size());
  append_sio(out, p);
  return out;
}

std::optional<sio_packet> decode_sio(std::string_view s, std::string* why) {
  sio_packet p;
  if (s.empty() || s[0] < '0' || s[0] > '6') {
    set_why(why, "unknown packet type");
    return std::nullopt;
  }
  p.type = static_cast<sio_type>(s[0] - '0');
  std::size_t i = 1;
  if (p.type == sio_type::binary_event || p.type == sio_type::binary_ack) {
    std::size_t start = i;
    std::size_t n = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9' && i - start < 6) n = n * 10 + (s[i++] - '0');
    if (i == start || i >= s.size() || s[i] != '-') {
      set_why(why, "illegal attachments");
      return std::nullopt;
    }
    ++i;
    p.attachments = n;
  }
  if (i < s.size() && s[i] == '/') {
    std::size_t comma = s.find(',', i);
    if (comma == std::string_view::npos) {
      p.nsp = std::string(s.substr(i));
      i = s.size();
    } else {
      p.nsp = std::string(s.substr(i, comma - i));
      i = comma + 1;
    }
  }
  if (i < s.size() && s[i] >= '0' && s[i] <= '9') {
    std::uint64_t id = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      id = id * 10 + std::uint64_t(s[i++] - '0');
      if (id > kMaxAckId) {
        set_why(why, "ack id too large");
        return std::nullopt;
      }
    }
    p.id = id;
  }
  std::optional<boost::json::value> payload;
  std::optional<std::string> compact;
  if (i < s.size()) {
    // The text is kept as the client wrote it (compacted), the parse is for the checks.
    compact = json_text::validate_and_compact(s.substr(i));
    boost::system::error_code ec;
    boost::json::value v;
    if (compact) v = boost::json::parse(*compact, ec);
    if (!compact || ec) {
      set_why(why, "invalid payload");
      return std::nullopt;
    }
    payload = std::move(v);
  }
  if (!payload_fits(p.type, payload)) {
    set_why(why, "invalid payload");
    return std::nullopt;
  }
  if (payload) {
    if (p.attachments && !placeholders_fit(*payload, p.attachments)) {
      set_why(why, "illegal attachments");
      return std::nullopt;
    }
    p.data = std::move(*compact);
    p.json = std::move(*payload);
  }
  return p;
}

sio_reader::status sio_reader::fail(std::string why) {
  error_ = std::move(why);
  awaiting_ = false;
  attachments_.clear();
  return status::error;
}

sio_reader::status sio_reader::feed(bool binary, std::string_view data) {
  if (awaiting_) {
    if (!binary) return fail("got plain text while reconstructing a binary packet");
    attachments_.emplace_back(data);
    if (attachments_.size() < packet_.attachments) return status::need_more;
    awaiting_ = false;
    return status::packet;
  }
  if (binary) return fail("unexpected binary attachment");
  attachments_.clear();
  auto p = decode_sio(data, &error_);
  if (!p) return status::error;
  if (p->attachments > max_attachments_) return fail("too many attachments");
  packet_ = std::move(*p);
  if (packet_.attachments == 0) return status::packet;
  awaiting_ = true;
  return status::need_more;
}

}  // namespace cutover::sio
