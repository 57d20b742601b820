#include "net/metrics.hpp"

namespace cutover::net {

const char* transport_label(transport t) {
  switch (t) {
    case transport::longpoll:
      return "longpoll";
    case transport::websocket:
      return "websocket";
    case transport::http:
      return "http";
  }
  return "?";
}

metrics& global_metrics() {
  static metrics m;
  return m;
}

}  // namespace cutover::net
