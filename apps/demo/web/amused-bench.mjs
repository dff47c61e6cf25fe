// aMUSEd at real size in headless Debian Chromium (onnxruntime-web, wasm): the selftest page loads the bundle by
// URL (byte progress recorded, no cache), encodes a prompt, generates one image at the bundle's sampling defaults
// (vanilla: every one of its 12 steps is a full step with guidance) and decodes it. Reports each phase's seconds
// and the peak RSS of all Chromium processes (summed over /proc, sampled every 200 ms), per phase. A load that
// fails is reported with the error the page got (its class, MigmError code and message), or as a crash.
// Not a test: `node web/amused-bench.mjs --bundle DIR [--dtype int8] [--prompt TEXT] [--steps N] [--json FILE]`
// (builds the page; `--dtype`: a precision, or graph=precision pairs joined by '+').
import { readFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from './serve.mjs';
import { buildPages, chromiumRss, launchBenchChromium } from './bench-browser.mjs';

const flag = (name, fallback) => {
  const at = process.argv.indexOf(name);
  return at > 0 ? process.argv[at + 1] : fallback;
};
const bundle = flag('--bundle');
if (!bundle) {
  console.error('usage: node web/amused-bench.mjs --bundle DIR [--dtype int8] [--prompt TEXT] [--steps N] [--json FILE]');
  process.exit(2);
}
const dtypeArg = flag('--dtype');
const dtype = dtypeArg === undefined ? undefined : dtypeArg.includes('=') ? Object.fromEntries(dtypeArg.split('+').map((p) => p.split('='))) : dtypeArg;
const prompt = flag('--prompt', 'a photo of a red fox in the snow');
const steps = flag('--steps') === undefined ? undefined : Number(flag('--steps'));
const json = flag('--json');
const timeoutMs = Number(flag('--timeout-min', '40')) * 60_000;
const manifest = JSON.parse(readFileSync(join(bundle, 'manifest.json'), 'utf8'));

const tmp = mkdtempSync(join(tmpdir(), 'migm-amused-bench-'));
const profile = join(tmp, 'profile');

const dist = join(tmp, 'dist');
await buildPages(dist);
const server = await startServer({ root: dist, mounts: { '/amused/': bundle.endsWith('/') ? bundle : bundle + '/' } });
const context = await launchBenchChromium(profile);
const samples = []; // [ms since the page call, bytes]
let t0 = performance.now();
const sampler = setInterval(() => samples.push([performance.now() - t0, chromiumRss(profile)]), 200);
const loadBefore = loadavg();
const pageErrors = [];
let result;
try {
  const page = await context.newPage();
  let crashed = false;
  page.on('crash', () => void (crashed = true));
  page.on('console', (m) => {
    if (m.type() === 'error') pageErrors.push(m.text().slice(0, 500));
    if (m.text().startsWith('textToImage ')) console.error(`${new Date().toISOString().slice(11, 19)} ${m.text()}`);
  });
  page.on('pageerror', (e) => pageErrors.push(`uncaught ${e.message.slice(0, 500)}`));
  await page.goto(`${server.url}selftest.html`);
  await page.waitForFunction('globalThis.selftest !== undefined');
  const idle = chromiumRss(profile);
  t0 = performance.now();
  const run = page.evaluate(
    ([p, d, s]) => globalThis.selftest.textToImage('wasm', '/amused/', p, { log: true, ...(d ? { dtype: d } : {}), ...(s ? { steps: s } : {}) }),
    [prompt, dtype, steps],
  );
  const limit = new Promise((resolve) =>
    setTimeout(
      () => resolve({ ok: false, phase: 'timeout', error: { name: 'Timeout', message: `no answer in ${timeoutMs / 60_000} min` } }),
      timeoutMs,
    ).unref(),
  );
  let report;
  try {
    report = await Promise.race([run, limit]);
  } catch (err) {
    report = { ok: false, phase: crashed ? 'crash' : 'evaluate', error: { name: 'PageFailure', message: String(err?.message ?? err).slice(0, 500) } };
  }
  const wallMs = performance.now() - t0;
  clearInterval(sampler);
  // Peaks per phase, from the page's own phase boundaries (ms since its call; the sampler's clock starts there too).
  const bounds =
    report.loadMs === undefined
      ? [['load', Infinity]]
      : [
          ['load', report.loadMs],
          ['generate', report.loadMs + (report.generateMs ?? Infinity)],
          ['decode', Infinity],
        ];
  const peaks = {};
  for (const [ms, bytes] of samples) {
    const phase = ms < 0 ? 'page' : (bounds.find(([, end]) => ms <= end) ?? bounds[bounds.length - 1])[0];
    peaks[phase] = Math.max(peaks[phase] ?? 0, bytes);
  }
  result = {
    date: new Date().toISOString(),
    bundle: { name: manifest.name, bytes: manifest.files.reduce((a, f) => a + f.bytes, 0), files: manifest.files.length, tokens: manifest.tokens.count },
    dtype: dtypeArg ?? 'fp32',
    prompt,
    chromium: (await context.browser()?.version()) ?? 'unknown',
    wallMs,
    idleRssBytes: idle,
    peakRssBytes: Math.max(0, ...samples.map(([, b]) => b)),
    peakRssBytesByPhase: peaks,
    loadAverage: { before: loadBefore, after: loadavg() },
    report,
    pageErrors: pageErrors.slice(0, 20),
  };
} finally {
  clearInterval(sampler);
  await context.close().catch(() => undefined);
  await server.close();
  rmSync(tmp, { recursive: true, force: true });
}

const r = result.report;
const s = (ms) => (ms === undefined ? '-' : `${(ms / 1000).toFixed(1)} s`);
const mb = (b) => `${(b / 1e6).toFixed(0)} MB`;
console.log(`| ${manifest.name}, ${result.dtype}, wasm (${r.threads ?? '?'} thread(s)), Chromium ${result.chromium} | value |`);
console.log('|---|---|');
console.log(`| outcome | ${r.ok ? 'image made' : `failed in ${r.phase}: ${r.error?.name}${r.error?.code ? ` ${r.error.code}` : ''}: ${r.error?.message}`} |`);
if (r.bytes)
  console.log(
    `| bytes: progress events, first byte / every byte verified | ${r.bytes.events}, ${s(r.bytes.firstMs)} / ${s(r.bytes.doneMs)} (${mb(r.bytes.loaded)} of ${mb(r.bytes.total)}) |`,
  );
for (const x of r.sessions ?? []) console.log(`| session ${x.role}: start / ready | ${s(x.startMs)} / ${s(x.doneMs)} |`);
console.log(`| load (call to backend ready) | ${s(r.loadMs)} |`);
console.log(`| text encoding (each call) | ${(r.encodeMs ?? []).map((ms) => s(ms)).join(', ') || '-'} |`);
if (r.stepMs?.length)
  console.log(`| generate(): ${r.stepMs.length} steps (elapsed at each step) | ${r.stepMs.map((ms) => (ms / 1000).toFixed(1)).join(', ')} s |`);
console.log(`| generate() total / decode | ${s(r.generateMs)} / ${s(r.decodeMs)} |`);
if (r.image)
  console.log(
    `| image | ${r.image.width} x ${r.image.height} x ${r.image.channels}, finite ${r.image.finite}, [${r.image.min.toFixed(3)}, ${r.image.max.toFixed(3)}] |`,
  );
for (const [p, b] of Object.entries(result.peakRssBytesByPhase)) console.log(`| peak RSS of all Chromium processes, ${p} | ${mb(b)} |`);
console.log(`| load average before / after (1 min) | ${result.loadAverage.before[0].toFixed(1)} / ${result.loadAverage.after[0].toFixed(1)} |`);
if (json) writeFileSync(json, `${JSON.stringify(result, null, 2)}\n`);
