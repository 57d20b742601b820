#pragma once
// The Socket.IO notification event (DESIGN §6.2) pre-framed for the WebSocket transport: one
// unmasked WebSocket text frame holding the Engine.IO message type `4` and the Socket.IO
// event `2["notification",<§5 notification>,"<id>"]`. Nothing in it depends on the recipient
// (the trailing recovery offset is the notification's own id, the namespace is always "/"),
// so it is rendered once per notification (wire_slot::socketio) and every session writes
// the same bytes. A session that is polling, or whose upgrade is not finished, takes the
// Socket.IO packet back out of the frame (`sio_frame_packet`) and queues it in its Engine.IO
// session as before.

#include <string>
#include <string_view>

#include "core/notification.hpp"

namespace cutover::sio {

// The shared frame of `n` (owned by `n`; the same object for every caller).
const std::string& sio_notification_frame(const notification& n);

// True for bytes that start a frame made by sio_notification_frame (FIN + text opcode):
// Socket.IO packets start with a type digit and the push session's end marker with NUL, so
// the first byte tells them apart.
inline bool is_sio_ws_frame(std::string_view bytes) noexcept {
  return !bytes.empty() && static_cast<unsigned char>(bytes[0]) == 0x81;
}

// The Socket.IO packet inside such a frame (`2[...]`, without the header and the `4`).
std::string_view sio_frame_packet(std::string_view frame) noexcept;

}  // namespace cutover::sio
