// Preloaded by `tools/sio-conformance.sh --serve` next to sio-conformance-events.mjs: the
// suites know nothing of identity, and `cutover serve` refuses a session without one. Every
// URL the suite's fetch and WebSocket open gets `user=conformance` (served with
// --auth insecure-query), and "localhost" becomes 127.0.0.1 (the address serve listens on).
// The suite's requests are otherwise untouched.
function withIdentity(url) {
  const u = new URL(String(url));
  if (u.hostname === "localhost") u.hostname = "127.0.0.1";
  u.searchParams.set("user", "conformance");
  return u.toString();
}

function trap(name, wrap) {
  let value;
  Object.defineProperty(globalThis, name, {
    configurable: true,
    get: () => value,
    set: (v) => {
      value = wrap(v);
    },
  });
}

trap("fetch", (fetch) => (url, ...rest) => fetch(withIdentity(url), ...rest));
trap("WebSocket", (WebSocket) => {
  class WithIdentity extends WebSocket {
    constructor(url, ...rest) {
      super(withIdentity(url), ...rest);
    }
  }
  return WithIdentity;
});
