// HTTP/1.1 request framing: net::parse_some and net::framing_of, driven the way
// http_session::consume drives them on a keep-alive connection (requests one after the
// other, bytes in whatever pieces the socket returns, the unconsumed rest presented again
// with more). This is the code that decides where a request's body ends.
//
// Invariants:
// - chunking does not matter: fed in random splits, the connection yields the same
//   requests (method, target, body) and ends the same way as when fed everything at once.
//   One allowance, found by this fuzzer: Beast notices some malformed bytes in a header
//   not yet complete (a `\r` after `\r\n` followed by anything but `\n`) only when they
//   arrive in one piece, so a parse error may come at once or only later. When either
//   side ends in a parse error, the requests completed by one are a prefix of the other's;
//   otherwise everything matches, framing refusals (400/501) included;
// - a request whose header has a Transfer-Encoding is completed only when its codings end
//   in exactly one `chunked`, with no Content-Length, in HTTP/1.1 (else it is refused
//   before its body, and nothing after it is read as a request);
// - a request with a Content-Length has exactly that many body bytes; no body is over
//   the limit; consumed bytes never exceed the input.

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "fuzz_support.hpp"
#include "net/http_framing.hpp"

namespace cutover::fuzz {
namespace {
namespace http = boost::beast::http;

struct request_seen {
  std::string method, target, body;
  bool operator==(const request_seen&) const = default;
};
struct outcome {
  std::vector<request_seen> requests;
  int refused = 0;  // the framing refusal's status, or -1 for a parse error, 0: input ran out
  bool operator==(const outcome&) const = default;
};

bool ends_in_one_chunked(const net::request_parser& p) {
  std::string codings;
  for (const auto& f : p.get())
    if (f.name() == http::field::transfer_encoding) {
      codings += std::string_view(f.value());
      codings += ',';
    }
  // The last non-empty element is chunked and it is the only chunked: check_framing's
  // rule restated on the raw text, independently of its loop.
  std::vector<std::string> toks;
  std::string cur;
  for (char c : codings) {
    if (c == ',') {
      std::size_t a = cur.find_first_not_of(" \t"), b = cur.find_last_not_of(" \t");
      if (a != std::string::npos) toks.push_back(net::ascii_lower(cur.substr(a, b - a + 1)));
      cur.clear();
    } else {
      cur += c;
    }
  }
  std::size_t chunked = 0;
  for (const auto& t : toks) chunked += t == "chunked";
  return toks.size() == 1 && chunked == 1;
}

outcome run(std::string_view wire, std::size_t max_body, byte_reader* splits) {
  outcome out;
  std::string rx;  // what the session keeps between reads
  std::size_t fed = 0;
  std::unique_ptr<net::request_parser> p;
  bool header_seen = false;
  while (true) {
    if (fed < wire.size()) {
      std::size_t n = wire.size() - fed;
      if (splits && !splits->empty()) n = std::min<std::size_t>(n, 1 + splits->u8() % 64);
      rx.append(wire.substr(fed, n));
      fed += n;
    } else if (rx.empty()) {
      return out;
    }
    bool progress = true;
    while (progress) {
      progress = false;
      if (!p) {
        if (rx.empty()) break;
        p = net::new_request_parser(1024, max_body);
        header_seen = false;
      }
      auto st = net::parse_some(*p, rx, header_seen);
      FUZZ_CHECK(st.used <= rx.size());
      rx.erase(0, st.used);
      switch (st.stop) {
        case net::parse_stop::error:
          out.refused = -1;
          return out;
        case net::parse_stop::header:
          if (auto bad = net::framing_of(*p)) {
            FUZZ_CHECK(bad->status == 400 || bad->status == 501);
            out.refused = bad->status;
            return out;  // the session answers and closes: nothing more is a request
          }
          progress = true;
          break;
        case net::parse_stop::done: {
          const auto& req = p->get();
          FUZZ_CHECK(header_seen);
          FUZZ_CHECK(req.body().size() <= max_body);
          if (req.find(http::field::transfer_encoding) != req.end()) {
            FUZZ_CHECK(ends_in_one_chunked(*p));
            FUZZ_CHECK(req.find(http::field::content_length) == req.end());
            FUZZ_CHECK(req.version() == 11);
          } else if (auto cl = p->content_length()) {
            FUZZ_CHECK(req.body().size() == *cl);
          } else {
            FUZZ_CHECK(req.body().empty());
          }
          out.requests.push_back(
              {std::string(req.method_string()), std::string(req.target()), req.body()});
          p.reset();
          progress = true;
          break;
        }
        case net::parse_stop::need_more:
          break;
      }
    }
    if (fed == wire.size()) return out;  // input ran out: the rest is an unfinished request
  }
}

}  // namespace
}  // namespace cutover::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace cutover;
  fuzz::byte_reader in(data, size);
  std::size_t max_body = in.u8() * 16u;
  std::uint32_t split_bytes = in.u8();
  auto s = in.bytes(split_bytes);
  fuzz::byte_reader splits(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
  std::string_view wire = in.rest();
  auto whole = fuzz::run(wire, max_body, nullptr);
  auto pieces = fuzz::run(wire, max_body, &splits);
  if (whole.refused == -1 || pieces.refused == -1) {
    const auto& a = whole.requests.size() <= pieces.requests.size() ? whole : pieces;
    const auto& b = &a == &whole ? pieces : whole;
    FUZZ_CHECK(std::equal(a.requests.begin(), a.requests.end(), b.requests.begin()));
  } else {
    if (!(whole == pieces))
      std::fprintf(stderr, "whole: %zu requests, end %d; pieces: %zu requests, end %d\n",
                   whole.requests.size(), whole.refused, pieces.requests.size(), pieces.refused);
    FUZZ_CHECK(whole == pieces);
  }
  return 0;
}
