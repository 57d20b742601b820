#pragma once
// Socket.IO v5 packets (the protocol of Socket.IO 3 and 4, over Engine.IO 4), as the
// socket.io-protocol README encodes them:
//   <type>[<attachments>-][<namespace>,][<ack id>][<JSON payload>]
// followed, for BINARY_EVENT / BINARY_ACK, by that many binary Engine.IO messages that
// replace the payload's {"_placeholder":true,"num":N} objects. Pure functions and a
// per-connection reader; no I/O.

#include <boost/json/value.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cutover::sio {

enum class sio_type : int {
  connect = 0,
  disconnect = 1,
  event = 2,
  ack = 3,
  connect_error = 4,
  binary_event = 5,
  binary_ack = 6,
};

struct sio_packet {
  sio_type type = sio_type::event;
  std::string nsp = "/";
  std::optional<std::uint64_t> id;  // ack id (EVENT asks for one, ACK answers it)
  std::size_t attachments = 0;      // binary types only
  std::string data;                 // the JSON payload as text (compact), empty when absent
  boost::json::value json;          // the same payload parsed (decode only; null when absent)
};

// Largest ack id accepted: exact in a JavaScript number, as the clients count them.
inline constexpr std::uint64_t kMaxAckId = (std::uint64_t{1} << 53) - 1;

// The text part of a packet. `data` is written as given (the caller's pre-rendered JSON).
std::string encode_sio(const sio_packet& p);
void append_sio(std::string& out, const sio_packet& p);

// Decodes the text part, with the reference parser's checks: a known type, an attachment
// count ending in '-' for binary types, an ack id of digits, and a payload that is valid
// JSON of the shape the type requires (CONNECT: an object or nothing; DISCONNECT: nothing;
// CONNECT_ERROR: an object or string; EVENT: a non-empty array whose first element is a
// non-reserved event name or a number; ACK: an array). nullopt and `why` otherwise.
std::optional<sio_packet> decode_sio(std::string_view text, std::string* why = nullptr);

// True for the event names only Socket.IO itself may use ("connect", "disconnect", ...).
bool reserved_event(std::string_view name);

// Reassembles packets from a connection's Engine.IO messages: a text message is a packet,
// or the header of a binary one whose attachments are the next binary messages. Not
// thread-safe; one per connection.
class sio_reader {
 public:
  explicit sio_reader(std::size_t max_attachments = 16) : max_attachments_(max_attachments) {}

  enum class status { packet, need_more, error };
  // On `packet`, packet() and attachments() hold it until the next feed.
  status feed(bool binary, std::string_view data);

  sio_packet& packet() { return packet_; }
  std::vector<std::string>& attachments() { return attachments_; }
  const std::string& error() const { return error_; }

 private:
  status fail(std::string why);

  std::size_t max_attachments_;
  bool awaiting_ = false;
  sio_packet packet_;
  std::vector<std::string> attachments_;
  std::string error_;
};

}  // namespace cutover::sio
