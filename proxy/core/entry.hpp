#pragma once
// Decoding an incoming entry (a Redis stream entry's fields, a pub/sub message, an HTTP
// publish body) into what the store keeps, or a reason it cannot be kept. Pure: no I/O.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cutover {

struct entry_limits {
  std::size_t max_payload = 64 * 1024;  // bytes of `data` as published
  std::size_t max_topic = 256;
  std::size_t max_type = 128;
  std::size_t max_key = 256;
};

// What the store keeps for one entry, before it has an id.
struct decoded_entry {
  std::string topic;
  std::string type;
  std::string data;  // compact JSON
  std::optional<std::string> key;
};

struct decode_result {
  std::optional<decoded_entry> entry;
  std::string reason;  // set when !entry: why the entry went to dead letters
};

using field_list = std::vector<std::pair<std::string, std::string>>;

// Stream entry fields `topic` (required), `data` (required JSON), `type`, `key`;
// other fields (e.g. `replayOf`) are ignored.
decode_result decode_stream_fields(const field_list& fields, const entry_limits& lim);

// Pub/sub: channel suffix is the topic; message is {"type":..,"data":..} or any other
// JSON value (then type is empty and the whole value is data).
decode_result decode_pubsub_message(std::string_view topic, std::string_view message,
                                    const entry_limits& lim);

// HTTP publish body (DESIGN §8): {"topic":"..","type":"..","data":<json>,"key":".."};
// `data` keeps the publisher's spelling; the rest is checked as for a stream entry.
decode_result decode_publish_body(std::string_view body, const entry_limits& lim);

// Checks a topic name: non-empty, bounded, valid UTF-8, no control characters.
std::optional<std::string> topic_problem(std::string_view topic, const entry_limits& lim);

// Renders the raw entry for the dead-letter table (JSON object of the fields, with
// bytes that are not UTF-8 replaced), bounded to `max_bytes`.
std::string raw_fields_json(const field_list& fields, std::size_t max_bytes = 4096);

}  // namespace cutover
