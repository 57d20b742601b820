// Loads /demo in headless Chromium the way a newcomer does and, for each transport in
// turn, connects as <user>, clicks "Publish a notification", and waits until the
// notification appears in the list with the id POST /v1/publish answered (the legacyId
// for the poll). Saves one screenshot per transport (<png prefix>-<transport>.png) and
// prints one JSON line: {"<transport>": {"published": id, "shown": id, "status": text}}.
// Usage: node demo_page.mjs <cutover port> <user> <png prefix>
import { launch } from './lib/chromium.mjs';

const [port, user, prefix] = process.argv.slice(2);
const browser = await launch();
const out = {};
try {
  const page = await browser.newPage({ viewport: { width: 1000, height: 700 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`http://127.0.0.1:${port}/demo`);
  await page.fill('#user', user);
  for (const t of ['poll', 'websocket', 'sse', 'socketio']) {
    await page.selectOption('#transport', t);
    await page.click('#connect');
    await page.waitForFunction(() => document.getElementById('status').className === 'ok',
      null, { timeout: 15000 });
    await page.click('#publish');
    await page.waitForFunction(() => {
      const p = document.getElementById('published');
      return p.dataset.expect && p.dataset.arrived === p.dataset.expect &&
        document.querySelector(`#log li[data-id="${p.dataset.expect}"]`);
    }, null, { timeout: 15000 });
    out[t] = await page.evaluate(() => {
      const p = document.getElementById('published');
      return { published: p.dataset.id, expect: p.dataset.expect,
        shown: document.querySelector(`#log li[data-id="${p.dataset.expect}"]`).dataset.id,
        status: document.getElementById('status').textContent, text: p.textContent };
    });
    await page.screenshot({ path: `${prefix}-${t}.png`, fullPage: true });
  }
  if (errors.length) out.errors = errors;
  console.log(JSON.stringify(out));
} finally {
  await browser.close();
}
