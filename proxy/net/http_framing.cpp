#include "net/http_framing.hpp"

#include <boost/beast/http/error.hpp>
#include <vector>

namespace cutover::net {
namespace http = boost::beast::http;

std::unique_ptr<request_parser> new_request_parser(std::size_t max_header, std::size_t max_body) {
  auto p = std::make_unique<request_parser>();
  p->header_limit(static_cast<std::uint32_t>(max_header));
  p->body_limit(max_body);
  p->eager(false);  // stop after the header; eager again once it is judged
  return p;
}

parse_step parse_some(request_parser& p, std::string_view in, bool& header_seen) {
  parse_step st;
  while (true) {
    if (!header_seen && p.is_header_done()) {
      header_seen = true;
      p.eager(true);
      st.stop = parse_stop::header;
      return st;
    }
    if (p.is_done()) {
      st.stop = parse_stop::done;
      return st;
    }
    if (st.used == in.size()) return st;  // need_more
    st.used += p.put(boost::asio::buffer(in.data() + st.used, in.size() - st.used), st.ec);
    if (st.ec == http::error::need_more) {
      st.ec = {};
      return st;
    }
    if (st.ec) {
      st.stop = parse_stop::error;
      return st;
    }
  }
}

std::optional<framing_refusal> framing_of(const request_parser& p) {
  const auto& req = p.get();
  std::vector<std::string_view> te;
  for (const auto& f : req)
    if (f.name() == http::field::transfer_encoding) te.emplace_back(f.value());
  return check_framing(te, req.find(http::field::content_length) != req.end(), req.version());
}

}  // namespace cutover::net
