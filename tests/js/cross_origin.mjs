// A page on another origin tries to read the victim's stream with the victim's cookie.
// Usage: node cross_origin.mjs <cutover port> <token> <transport: ws|sse> <page port, 0: any>
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
