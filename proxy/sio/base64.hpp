#pragma once
// Standard base64 (RFC 4648 §4, with padding) for Engine.IO's binary packets in polling
// payloads ("b<base64>"). Pure functions, any thread.

#include <optional>
#include <string>
#include <string_view>

namespace cutover::sio {

std::string base64_encode(std::string_view bytes);

// Strict: padded to a multiple of 4, alphabet A-Z a-z 0-9 + /, '=' only at the end, unused
// bits zero. nullopt for anything else (client input is refused, never guessed at).
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace cutover::sio
