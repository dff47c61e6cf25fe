import { chromium } from 'playwright-core';
import { startServer } from './serve.mjs';
import { TINY_BUNDLE } from './assets.mjs';
const srv = await startServer({ mounts: { '/tiny/': TINY_BUNDLE } });
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'] });
const page = await browser.newPage();
page.on('console', (m) => console.log('console', m.type(), m.text()));
await page.goto(srv.url + 'selftest.html');
await page.waitForFunction('globalThis.selftest !== undefined');
const out = await page.evaluate(async () => {
  const b = await globalThis.selftest.backend('wasm', '/tiny/');
  const res = {};
  for (const rows of [2, 16]) {
    const L = 16, K = 16;
    const input = { tokens: new Int32Array(rows * L).fill(16), classes: new Int32Array(rows), rows, logits: new Float32Array(rows * L * K) };
    const t = [];
    for (let i = 0; i < 30; i++) { const t0 = performance.now(); const f = await b.forward(input); t.push(performance.now() - t0); b.release(f); }
    const h = [];
    const f = await b.forward(input);
    for (let i = 0; i < 30; i++) { const t0 = performance.now(); await b.head(f, input.logits); h.push(performance.now() - t0); }
    b.release(f);
    const s = (a) => a.slice(5).sort((x, y) => x - y)[12].toFixed(3);
    res[rows] = { forward: s(t), head: s(h) };
  }
  await b.dispose();
  return res;
});
console.log(JSON.stringify(out));
await browser.close(); await srv.close();
