// Socket.IO figures, side by side: Cutover's /socket.io/ and the Node socket.io 4 server of
// tools/bench/node/sio_server.js, driven the same way by raw Engine.IO clients (the `ws`
// package of tools/bench/node; polling over keep-alive HTTP). A figure, not a test.
//
//   node tools/bench/sio_bench.mjs '<json>' with
//     target   "cutover" | "node"
//     port     the server's port; pid: its process id (RSS and CPU from /proc)
//     redis    Cutover's Redis port (publishes are XADDs there; topic "all")
//     mode     "idle-ws" | "idle-poll" | "fanout"
//     conns    connections (default 1000)
//     msgs     fan-out: messages published (default 20), one every `gapMs` (default 200)
// Prints one JSON line: {target,mode,conns,rssBefore,rssAfter,rssPerConnKiB,...}; fanout
// adds deliveries, cpuMs, cpuUsPerDelivery, p50Ms, p99Ms, maxMs.
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { createRequire } from 'node:module';

const require = createRequire(new URL('./node/', import.meta.url));
const WebSocket = require('ws');

const cfg = JSON.parse(process.argv[2]);
const conns = cfg.conns ?? 1000;
const base = `127.0.0.1:${cfg.port}`;
const query = (i) => (cfg.target === 'cutover' ? `user=b${i}` : 'room=all');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function rss() {
  const s = fs.readFileSync(`/proc/${cfg.pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(s)[1]) * 1024;
}
function cpuMs() {
  const f = fs.readFileSync(`/proc/${cfg.pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100;  // utime + stime, USER_HZ = 100
}

const latencies = [];
let deliveries = 0;
function onEvent(text) {
  // 42["notification",{...,"data":{"t":..}},"<id>"] (Cutover) or 42["n",{"t":..}] (Node).
  const args = JSON.parse(text.slice(2));
  const data = cfg.target === 'cutover' ? args[1]?.data : args[1];
  if (!data || typeof data.t !== 'number') return;
  deliveries += 1;
  latencies.push(Number(process.hrtime.bigint() / 1000n) / 1000 - data.t);
}

function openWs(i) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://${base}/socket.io/?EIO=4&transport=websocket&${query(i)}`,
                             { perMessageDeflate: false });
    ws.on('message', (m) => {
      const t = m.toString();
      if (t[0] === '0') ws.send('40');
      else if (t.startsWith('40')) resolve(ws);
      else if (t === '2') ws.send('3');
      else if (t.startsWith('42')) onEvent(t);
    });
    ws.on('error', reject);
  });
}

const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
function request(method, path, body) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: cfg.port, method, path, agent,
                               headers: body ? { 'content-type': 'text/plain' } : {} }, (res) => {
      let b = '';
      res.on('data', (d) => { b += d; });
      res.on('end', () => resolve(b));
    });
    req.on('error', reject);
    req.end(body);
  });
}
// A polling session: handshake, CONNECT, then one GET held at a time (answering pings).
async function openPoll(i, ready) {
  const open = await request('GET', `/socket.io/?EIO=4&transport=polling&${query(i)}`);
  const sid = JSON.parse(open.slice(1)).sid;
  const path = `/socket.io/?EIO=4&transport=polling&sid=${sid}&${query(i)}`;
  await request('POST', path, '40');
  let connected = false;
  for (;;) {
    const got = await request('GET', path);
    for (const p of got.split('\x1e')) {
      if (p.startsWith('40')) { connected = true; ready(); }
      else if (p === '2') request('POST', path, '3');
      else if (p.startsWith('42')) onEvent(p);
      else if (p === '1') return;
    }
    if (!connected) continue;
  }
}

function xadd(data) {
  return new Promise((resolve, reject) => {
    const args = ['XADD', 'cutover:notifications', '*', 'topic', 'all', 'type', 'n', 'data', data];
    const s = net.connect(cfg.redis, '127.0.0.1', () => {
      s.end(`*${args.length}\r\n` + args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join(''));
    });
    s.on('data', () => {});
    s.on('close', resolve);
    s.on('error', reject);
  });
}
function publish(t) {
  const data = JSON.stringify({ t, pad: 'x'.repeat(64) });
  if (cfg.target === 'cutover') return xadd(data);
  return request('POST', '/publish/all', data);
}

const before = rss();
const sockets = [];
if (cfg.mode === 'idle-poll') {
  let ready = 0;
  await new Promise((resolve) => {
    for (let i = 0; i < conns; i++) openPoll(i, () => { if (++ready === conns) resolve(); });
  });
  await sleep(1000);  // every session has its GET held now
} else {
  for (let i = 0; i < conns; i += 100) {
    const batch = [];
    for (let j = i; j < Math.min(conns, i + 100); j++) batch.push(openWs(j));
    sockets.push(...(await Promise.all(batch)));
  }
  await sleep(500);
}
const after = rss();
const out = { target: cfg.target, mode: cfg.mode, conns, rssBefore: before, rssAfter: after,
  rssPerConnKiB: +((after - before) / conns / 1024).toFixed(2) };

if (cfg.mode === 'fanout') {
  const msgs = cfg.msgs ?? 20;
  const cpu0 = cpuMs();
  for (let m = 0; m < msgs; m++) {
    await publish(Number(process.hrtime.bigint() / 1000n) / 1000);
    await sleep(cfg.gapMs ?? 200);
  }
  const deadline = Date.now() + 20000;
  while (deliveries < msgs * conns && Date.now() < deadline) await sleep(50);
  const cpu = cpuMs() - cpu0;
  latencies.sort((a, b) => a - b);
  const q = (p) => +latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))].toFixed(2);
  Object.assign(out, { deliveries, expected: msgs * conns, cpuMs: cpu,
    cpuUsPerDelivery: +((cpu * 1000) / Math.max(1, deliveries)).toFixed(2),
    p50Ms: q(0.5), p99Ms: q(0.99), maxMs: q(1) });
}
console.log(JSON.stringify(out));
process.exit(0);
