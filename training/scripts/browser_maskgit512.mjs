// Loads an imported MaskGIT bundle in headless Chromium (onnxruntime-web wasm) through the demo's selftest page
// and generates one image (issue 17; a script, not a test). Reports load + generate time and peak RSS of the
// Chromium processes. Needs the built demo (pnpm --filter @migm/demo build, or its web e2e test) and chromium.
// usage: node scripts/browser_maskgit512.mjs BUNDLE_DIR [STEPS] [DTYPE]
// DTYPE: a precision (int4) or graph=precision pairs joined by '+' (base=int4+decoder=fp16); default fp32.
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const demo = fileURLToPath(new URL('../../apps/demo/', import.meta.url));
const { chromium } = createRequire(demo + 'package.json')('playwright-core');
const { startServer } = await import(new URL('../../apps/demo/web/serve.mjs', import.meta.url).href);

const [dir, stepsArg, dtypeArg] = process.argv.slice(2);
const steps = Number(stepsArg ?? 2);
const dtype = dtypeArg === undefined ? undefined : dtypeArg.includes('=') ? Object.fromEntries(dtypeArg.split('+').map((p) => p.split('='))) : dtypeArg;
const server = await startServer({ mounts: { '/paper/': dir.endsWith('/') ? dir : dir + '/' } });
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-background-networking', '--disable-component-update', '--no-first-run'] });
let peak = 0;
const rss = () => {
  try {
    return execFileSync('ps', ['-C', 'chromium', '-o', 'rss='], { encoding: 'utf8' }).split('\n').reduce((a, l) => a + (Number(l) || 0), 0) / 1024;
  } catch { return 0; }
};
const timer = setInterval(() => { peak = Math.max(peak, rss()); }, 500);
try {
  const page = await browser.newPage();
  page.on('console', (m) => { if (m.type() === 'error') console.error('page:', m.text()); });
  page.on('response', (res) => { if (res.status() >= 400) console.error('HTTP', res.status(), res.url()); });
  page.on('pageerror', (e) => console.error('pageerror:', e.message));
  await page.goto(server.url + 'selftest.html');
  await page.waitForFunction('globalThis.selftest !== undefined');
  const t0 = performance.now();
  const r = await page.evaluate(([s, d]) => globalThis.selftest.firstStep('wasm', { condition: 207, batch: 1, steps: s, seed: 1 }, '/paper/', d), [steps, dtype]);
  const ms = performance.now() - t0;
  console.log(JSON.stringify({ device: r.device, dtype: dtypeArg ?? 'fp32', steps, tokens: r.tokens.length, loadAndGenerateS: +(ms / 1000).toFixed(1), peakChromiumRssMB: Math.round(peak) }));
} finally {
  clearInterval(timer);
  await browser.close();
  await server.close();
}
