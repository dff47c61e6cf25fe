// The paper-size MaskGIT-512 bundle (912 MB: a random-init `import-maskgit --config paper`, or the released
// weights) in the demo page by URL, in headless Debian Chromium with a persistent profile and the bundle cache on:
// first load (download, streaming sha256, cache write, sessions, warm-up), one image at N = --steps, a reload
// (from the cache), and the peak memory of all Chromium processes (RSS summed over /proc, sampled every 200 ms).
// Not a test: `node web/paper-bench.mjs --bundle DIR [--steps 4] [--budget 2] [--json FILE]` (builds the page).
import { readFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from './serve.mjs';
import { buildPages, chromiumRss, launchBenchChromium } from './bench-browser.mjs';

const flag = (name, fallback) => {
  const at = process.argv.indexOf(name);
  return at > 0 ? process.argv[at + 1] : fallback;
};
const bundle = flag('--bundle');
if (!bundle) {
  console.error('usage: node web/paper-bench.mjs --bundle DIR [--steps 4] [--budget 2] [--json FILE]');
  process.exit(2);
}
const steps = Number(flag('--steps', '4'));
const budget = Number(flag('--budget', '2'));
const json = flag('--json');
const manifest = JSON.parse(readFileSync(join(bundle, 'manifest.json'), 'utf8'));
const total = manifest.files.reduce((a, f) => a + f.bytes, 0);

const tmp = mkdtempSync(join(tmpdir(), 'migm-paper-bench-'));
const profile = join(tmp, 'profile');

const dist = join(tmp, 'dist');
await buildPages(dist);
const log = [];
const server = await startServer({ root: dist, mounts: { '/paper/': bundle }, log });
const context = await launchBenchChromium(profile);
let phase = 'start';
const peaks = {};
const sampler = setInterval(() => {
  const rss = chromiumRss(profile);
  peaks[phase] = Math.max(peaks[phase] ?? 0, rss);
}, 200);
const view = (page) => page.evaluate(() => globalThis.migmDemo);
const waitIdle = (page) =>
  page.waitForFunction(`['idle', 'no-model'].includes(document.body.dataset.state)`, undefined, { timeout: 30 * 60_000, polling: 500 });

try {
  const page = await context.newPage();
  phase = 'first load';
  let t0 = performance.now();
  await page.goto(`${server.url}?device=wasm&bundle=/paper/`);
  await waitIdle(page);
  const firstWall = performance.now() - t0;
  let v = await view(page);
  if (v.state !== 'idle') throw new Error(`the first load failed: ${await page.textContent('#error span')}`);
  const first = { wallMs: firstWall, loadMs: v.loadMs, phases: v.phases, cacheErrors: v.cacheErrors, cache: v.cache };

  phase = 'generate';
  await page.uncheck('#preview');
  await page.selectOption('#method', 'shortcut');
  await page.fill('#batch', '1');
  await page.fill('#steps', String(steps));
  await page.fill('#budget', String(budget));
  const finished = v.finished;
  t0 = performance.now();
  await page.click('#generate');
  await page.waitForFunction(`globalThis.migmDemo.finished > ${finished}`, undefined, { timeout: 30 * 60_000, polling: 500 });
  const genWall = performance.now() - t0;
  v = await view(page);
  const run = v.last[0];
  const pixels = Array.from(run.images.data);
  const generated = {
    wallMs: genWall,
    ms: run.ms,
    finite: pixels.every(Number.isFinite),
    images: run.images.batch,
    size: `${run.images.width}x${run.images.height}`,
  };

  phase = 'cached load';
  const before = log.length;
  t0 = performance.now();
  await page.reload();
  await waitIdle(page);
  const cachedWall = performance.now() - t0;
  v = await view(page);
  const refetched = log.slice(before).filter((l) => l.startsWith('GET /paper/') && !l.endsWith('manifest.json'));
  const cached = { wallMs: cachedWall, loadMs: v.loadMs, phases: v.phases, cachedFiles: v.download.cachedFiles.length, refetched };

  phase = 'purge';
  await page.click('#clear-cache');
  await page.waitForFunction(`document.querySelector('#clear-cache').dataset.purged === '1'`);
  clearInterval(sampler);
  const mb = (b) => `${(b / 1e6).toFixed(0)} MB`;
  const s = (ms) => `${(ms / 1000).toFixed(1)} s`;
  const result = {
    date: new Date().toISOString(),
    bundle: { name: manifest.name, bytes: total, files: manifest.files.length },
    steps,
    budget,
    first,
    generated,
    cached,
    peakRssBytes: peaks,
    cores: (await page.evaluate(() => navigator.hardwareConcurrency)) ?? 0,
  };
  console.log(`| ${manifest.name} (${mb(total)}), wasm, Chromium headless | value |`);
  console.log('|---|---|');
  console.log(
    `| first load (page open to ready: download, sha256, cache write, ${manifest.files.length} sessions, warm-up) | ${s(first.wallMs)} (worker's load ${s(first.loadMs)}) |`,
  );
  console.log(
    `| first load: every byte downloaded and verified, then stored / sessions ready (from the load's start) | ${s(first.phases.bytesMs)} / ${s(first.phases.sessionsMs)} |`,
  );
  console.log(`| cache problems on the first load | ${first.cacheErrors.length === 0 ? 'none' : first.cacheErrors.join('; ')} |`);
  console.log(`| one ${generated.size} image, shortcut N = ${steps}, B = ${budget} | ${s(generated.ms)} |`);
  console.log(
    `| cached load (reload to ready; files from the cache: ${cached.cachedFiles}/${manifest.files.length}, refetched: ${cached.refetched.length}) | ${s(cached.wallMs)} (worker's load ${s(cached.loadMs)}) |`,
  );
  console.log(`| cached load: every byte read from the cache and verified / sessions ready | ${s(cached.phases.bytesMs)} / ${s(cached.phases.sessionsMs)} |`);
  for (const [p, bytes] of Object.entries(peaks)) console.log(`| peak RSS of all Chromium processes, ${p} | ${mb(bytes)} |`);
  if (json) writeFileSync(json, `${JSON.stringify(result, null, 2)}\n`);
} finally {
  clearInterval(sampler);
  await context.close();
  await server.close();
  rmSync(tmp, { recursive: true, force: true });
}
