// Loads /dashboard in headless Chromium the way an operator does (?token=, which becomes a
// cookie and a redirect), waits until the live feed shows `want` WebSocket connections,
// saves a screenshot and prints one JSON line with what the page shows.
// Usage: node dashboard_page.mjs <cutover port> <admin token> <want websocket count> <png path>
import { launch } from './lib/chromium.mjs';

const [port, token, want, png] = process.argv.slice(2);
const browser = await launch();
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  await page.goto(`http://127.0.0.1:${port}/dashboard?token=${encodeURIComponent(token)}`);
  const url = page.url();
  await page.waitForFunction(
    (n) => document.querySelector('#connections td[data-key="websocket"]')?.textContent === n,
    want, { timeout: 15000 });
  const shown = await page.evaluate(() => ({
    title: document.title,
    ready: document.getElementById('state').textContent,
    websocket: document.querySelector('#connections td[data-key="websocket"]').textContent,
    users2: document.querySelector('#users td[data-key="2+"]')?.textContent ?? null,
    latency: document.querySelector('#latency td[data-key="websocket"]')?.textContent ?? null,
  }));
  await page.screenshot({ path: png, fullPage: true });
  console.log(JSON.stringify({ url, ...shown }));
} finally {
  await browser.close();
}
