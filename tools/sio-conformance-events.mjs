// Preloaded by tools/sio-conformance.sh into the protocol suites' mocha (NODE_OPTIONS
// --import). The suites were written for browsers, where each WebSocket event ("open",
// "message", "close") is its own task, so a promise continuation that adds the next
// listener runs before the next event. Node's `ws` emits every frame of one TCP read
// synchronously, so the second of two frames that arrive together would find no listener.
// This makes `ws` (the suite's own copy, resolved from its directory) dispatch those events
// one per task, in order, as a browser does. Tests and assertions are untouched.
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";

const require = createRequire(pathToFileURL(process.cwd() + "/"));
const WebSocket = require("ws");
const emit = WebSocket.prototype.emit;
const queued = new Set(["open", "message", "close"]);

WebSocket.prototype.emit = function (name, ...args) {
  if (!queued.has(name)) return emit.call(this, name, ...args);
  const q = (this.__sioConformanceQueue ??= []);
  q.push(() => emit.call(this, name, ...args));
  if (q.length === 1) {
    const next = () =>
      setImmediate(() => {
        q[0]();
        q.shift();
        if (q.length) next();
      });
    next();
  }
  return true;
};
