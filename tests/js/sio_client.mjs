// A socket.io-client (npm, 4.8) of Cutover's /socket.io/ (DESIGN §6.2), unmodified, with
// its own reconnection and connection-state recovery. It talks through a TCP proxy this
// script runs, so it can cut every connection at once (a network cut, as the client sees
// it: nothing more arrives on the old transport).
//
// Usage: node sio_client.mjs '<json>' with
//   port         Cutover's port (on 127.0.0.1)
//   query        handshake query object (e.g. {"user":"1"})
//   auth         CONNECT auth object (e.g. {"since":"0"} or {"token":".."})
//   transports   e.g. ["websocket"]; default: socket.io-client's (polling, then upgrade)
//   nsp          namespace (default "/")
//   want         stop after this many notifications
//   cuts         force a transport close once these many notifications arrived, e.g.
//                [60,150,240] (each after the reconnect of the previous one)
//   waitFor      "connect_error": stop at the first connect_error
//   extraHeaders headers for polling requests (Node only)
//   timeoutMs    give up after this long (default 60000)
// Prints "connected" after the first connect, "cut <k>" after the k-th cut, "reconnected
// <recovered>" after each later connect, then one JSON line:
//   {"frames":[{event,data,offset}],"connects":[{recovered,transport,pid}],"upgrades":n,
//    "firstTransport":..,"errors":[{message,data}],"disconnects":[reason]}
import net from 'node:net';
import { io } from 'socket.io-client';

const cfg = JSON.parse(process.argv[2]);
const cuts = [...(cfg.cuts ?? [])];
const frames = [];
const connects = [];
const errors = [];
const disconnects = [];
let upgrades = 0;
let notifications = 0;
let done = false;

const opts = { query: cfg.query ?? {}, auth: cfg.auth ?? {}, reconnectionDelay: 100,
  reconnectionDelayMax: 500, forceNew: true };
if (cfg.transports) opts.transports = cfg.transports;
if (cfg.extraHeaders) opts.extraHeaders = cfg.extraHeaders;
const live = new Set();
const proxy = net.createServer((c) => {
  const up = net.connect(cfg.port, '127.0.0.1');
  live.add(c);
  live.add(up);
  const drop = () => { live.delete(c); live.delete(up); c.destroy(); up.destroy(); };
  c.on('error', drop).on('close', drop);
  up.on('error', drop).on('close', drop);
  c.pipe(up);
  up.pipe(c);
});
await new Promise((r) => proxy.listen(0, '127.0.0.1', r));
function cutAll() { for (const s of [...live]) s.destroy(); }

const url = `http://127.0.0.1:${proxy.address().port}`;
const socket = io(url + (cfg.nsp && cfg.nsp !== '/' ? cfg.nsp : ''), opts);

function finish(code = 0) {
  if (done) return;
  done = true;
  console.log(JSON.stringify({ frames, connects, upgrades, firstTransport, errors, disconnects }));
  socket.disconnect();
  setTimeout(() => process.exit(code), 10);
}
setTimeout(() => finish(3), cfg.timeoutMs ?? 60000);

let firstTransport = null;
function watchEngine() {
  firstTransport ??= socket.io.engine.transport.name;
  socket.io.engine.on('upgrade', () => { upgrades += 1; });
}
socket.io.on('open', watchEngine);

socket.on('connect', () => {
  connects.push({ recovered: socket.recovered, transport: socket.io.engine.transport.name,
    pid: socket._pid ?? null });
  console.log(connects.length === 1 ? 'connected' : `reconnected ${socket.recovered}`);
});
socket.on('connect_error', (e) => {
  errors.push({ message: e.message, data: e.data ?? null });
  if (cfg.waitFor === 'connect_error') finish();
});
socket.on('disconnect', (reason) => { disconnects.push(reason); });
socket.onAny((event, ...args) => {
  const offset = args.length > 1 ? args[args.length - 1] : null;
  frames.push({ event, data: args[0], offset });
  if (event !== 'notification') return;
  notifications += 1;
  if (cuts.length && notifications >= cuts[0]) {
    cuts.shift();
    console.log(`cut ${notifications}`);
    cutAll();  // the transport goes away; the client reconnects itself
  }
  if (cfg.want && notifications >= cfg.want) finish();
});
