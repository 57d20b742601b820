#include "sio/sio_frame.hpp"

namespace cutover::sio {

const std::string& sio_notification_frame(const notification& n) {
  return n.rendered(wire_slot::socketio, [](const notification& x) {
    std::string json = render_notification_json(x);
    std::string id = x.id.str();
    // 4 + 2["notification", + json + ,"id"]
    constexpr std::string_view head = R"(42["notification",)";
    std::size_t payload = head.size() + json.size() + 2 + id.size() + 2;
    unsigned char hdr[10];
    std::size_t h = ws_frame_header(0x1, payload, hdr);
    std::string out;
    out.reserve(h + payload);
    out.append(reinterpret_cast<const char*>(hdr), h);
    out.append(head);
    out.append(json);
    out.append(",\"");
    out.append(id);
    out.append("\"]");
    return out;
  });
}

std::string_view sio_frame_packet(std::string_view frame) noexcept {
  if (frame.size() < 2) return {};
  unsigned len7 = static_cast<unsigned char>(frame[1]) & 0x7F;
  std::size_t skip = len7 == 127 ? 10 : len7 == 126 ? 4 : 2;
  if (frame.size() <= skip) return {};
  return frame.substr(skip + 1);  // and the Engine.IO type `4`
}

}  // namespace cutover::sio
