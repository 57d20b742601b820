#pragma once
// How the app plugs a legacy endpoint into the HTTP server without the server knowing
// its wire format (the legacy adapter implements `route`). Everything here runs on the
// connection's I/O thread.

#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/verb.hpp>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/notification.hpp"
#include "net/context.hpp"
#include "net/http_util.hpp"

namespace cutover::net {

struct request_view {
  boost::beast::http::verb method;
  std::string_view target;
  std::string_view path;
  const query_params& query;
  const boost::beast::http::fields& headers;
};

// Who is asking, resolved by the server's auth before the route runs.
struct caller {
  std::string user;
  topic_list topics;  // user:<id> plus the shared topics
};

struct wait_spec {
  stream_id after;
  std::size_t limit;
};

struct wait_result {
  notification_batch entries;               // after the cursor, id order, at most the limit
  bool expired = false;                     // retention removed entries after the cursor
  std::optional<stream_id> pruned_through;  // when expired: newest id removed
  std::optional<stream_id> rewound_to;      // expired inside a range Redis lost: read after this
  bool shutting_down = false;               // answer now with what you have (SIGTERM)
  int error_status = 0;                     // non-zero: answer with this status (e.g. 503)
  std::string error;
};

// The HTTP exchange a route answers. Exactly one respond() per request.
class exchange {
 public:
  virtual ~exchange() = default;
  // Answers at once when entries after `spec.after` exist (or the cursor expired);
  // otherwise waits for an arrival or --poll-timeout (then entries is empty). `done`
  // runs once on this thread, and not at all if the client went away.
  virtual void wait_for(const wait_spec& spec, std::function<void(wait_result)> done) = 0;
  // `content_type` empty: no Content-Type (an empty body, e.g. 204).
  virtual void respond(int status, std::string body, std::vector<header> extra = {},
                       std::string_view content_type = "application/json") = 0;
  // The notifications the next respond() carries (for the delivery-latency histogram,
  // recorded once the answer is written). Optional: an answer without it records nothing.
  virtual void delivering(std::span<const notification_ptr> sent) = 0;
  // This instance's newest id (nullopt when the store is empty).
  virtual std::optional<stream_id> head() const = 0;
};

class route {
 public:
  virtual ~route() = default;
  virtual void handle(const request_view& req, const caller& who, exchange& ex) = 0;
  // The one method the route answers (others get 405).
  virtual boost::beast::http::verb method() const { return boost::beast::http::verb::get; }
  // What a connection is counted as while this route serves it (a page: http).
  virtual transport counted_as() const { return transport::http; }
  // The server refused the request before handle() (no identity: 401; auth backend down:
  // 503); the route answers in its own format. `reason` says why, for the body.
  virtual void refused(int status, std::string_view reason, exchange& ex);
};

}  // namespace cutover::net
