#include "legacy_adapter/profile_json.hpp"

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/stream_parser.hpp>
#include <optional>

#include "core/json_text.hpp"

namespace cutover::legacy::pjson {
namespace {

int line_at(std::string_view text, std::size_t offset) {
  offset = std::min(offset, text.size());
  return 1 +
         static_cast<int>(std::count(text.begin(), text.begin() + static_cast<long>(offset), '\n'));
}

// Walks text Boost.JSON has already accepted, so it only has to find the boundaries of
// tokens, never to judge them.
class tree_builder {
 public:
  explicit tree_builder(std::string_view t) : t_(t) {}

  std::variant<node, parse_error> run() {
    node root;
    if (auto err = value(root)) return *err;
    return root;
  }

 private:
  void skip_ws() {
    while (i_ < t_.size()) {
      char c = t_[i_];
      if (c == '\n') {
        ++line_;
      } else if (c != ' ' && c != '\t' && c != '\r') {
        return;
      }
      ++i_;
    }
  }

  // The string token at i_ (opening quote), decoded; i_ ends past the closing quote.
  std::string string_token() {
    std::size_t start = i_;
    for (++i_; i_ < t_.size() && t_[i_] != '"'; ++i_)
      if (t_[i_] == '\\') ++i_;
    ++i_;
    std::string_view raw = t_.substr(start, i_ - start);
    if (raw.find('\\') == std::string_view::npos) return std::string(raw.substr(1, raw.size() - 2));
    // Escapes (\uXXXX and surrogate pairs included) are decoded by Boost.JSON itself.
    return std::string(boost::json::parse(raw).as_string());
  }

  std::optional<parse_error> value(node& out) {
    skip_ws();
    out.line = line_;
    char c = t_[i_];
    if (c == '{') {
      out.type = node::kind::object;
      ++i_;
      skip_ws();
      if (t_[i_] == '}') {
        ++i_;
        return std::nullopt;
      }
      while (true) {
        skip_ws();
        member m;
        m.key_line = line_;
        m.key = string_token();
        for (const auto& prev : out.members)
          if (prev.key == m.key)
            return parse_error{m.key_line, "key \"" + m.key + "\" is given twice (first on line " +
                                               std::to_string(prev.key_line) + ")"};
        skip_ws();
        ++i_;  // ':'
        m.value = std::make_unique<node>();
        if (auto err = value(*m.value)) return err;
        out.members.push_back(std::move(m));
        skip_ws();
        if (t_[i_++] == '}') return std::nullopt;  // else ','
      }
    }
    if (c == '[') {
      out.type = node::kind::array;
      ++i_;
      skip_ws();
      if (t_[i_] == ']') {
        ++i_;
        return std::nullopt;
      }
      while (true) {
        out.items.emplace_back();
        if (auto err = value(out.items.back())) return err;
        skip_ws();
        if (t_[i_++] == ']') return std::nullopt;
      }
    }
    if (c == '"') {
      out.type = node::kind::string;
      out.text = string_token();
      return std::nullopt;
    }
    std::size_t start = i_;
    while (i_ < t_.size() && std::string_view(" \t\r\n,]}").find(t_[i_]) == std::string_view::npos)
      ++i_;
    out.text = std::string(t_.substr(start, i_ - start));
    if (out.text == "null")
      out.type = node::kind::null;
    else if (out.text == "true" || out.text == "false")
      out.type = node::kind::boolean;
    else
      out.type = node::kind::number;
    return std::nullopt;
  }

  std::string_view t_;
  std::size_t i_ = 0;
  int line_ = 1;
};

void append_compact(const node& n, std::string& out) {
  switch (n.type) {
    case node::kind::null:
    case node::kind::boolean:
    case node::kind::number:
      out += n.text;
      return;
    case node::kind::string:
      json_text::append_quoted(out, n.text);
      return;
    case node::kind::array:
      out += '[';
      for (std::size_t k = 0; k < n.items.size(); ++k) {
        if (k) out += ',';
        append_compact(n.items[k], out);
      }
      out += ']';
      return;
    case node::kind::object:
      out += '{';
      for (std::size_t k = 0; k < n.members.size(); ++k) {
        if (k) out += ',';
        json_text::append_quoted(out, n.members[k].key);
        out += ':';
        append_compact(*n.members[k].value, out);
      }
      out += '}';
      return;
  }
}

}  // namespace

const member* node::find(std::string_view key) const noexcept {
  for (const auto& m : members)
    if (m.key == key) return &m;
  return nullptr;
}

std::string node::compact() const {
  std::string out;
  append_compact(*this, out);
  return out;
}

std::string_view kind_name(node::kind k) noexcept {
  switch (k) {
    case node::kind::null:
      return "null";
    case node::kind::boolean:
      return "a boolean";
    case node::kind::number:
      return "a number";
    case node::kind::string:
      return "a string";
    case node::kind::array:
      return "an array";
    case node::kind::object:
      return "an object";
  }
  return "?";
}

std::variant<node, parse_error> parse(std::string_view text) {
  if (text.size() > kMaxDocumentBytes)
    return parse_error{1, "larger than " + std::to_string(kMaxDocumentBytes) + " bytes"};
  boost::json::parse_options opt;
  opt.max_depth = kMaxDepth;
  boost::json::stream_parser p({}, opt);
  boost::system::error_code ec;
  std::size_t used = p.write_some(text.data(), text.size(), ec);
  if (!ec && text.substr(used).find_first_not_of(" \t\r\n") != std::string_view::npos)
    ec = boost::json::error::extra_data;
  if (!ec) p.finish(ec);
  if (ec) return parse_error{line_at(text, used), "not valid JSON: " + ec.message()};
  return tree_builder(text).run();
}

}  // namespace cutover::legacy::pjson
