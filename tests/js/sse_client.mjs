// An EventSource client of GET /v1/events, through a TCP proxy this script runs so it
// can cut the connection whenever it wants (and see each request's URL and
// Last-Event-ID). The client is the `eventsource` npm package or headless Chromium's own
// EventSource (a page served by the proxy itself, so it is same-origin).
//
// Usage: node sse_client.mjs '<json>' with
//   port          Cutover's port
//   query         the query string of /v1/events (e.g. "user=1&since=0")
//   client        "eventsource" (default) or "chromium"
//   want          stop after this many notifications
//   cuts          cut the connection once these many notifications arrived, e.g.
//                 [60,150,240] (each on a connection opened after the previous cut)
//   cutAfterHello cut right after the first hello
//   holdUntilEntries  after the first cut, hold reconnects until Cutover's
//                 cutover_ingest_entries_total reaches this (so entries land in the gap)
//   stopOnError   stop at the first error event (401 tests)
//   timeoutMs     give up after this long (default 60000)
// Prints "hello" after the first hello and "cut <k>" after the k-th cut ("cut hello" for
// cutAfterHello), then one JSON line:
//   {"frames":[{type,id,eventId,cursor,data}],"requests":[{url,lastEventId}],"errors":[..],"opens":n}
import net from 'node:net';
import http from 'node:http';
import { EventSource } from 'eventsource';

const cfg = JSON.parse(process.argv[2]);
const cuts = [...(cfg.cuts ?? [])];
const requests = [];
const live = new Set();
const page = `<!doctype html><script>
const es = new EventSource('/v1/events?${cfg.query}');
es.onopen = () => window.report({ kind: 'open' });
es.onmessage = (e) => window.report({ kind: 'message', data: e.data, lastEventId: e.lastEventId });
es.onerror = () => window.report({ kind: 'error', readyState: es.readyState });
window.stopStream = () => es.close();
</script>`;

let holding = false;
const held = [];

function metric(name) {
  return new Promise((resolve) => {
    http.get({ host: '127.0.0.1', port: cfg.port, path: '/metrics' }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => {
        const line = body.split('\n').find((l) => l.startsWith(name + ' '));
        resolve(line ? Number(line.split(' ')[1]) : 0);
      });
    }).on('error', () => resolve(0));
  });
}

async function releaseWhenCommitted() {
  while ((await metric('cutover_ingest_entries_total')) < cfg.holdUntilEntries) {
    await new Promise((r) => setImmediate(r));  // asks again as soon as the answer is in
  }
  holding = false;
  for (const go of held.splice(0)) go();
}

function forward(c, first) {
  const up = net.connect(Number(cfg.port), '127.0.0.1');
  const pair = { c, up };
  live.add(pair);
  const end = () => { live.delete(pair); c.destroy(); up.destroy(); };
  c.on('close', end); up.on('close', end); c.on('error', end); up.on('error', end);
  up.on('data', (d) => c.write(d));
  c.on('data', (d) => up.write(d));
  up.write(first);
}

const proxy = net.createServer((c) => {
  let head = Buffer.alloc(0);
  const onData = (d) => {
    head = Buffer.concat([head, d]);
    const text = head.toString('latin1');
    const i = text.indexOf('\r\n\r\n');
    if (i < 0) return;
    c.off('data', onData);
    const lines = text.slice(0, i).split('\r\n');
    const url = lines[0].split(' ')[1];
    if (cfg.client === 'chromium' && url === '/page') {
      c.end(`HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: ${Buffer.byteLength(page)}\r\nConnection: close\r\n\r\n${page}`);
      return;
    }
    if (!url.startsWith('/v1/events')) { c.destroy(); return; }  // favicon and the like
    const lei = lines.find((l) => l.toLowerCase().startsWith('last-event-id:'));
    requests.push({ url, lastEventId: lei ? lei.slice(14).trim() : null });
    if (holding) held.push(() => forward(c, head));
    else forward(c, head);
  };
  c.on('data', onData);
  c.on('error', () => c.destroy());
});
await new Promise((r) => proxy.listen(0, '127.0.0.1', r));
const base = `http://127.0.0.1:${proxy.address().port}`;

const frames = [];
const errors = [];
let opens = 0;
let notes = 0;
let hellos = 0;
let cutsDone = 0;
let finished = false;
let stop = () => {};

function cutAll(label) {
  for (const p of live) { p.c.destroy(); p.up.destroy(); }
  console.log(`cut ${label}`);
  if (cfg.holdUntilEntries && !holding && held.length === 0 && !cfg.heldOnce) {
    cfg.heldOnce = true;
    holding = true;
    releaseWhenCommitted();
  }
}

function onMessage(data, lastEventId) {
  const f = JSON.parse(data);
  frames.push({ type: f.type, id: f.id ?? null, eventId: lastEventId, cursor: f.cursor ?? null, data: f.data ?? null });
  if (f.type === 'hello') {
    if (++hellos === 1) console.log('hello');
    if (hellos === 1 && cfg.cutAfterHello) cutAll('hello');
  }
  if (f.type === 'notification') {
    notes++;
    // Events already buffered when a connection is cut still arrive: the next cut waits
    // for the connection the client opened after this one.
    if (cuts.length && notes >= cuts[0] && requests.length === cutsDone + 1) {
      cuts.shift();
      cutAll(++cutsDone);
    }
    if (notes >= cfg.want) finish();
  }
}

function onError(readyState, extra = {}) {
  errors.push({ readyState, ...extra });
  if (readyState === 2 || cfg.stopOnError) finish();
}

async function finish() {
  if (finished) return;
  finished = true;
  await stop();
  proxy.close();
  for (const p of live) { p.c.destroy(); p.up.destroy(); }
  console.log(JSON.stringify({ frames, requests, errors, opens }));
  process.exit(0);
}

setTimeout(finish, cfg.timeoutMs ?? 60000);

if (cfg.client === 'chromium') {
  const { launch } = await import('./lib/chromium.mjs');
  const browser = await launch();
  const pg = await browser.newPage();
  await pg.exposeFunction('report', (r) => {
    if (r.kind === 'open') opens++;
    else if (r.kind === 'message') onMessage(r.data, r.lastEventId);
    else onError(r.readyState);
  });
  stop = async () => { try { await pg.evaluate(() => window.stopStream()); } catch {} await browser.close(); };
  await pg.goto(base + '/page');
} else {
  const es = new EventSource(`${base}/v1/events?${cfg.query}`);
  stop = () => es.close();
  es.onopen = () => { opens++; };
  es.onmessage = (e) => onMessage(e.data, e.lastEventId);
  es.onerror = (e) => onError(es.readyState, { code: e?.code ?? null, message: e?.message ?? null });
}
