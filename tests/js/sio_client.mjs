// A socket.io-client (npm, 4.8) of Cutover's /socket.io/ (DESIGN §6.2), unmodified, with
// its own reconnection and connection-state recovery: in Node, or in headless Chromium
// with the client's browser bundle (dist/socket.io.min.js) on a page this script serves.
// Both talk through a TCP proxy this script runs, so it can cut every connection at once
// (a network cut, as the client sees it: nothing more arrives on the old transport). The
// page comes from the proxy too, so it is same-origin with /socket.io/.
//
// Usage: node sio_client.mjs '<json>' with
//   port         Cutover's port (on 127.0.0.1)
//   ports        instead of port: several instances; connections go to the first until a
//                move sends them to the next (round robin)
//   client       "node" (default) or "chromium"
//   query        handshake query object (e.g. {"user":"1"})
//   auth         CONNECT auth object (e.g. {"since":"0"} or {"token":".."})
//   transports   e.g. ["websocket"]; default: socket.io-client's (polling, then upgrade)
//   nsp          namespace (default "/")
//   want         stop after this many notifications
//   cuts         cut the connections once these many notifications arrived, e.g.
//                [60,150,240] (each after the reconnect of the previous one)
//   moves        like cuts, but the proxy also sends every later connection to the next
//                of `ports` (a balancer moving the client; sids stay valid where made)
//   waitFor      "connect_error": stop at the first connect_error; "upgrade": stop only
//                once `want` arrived and the transport was upgraded
//   timeoutMs    give up after this long (default 60000)
// Prints "connected" after the first connect, "cut <k>" after the cut at k notifications,
// "moved <k>" after a move, "upgraded <n>" after each upgrade, and "disconnect <reason>",
// "connect_error <message>", "upgrade_error <message>" as they come,
// "reconnected <recovered>" after each later connect, then one JSON line:
//   {"frames":[{event,data,offset}],"connects":[{recovered,transport,pid}],"upgrades":n,
//    "firstTransport":..,"errors":[{message,data}],"disconnects":[reason]}
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const cfg = JSON.parse(process.argv[2]);
const cuts = [...(cfg.cuts ?? [])];
const moves = [...(cfg.moves ?? [])];
const upstreams = cfg.ports ?? [cfg.port];
let upstream = 0;  // index into upstreams of the instance new connections go to
const frames = [];
const connects = [];
const errors = [];
const disconnects = [];
let upgrades = 0;
let firstTransport = null;
let notifications = 0;
let done = false;
let stop = async () => {};

// The bundle is not in the package's "exports": read it from the installed package.
const here = path.dirname(fileURLToPath(import.meta.url));
const bundle = fs.readFileSync(
  path.join(here, 'node_modules/socket.io-client/dist/socket.io.min.js'), 'utf8');
const page = `<!doctype html><script src="/socket.io.min.js"></script><script>
const cfg = JSON.parse(decodeURIComponent(location.hash.slice(1)));
const socket = io(location.origin + (cfg.nsp && cfg.nsp !== '/' ? cfg.nsp : ''), cfg.opts);
socket.io.on('open', () => {
  window.report({ kind: 'open', transport: socket.io.engine.transport.name });
  socket.io.engine.on('upgrade', () => window.report({ kind: 'upgrade' }));
  socket.io.engine.on('upgradeError', (e) => window.report({ kind: 'upgrade_error',
    message: String(e && e.message) }));
});
socket.on('connect', () => window.report({ kind: 'connect', recovered: socket.recovered,
  transport: socket.io.engine.transport.name, pid: socket._pid ?? null }));
socket.on('connect_error', (e) => window.report({ kind: 'connect_error', message: e.message,
  data: e.data ?? null }));
socket.on('disconnect', (reason) => window.report({ kind: 'disconnect', reason }));
socket.onAny((event, ...args) => window.report({ kind: 'event', event, args }));
window.stopClient = () => socket.disconnect();
</script>`;

const live = new Set();
function respond(c, type, body) {
  c.end(`HTTP/1.1 200 OK\r\nContent-Type: ${type}\r\nContent-Length: ${Buffer.byteLength(body)}` +
        `\r\nConnection: close\r\n\r\n${body}`);
}
const proxy = net.createServer((c) => {
  let head = Buffer.alloc(0);
  const onData = (d) => {
    head = Buffer.concat([head, d]);
    const text = head.toString('latin1');
    if (text.indexOf('\r\n') < 0) return;
    c.off('data', onData);
    const url = text.split(' ')[1] ?? '';
    if (url === '/page') return respond(c, 'text/html', page);
    if (url === '/socket.io.min.js') return respond(c, 'text/javascript', bundle);
    if (!url.startsWith('/socket.io')) return c.destroy();  // favicon and the like
    const up = net.connect(upstreams[upstream], '127.0.0.1');
    live.add(c);
    live.add(up);
    const drop = () => { live.delete(c); live.delete(up); c.destroy(); up.destroy(); };
    c.on('error', drop).on('close', drop);
    up.on('error', drop).on('close', drop);
    up.write(head);
    c.pipe(up);
    up.pipe(c);
  };
  c.on('data', onData);
  c.on('error', () => c.destroy());
});
await new Promise((r) => proxy.listen(0, '127.0.0.1', r));
function dropConnections() { for (const s of [...live]) s.destroy(); }
function cutAll() { dropConnections(); }
function moveAll() {
  upstream = (upstream + 1) % upstreams.length;
  dropConnections();
}
const base = `http://127.0.0.1:${proxy.address().port}`;

async function finish(code = 0) {
  if (done) return;
  done = true;
  console.log(JSON.stringify({ frames, connects, upgrades, firstTransport, errors, disconnects }));
  try { await stop(); } catch {}
  setTimeout(() => process.exit(code), 10);
}
setTimeout(() => finish(3), cfg.timeoutMs ?? 60000);

// An event line; none after the JSON line, which stays the last.
function say(line) { if (!done) console.log(line); }

// What either client reports.
function onOpen(transport) { firstTransport ??= transport; }
function onConnect(c) {
  connects.push(c);
  say(connects.length === 1 ? 'connected' : `reconnected ${c.recovered}`);
}
function onConnectError(e) {
  errors.push(e);
  say(`connect_error ${e.message}`);
  if (cfg.waitFor === 'connect_error') finish();
}
function onDisconnect(reason) {
  disconnects.push(reason);
  say(`disconnect ${reason}`);
}
function onEvent(event, args) {
  const offset = args.length > 1 ? args[args.length - 1] : null;
  frames.push({ event, data: args[0], offset });
  if (event !== 'notification') return;
  notifications += 1;
  if (cuts.length && notifications >= cuts[0]) {
    cuts.shift();
    say(`cut ${notifications}`);
    cutAll();  // the transport goes away; the client reconnects itself
  }
  if (moves.length && notifications >= moves[0]) {
    moves.shift();
    say(`moved ${notifications}`);
    moveAll();
  }
  maybeDone();
}
function maybeDone() {
  if (!cfg.want || notifications < cfg.want) return;
  if (cfg.waitFor === 'upgrade' && upgrades < 1) return;
  finish();
}
function onUpgrade() {
  upgrades += 1;
  say(`upgraded ${upgrades}`);
  maybeDone();
}

const opts = { query: cfg.query ?? {}, auth: cfg.auth ?? {}, reconnectionDelay: 100,
  reconnectionDelayMax: 500, forceNew: true };
if (cfg.transports) opts.transports = cfg.transports;

if (cfg.client === 'chromium') {
  const { launch } = await import('./lib/chromium.mjs');
  const browser = await launch();
  const pg = await browser.newPage();
  await pg.exposeFunction('report', (r) => {
    if (r.kind === 'open') onOpen(r.transport);
    else if (r.kind === 'upgrade') onUpgrade();
    else if (r.kind === 'upgrade_error') say(`upgrade_error ${r.message}`);
    else if (r.kind === 'connect') onConnect({ recovered: r.recovered, transport: r.transport, pid: r.pid });
    else if (r.kind === 'connect_error') onConnectError({ message: r.message, data: r.data });
    else if (r.kind === 'disconnect') onDisconnect(r.reason);
    else if (r.kind === 'event') onEvent(r.event, r.args);
  });
  stop = async () => {
    try { await pg.evaluate(() => window.stopClient()); } catch {}
    await browser.close();
  };
  await pg.goto(`${base}/page#${encodeURIComponent(JSON.stringify({ nsp: cfg.nsp, opts }))}`);
} else {
  const { io } = await import('socket.io-client');
  const socket = io(base + (cfg.nsp && cfg.nsp !== '/' ? cfg.nsp : ''), opts);
  stop = async () => socket.disconnect();
  socket.io.on('open', () => {
    onOpen(socket.io.engine.transport.name);
    socket.io.engine.on('upgrade', onUpgrade);
    socket.io.engine.on('upgradeError', (e) => say(`upgrade_error ${e && e.message}`));
  });
  socket.on('connect', () => onConnect({ recovered: socket.recovered,
    transport: socket.io.engine.transport.name, pid: socket._pid ?? null }));
  socket.on('connect_error', (e) => onConnectError({ message: e.message, data: e.data ?? null }));
  socket.on('disconnect', onDisconnect);
  socket.onAny((event, ...args) => onEvent(event, args));
}
