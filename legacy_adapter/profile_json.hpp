#pragma once
// A JSON document that remembers where each value was written, for the legacy profile
// (docs/legacy-profiles.md): a mistake in a profile is reported with its file, line and
// field. Boost.JSON checks the grammar (and says where it broke); this builds an ordered
// tree over the checked text with the line of every key and value, keeps numbers as
// written (a profile's constants are copied into answers byte for byte) and refuses a key
// given twice in one object. Pure; no I/O.

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace cutover::legacy::pjson {

struct node;

struct member {
  std::string key;  // decoded
  int key_line = 0;
  std::unique_ptr<node> value;
};

struct node {
  enum class kind { null, boolean, number, string, array, object };
  kind type = kind::null;
  int line = 0;                 // 1-based line where the value starts
  std::string text;             // string: decoded; number: as written; boolean: true/false
  std::vector<member> members;  // object, in the order written
  std::vector<node> items;      // array

  bool is(kind k) const noexcept { return type == k; }
  // The member named `key`, or nullptr.
  const member* find(std::string_view key) const noexcept;
  // The value's compact JSON text: strings re-escaped, numbers as written, key order kept.
  std::string compact() const;
};

struct parse_error {
  int line = 0;
  std::string message;
};

// Limits a profile stays far below; input beyond them is refused, not truncated.
inline constexpr std::size_t kMaxDocumentBytes = 1 << 20;
inline constexpr std::size_t kMaxDepth = 32;

std::variant<node, parse_error> parse(std::string_view text);

// "object", "string", ... for messages.
std::string_view kind_name(node::kind k) noexcept;

}  // namespace cutover::legacy::pjson
