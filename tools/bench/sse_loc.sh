#!/usr/bin/env bash
# Lines of code SSE adds on the push-session seam (issue 13): its codec, its route
# handlers, and the one-line hooks (route table row, transport row, options, flags).
# Non-blank, non-comment lines. A figure, not a test.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
count() { grep -v -E '^\s*(//.*)?$' | wc -l; }
codec=$(cat "$root/proxy/net/sse_codec.hpp" "$root/proxy/net/sse_codec.cpp" | count)
route=$(awk '/http_session::cors_headers\(\) const \{/,0' "$root/proxy/net/http_push.cpp" | count)
hooks=$(cat "$root"/proxy/net/*.cpp "$root"/proxy/net/*.hpp "$root/proxy/app/cmd_serve.cpp" |
  grep -E 'sse_path|sse_keepalive|sse_retry|transport::sse|route_kind::events|next_step::sse|sse_shed|"--sse-' |
  grep -v -E 'sse_codec|http_push' | count)
echo "sse codec: $codec lines; route (preflight, shed, start): $route lines; hooks elsewhere: $hooks lines"
echo "total for SSE on the seam: $((codec + route + hooks)) lines (the delivery engine it reuses: $(cat "$root/proxy/net/push_session.hpp" "$root/proxy/net/push_session.cpp" | count) lines)"
