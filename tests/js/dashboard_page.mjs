// Loads /dashboard in headless Chromium the way an operator does (?token=, which becomes a
// cookie and a redirect), waits until the live feed shows `want` WebSocket connections,
// and the dead letter count reaches `want dead letters`, saves a screenshot and prints one
// JSON line with what the page shows (the charts' samples and the oldest one's time, to
// tell the server's hour from what the page saw itself).
// Usage: node dashboard_page.mjs <port> <admin token> <want websocket count> <png path>
//        [<want dead letters>]
import { launch } from './lib/chromium.mjs';

const [port, token, want, png, wantDead = '0'] = process.argv.slice(2);
const browser = await launch();
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const opened = Date.now();
  await page.goto(`http://127.0.0.1:${port}/dashboard?token=${encodeURIComponent(token)}`);
  const url = page.url();
  await page.waitForFunction(
    (n) => document.querySelector('#connections td[data-key="websocket"]')?.textContent === n,
    want, { timeout: 15000 });
  await page.waitForFunction(
    (n) => document.querySelector('#dead td[data-key="dead letters"]')?.textContent === n,
    wantDead, { timeout: 15000 });
  const shown = await page.evaluate(() => ({
    title: document.title,
    ready: document.getElementById('state').textContent,
    websocket: document.querySelector('#connections td[data-key="websocket"]').textContent,
    users2: document.querySelector('#users td[data-key="2+"]')?.textContent ?? null,
    latency: document.querySelector('#latency td[data-key="websocket"]')?.textContent ?? null,
    dead: document.querySelector('#dead td[data-key="dead letters"]').textContent,
    deadReasons: [...document.querySelectorAll('#dead-reasons li.reason')].map((e) => e.textContent),
    rewinds: document.querySelector('#rewinds td[data-key="rewinds"]')?.textContent ?? null,
    upstream: document.querySelector('#upstream td[data-key="--upstream"]')?.textContent ?? null,
    chartPoints: Number(document.getElementById('chart').dataset.points),
    chartOldest: Number(document.getElementById('chart').dataset.oldest),
    usersChartPoints: Number(document.getElementById('users-chart').dataset.points),
  }));
  shown.opened = opened;
  await page.screenshot({ path: png, fullPage: true });
  console.log(JSON.stringify({ url, ...shown }));
} finally {
  await browser.close();
}
