#include "core/notification.hpp"

#include <charconv>

#include "core/json_text.hpp"

namespace cutover {

std::size_t notification::footprint() const noexcept {
  // A stable estimate (renderings appear lazily): the fields, plus room for about two
  // renderings of data with their framing, so cache budgets hold once they exist.
  return sizeof(notification) + topic.size() + type.size() + 3 * data.size() + 384;
}

std::string render_notification_json(const notification& n) {
  std::string out;
  out.reserve(n.data.size() + n.topic.size() + n.type.size() + 128);
  out.append(R"({"type":"notification","id":")");
  out.append(n.id.str());
  out.append(R"(","legacyId":)");
  char num[24];
  out.append(num, std::to_chars(num, num + sizeof num, n.legacy_id()).ptr);
  out.append(R"(,"topic":)");
  json_text::append_quoted(out, n.topic);
  out.append(R"(,"event":)");
  json_text::append_quoted(out, n.type);
  out.append(R"(,"createdAt":")");
  out.append(iso8601_utc(n.created_ms()));
  out.append(R"(","data":)");
  out.append(n.data);
  out.push_back('}');
  return out;
}

std::size_t ws_frame_header(unsigned char opcode, std::uint64_t len,
                            unsigned char out[10]) noexcept {
  out[0] = static_cast<unsigned char>(0x80 | (opcode & 0x0F));
  if (len < 126) {
    out[1] = static_cast<unsigned char>(len);
    return 2;
  }
  if (len <= 0xFFFF) {
    out[1] = 126;
    out[2] = static_cast<unsigned char>(len >> 8);
    out[3] = static_cast<unsigned char>(len);
    return 4;
  }
  out[1] = 127;
  for (int i = 0; i < 8; ++i) out[2 + i] = static_cast<unsigned char>(len >> (56 - 8 * i));
  return 10;
}

std::string make_ws_frame(unsigned char opcode, std::string_view payload) {
  unsigned char hdr[10];
  std::size_t h = ws_frame_header(opcode, payload.size(), hdr);
  std::string out;
  out.reserve(h + payload.size());
  out.append(reinterpret_cast<const char*>(hdr), h);
  out.append(payload);
  return out;
}

const std::string& ws_frame(const notification& n) {
  return n.rendered(wire_slot::ws_frame, [](const notification& x) {
    return make_ws_frame(0x1, render_notification_json(x));
  });
}

std::string_view ws_frame_json(const notification& n) {
  std::string_view f = ws_frame(n);
  std::size_t skip = (static_cast<unsigned char>(f[1]) & 0x7F) == 127   ? 10
                     : (static_cast<unsigned char>(f[1]) & 0x7F) == 126 ? 4
                                                                        : 2;
  return f.substr(skip);
}

}  // namespace cutover
