#!/usr/bin/env python3
"""GRIP origin behind Pushpin for tools/bench/run.sh (issue 6).

Pushpin holds connections on behalf of an origin that tells it what to do:
  GET  /lp/<channel>   -> answer with Grip-Hold: response, Grip-Channel: <channel>
                          (a held long-poll, released by a publish with an
                          http-response format; on timeout Pushpin sends this body)
  POST /ws/<channel>   -> WebSocket-over-HTTP (route option over_http): answer
                          OPEN with OPEN plus a "c:" control message subscribing the
                          connection to <channel>; later events (TEXT, PING, CLOSE)
                          are acknowledged with nothing, or CLOSE with CLOSE.

Prints "grip: listening on http://127.0.0.1:<port>" once bound.
Usage: grip_origin.py PORT
"""

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def ws_event(name, content=None):
    if content is None:
        return name.encode() + b"\r\n"
    data = content.encode()
    return name.encode() + b" " + format(len(data), "x").encode() + b"\r\n" + data + b"\r\n"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet: thousands of connections
        pass

    def channel(self, prefix):
        path = self.path.split("?", 1)[0]
        return path[len(prefix):] if path.startswith(prefix) else None

    def reply(self, status, headers, body):
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        ch = self.channel("/lp/")
        if not ch:
            return self.reply(404, {}, b"")
        self.reply(200, {"Content-Type": "application/json", "Grip-Hold": "response",
                         "Grip-Channel": ch, "Grip-Timeout": "3600"}, b"{}\n")

    def do_POST(self):
        ch = self.channel("/ws/")
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if not ch or self.headers.get("Content-Type", "") != "application/websocket-events":
            return self.reply(404, {}, b"")
        out = b""
        if body.startswith(b"OPEN"):
            out += ws_event("OPEN")
            out += ws_event("TEXT", "c:" + json.dumps({"type": "subscribe", "channel": ch}))
        elif b"CLOSE" in body:
            out += ws_event("CLOSE")
        self.reply(200, {"Content-Type": "application/websocket-events",
                         "Sec-WebSocket-Extensions": "grip"}, out)


class Server(ThreadingHTTPServer):
    request_queue_size = 4096  # the default listen backlog of 5 turns a connect burst into 502s
    daemon_threads = True


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    srv = Server(("127.0.0.1", port), Handler)
    print(f"grip: listening on http://127.0.0.1:{srv.server_address[1]}", flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
