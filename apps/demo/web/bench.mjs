// Per-image latency of generate() on onnxruntime-web wasm in headless Chromium next to onnxruntime-node CPU,
// same bundle, settings and thread count. Writes the web-bench section of BENCHMARKS.md.
// Usage: pnpm --filter @migm/demo run web:bench [-- --runs 5 --batch 8]
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';
import { chromium } from 'playwright-core';
import * as ort from 'onnxruntime-node';
import { generate, validateManifest } from '@migm/core';
import { OrtBackend } from '@migm/backend-ort';
import { defaultBundleDir } from './assets.mjs';
import { startServer } from './serve.mjs';

const arg = (name, fallback) => {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 ? Number(process.argv[at + 1]) : fallback;
};
const RUNS = arg('runs', 5);
const WARMUP = arg('warmup', 2);
const BATCH = arg('batch', 8);
const BENCHMARKS = fileURLToPath(new URL('../../../BENCHMARKS.md', import.meta.url));
const START = '<!-- web-bench:start -->';
const END = '<!-- web-bench:end -->';

const dir = defaultBundleDir();
const manifest = validateManifest(JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')));
const files = new Map(manifest.files.map((f) => [f.path, new Uint8Array(readFileSync(join(dir, f.path)))]));
const { steps, budget } = manifest.sampling;
const condition = Array.from({ length: BATCH }, (_, i) => i % manifest.condition.numClasses);
const settings = [
  { label: `vanilla, N=${steps}`, options: { condition, steps, seed: 1, predictor: 'vanilla' } },
  ...(manifest.graphs.shortcut
    ? [{ label: `shortcut, N=${steps}, B=${budget ?? 2}`, options: { condition, steps, seed: 1, predictor: 'shortcut', budget: budget ?? 2 } }]
    : []),
];
const LOAD = loadavg()[0];
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

console.log(`bundle ${manifest.name} (${dir}), batch ${BATCH}, ${WARMUP} warm-up + ${RUNS} timed runs per setting`);
await build({ configFile: fileURLToPath(new URL('./vite.config.ts', import.meta.url)), logLevel: 'error' });
const server = await startServer();
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
});
const rows = [];
const browserVersion = browser.version();
// One page per thread count: onnxruntime-web fixes its thread pool at its first session.
const THREADS = [...new Set([1, Math.min(cpus().length, 4)])];
try {
  for (const threads of THREADS) {
    const page = await browser.newPage();
    await page.goto(`${server.url}selftest.html`);
    await page.waitForFunction('globalThis.selftest !== undefined');
    for (const s of settings) {
      const web = await page.evaluate(([o, r, w, t]) => globalThis.selftest.bench('wasm', o, r, w, 'bundle/', t), [s.options, RUNS, WARMUP, threads]);
      const node = await OrtBackend.create({
        ort,
        bundle: { manifest, files },
        name: 'onnxruntime-node',
        device: 'cpu',
        sessionOptions: { executionProviders: ['cpu'], intraOpNumThreads: web.threads, interOpNumThreads: 1 },
      });
      const nodeMs = [];
      for (let i = 0; i < WARMUP + RUNS; i++) {
        const r = await generate(node, s.options);
        if (i >= WARMUP) nodeMs.push(r.timings.totalMs / r.batch);
      }
      await node.dispose();
      const row = {
        label: s.label,
        threads: web.threads,
        web: median(web.msPerImage),
        node: median(nodeMs),
        webMin: Math.min(...web.msPerImage),
        nodeMin: Math.min(...nodeMs),
      };
      rows.push(row);
      console.log(
        `${s.label}, ${row.threads} thread(s): wasm in Chromium ${row.web.toFixed(2)} (best ${row.webMin.toFixed(2)}) ms/img, onnxruntime-node ${row.node.toFixed(2)} (best ${row.nodeMin.toFixed(2)}) ms/img`,
      );
    }
    await page.close();
  }
  const section = [
    START,
    '## Web: onnxruntime-web wasm in Chromium vs onnxruntime-node',
    '',
    `Written by \`pnpm --filter @migm/demo run web:bench\` (apps/demo/web/bench.mjs) on ${new Date().toISOString().slice(0, 10)}.`,
    `Bundle \`${manifest.name}\` ${manifest.version} (${manifest.tokens.count} tokens, width ${manifest.featureDim}), batch ${BATCH} with CFG,`,
    `median and best of ${RUNS} runs after ${WARMUP} warm-up runs; per-image time = generate() wall time / batch (decode not included).`,
    `Headless Chromium ${browserVersion} (page cross-origin isolated), onnxruntime-web 1.30.0 (plain wasm build);`,
    `onnxruntime-node 1.30.0 CPU with the same number of threads (intraOpNumThreads). Machine: ${cpus().length} cores`,
    `(${cpus()[0]?.model ?? 'cpu'}), load average ${LOAD.toFixed(2)} at the start (other work on the machine inflates both columns).`,
    '',
    '| setting | threads | wasm in Chromium, ms/image: median (best) | onnxruntime-node CPU, ms/image: median (best) | wasm / node: median (best) |',
    '|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.label} | ${r.threads} | ${r.web.toFixed(2)} (${r.webMin.toFixed(2)}) | ${r.node.toFixed(2)} (${r.nodeMin.toFixed(2)}) | ${(r.web / r.node).toFixed(2)}x (${(r.webMin / r.nodeMin).toFixed(2)}x) |`,
    ),
    '',
    'Target: wasm within 2x of Node. WebGPU is not timed here: headless Chromium only has a software adapter (SwiftShader).',
    END,
  ].join('\n');
  const old = existsSync(BENCHMARKS) ? readFileSync(BENCHMARKS, 'utf8') : '# Benchmarks\n';
  const a = old.indexOf(START);
  const b = old.indexOf(END);
  const next = a >= 0 && b > a ? old.slice(0, a) + section + old.slice(b + END.length) : `${old.replace(/\s*$/, '')}\n\n${section}\n`;
  writeFileSync(BENCHMARKS, next);
  console.log(`wrote the web-bench section of ${BENCHMARKS}`);
} finally {
  await browser.close();
  await server.close();
}
