// A page on another origin tries to read the victim's stream with the victim's cookie.
// Usage: node cross_origin.mjs <cutover port> <token> <transport: ws|sse|sio> <page port, 0: any>
// (sio: Socket.IO over a WebSocket, spoken by hand: CONNECT from 0, events up to the first
// notification kept)
// Prints one JSON line: {"origin":..,"opened":bool,"frames":[..],"error":..}
import { launch } from './lib/chromium.mjs';
import { servePage } from './lib/page_server.mjs';

const [port, token, transport, pagePort = '0'] = process.argv.slice(2);
const target = `127.0.0.1:${port}`;
const html = `<!doctype html><script>
window.result = new Promise((resolve) => {
  const out = { opened: false, frames: [], error: null };
  const finish = () => resolve(out);
  if (${JSON.stringify(transport)} === 'ws') {
    const ws = new WebSocket('ws://${target}/v1/ws?since=0');
    ws.onopen = () => { out.opened = true; };
    ws.onmessage = (e) => { out.frames.push(JSON.parse(e.data)); ws.close(); finish(); };
    ws.onerror = () => { out.error = 'error'; };
    ws.onclose = (e) => { out.closeCode = e.code; finish(); };
  } else if (${JSON.stringify(transport)} === 'sio') {
    const ws = new WebSocket('ws://${target}/socket.io/?EIO=4&transport=websocket');
    ws.onopen = () => { out.opened = true; };
    ws.onmessage = (e) => {
      const m = String(e.data);
      if (m.startsWith('0')) ws.send('40{"since":"0"}');  // Engine.IO open: Socket.IO CONNECT
      else if (m === '2') ws.send('3');
      else if (m.startsWith('42')) {  // events: the hello, then the backlog
        const ev = JSON.parse(m.slice(2));
        out.frames.push(ev);
        if (ev[0] === 'notification') { ws.close(); finish(); }
      }
      else if (m.startsWith('44')) { out.error = m; ws.close(); finish(); }
    };
    ws.onerror = () => { out.error = 'error'; };
    ws.onclose = (e) => { out.closeCode = e.code; finish(); };
  } else {
    const es = new EventSource('http://${target}/v1/events?since=0', { withCredentials: true });
    es.onopen = () => { out.opened = true; };
    es.onmessage = (e) => { out.frames.push(JSON.parse(e.data)); es.close(); finish(); };
    es.onerror = () => { out.error = 'error'; if (es.readyState === EventSource.CLOSED || !out.opened) { es.close(); finish(); } };
  }
});
</script>`;

const { srv, origin } = await servePage(html, pagePort);
const browser = await launch();
try {
  const context = await browser.newContext();
  // The victim is logged in to Cutover's host: its cookie is in the browser.
  await context.addCookies([{ name: 'cutover_token', value: token, url: `http://${target}/` }]);
  const page = await context.newPage();
  const consoleLines = [];  // Chromium says why a handshake failed here
  page.on('console', (m) => consoleLines.push(m.text()));
  await page.goto(origin + '/');
  const out = await page.evaluate(() => window.result);
  console.log(JSON.stringify({ origin, ...out, console: consoleLines }));
} finally {
  await browser.close();
  srv.close();
}
