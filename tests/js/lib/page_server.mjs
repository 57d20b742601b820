// A tiny HTTP server on 127.0.0.1:0 that serves one HTML page: "another site" for the
// cross-origin tests (same host, another port: another origin, the same site, so the
// browser sends the victim's cookies, exactly the hijacking setup).
import http from 'node:http';

export function servePage(html, port = 0) {
  return new Promise((resolve) => {
    const srv = http.createServer((req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
      res.end(html);
    });
    srv.listen(Number(port), '127.0.0.1', () => resolve({ srv, origin: `http://127.0.0.1:${srv.address().port}` }));
  });
}
