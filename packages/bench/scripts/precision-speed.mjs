#!/usr/bin/env node
// Speed, memory and download size of a bundle's precision variants (issue 26), one child process per dtype so
// peak RSS is each one's own: the bytes a dtype loads (its download), the child's peak RSS after loading and after
// generating, ms per full and per skipped step (the shortcut run's trace: backend + core time per step), and
// seconds per image for vanilla and the shortcut at N and B (batch 1; generate() only) and for decoding. The dtypes run one after another in the
// same invocation, so their timings share the machine's load. Prints a table and writes JSON.
// Run after `pnpm build`:
//   node packages/bench/scripts/precision-speed.mjs --bundle DIR [--dtypes fp32,int8,int4,base=int4+decoder=fp16] [--steps 32] [--budget 12] [--images 1] [--out FILE.json]
// A dtype with '=' names one precision per graph, '+' between graphs (the others run fp32).
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    bundle: { type: 'string' },
    dtypes: { type: 'string', default: 'fp32,int8,int4' },
    steps: { type: 'string', default: '32' },
    budget: { type: 'string', default: '12' },
    images: { type: 'string', default: '1' },
    threads: { type: 'string' },
    child: { type: 'string' },
    out: { type: 'string', default: 'precision-speed.json' },
  },
});
if (!values.bundle) throw new Error('--bundle DIR is required');

if (values.child) {
  // One dtype, in its own process.
  const { createNodeBackend, readBundleDir, selectPrecision } = await import('@migm/backend-node');
  const { generate } = await import('@migm/core');
  // 'int8', or one precision per graph: 'base=int4+shortcut=int4+decoder=fp16' (a graph left out runs fp32)
  const dtype = values.child.includes('=') ? Object.fromEntries(values.child.split('+').map((p) => p.split('='))) : values.child;
  const t0 = performance.now();
  const skip = (m) => selectPrecision(m, dtype, { fp16: false }).unused;
  const files = await readBundleDir(values.bundle, { skip });
  const backend = await createNodeBackend({ bundle: files, dtype, ...(values.threads ? { threads: Number(values.threads) } : {}) });
  const loadS = (performance.now() - t0) / 1000;
  const rssLoadedMB = process.resourceUsage().maxRSS / 1024;
  const downloadMB = [...files.files.values()].reduce((a, b) => a + b.byteLength, 0) / 1e6;
  const N = Number(values.steps);
  const B = Number(values.budget);
  const images = Number(values.images);
  const runs = {};
  const full = []; // vanilla's steps
  const skipped = []; // the shortcut's skipped steps
  const decodeS = []; // the decoder, once per image (not in generate()'s time)
  for (const [label, opts] of [
    ['vanilla', { predictor: 'none' }],
    ['shortcut', { predictor: 'learned', budget: B }],
  ]) {
    const secs = [];
    for (let i = 0; i < images; i++) {
      const r = await generate(backend, { condition: i % 10, batch: 1, steps: N, seed: 1 + i, ...opts });
      secs.push(r.timings.totalMs / 1000);
      const d0 = performance.now();
      await backend.decode(r.tokens, 1);
      decodeS.push((performance.now() - d0) / 1000);
      for (const t of r.trace) {
        if (label === 'vanilla') full.push(t.backendMs + t.coreMs);
        else if (t.kind !== 'full') skipped.push(t.backendMs + t.coreMs);
      }
    }
    runs[label] = secs.reduce((a, b) => a + b, 0) / secs.length;
  }
  const median = (v) => (v.length === 0 ? null : [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]);
  const out = {
    dtype: values.child,
    precision: Object.fromEntries(Object.entries(backend.manifest.graphs).map(([r, g]) => [r, g.precision ?? 'fp32'])),
    downloadMB,
    loadS,
    rssLoadedMB,
    peakRssMB: process.resourceUsage().maxRSS / 1024,
    msFullStep: median(full),
    msSkippedStep: median(skipped),
    sPerImageVanilla: runs.vanilla,
    sPerImageShortcut: runs.shortcut,
    sDecode: median(decodeS),
  };
  await backend.dispose();
  process.stdout.write(JSON.stringify(out) + '\n');
  process.exit(0);
}

const started = new Date().toISOString();
const rows = [];
for (const dtype of values.dtypes.split(',')) {
  const args = [
    fileURLToPath(import.meta.url),
    '--bundle',
    values.bundle,
    '--child',
    dtype,
    '--steps',
    values.steps,
    '--budget',
    values.budget,
    '--images',
    values.images,
  ];
  if (values.threads) args.push('--threads', values.threads);
  const text = execFileSync(process.execPath, args, {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, ORT_DISABLE_TELEMETRY: '1' },
  });
  const row = JSON.parse(text.trim().split('\n').pop());
  rows.push(row);
  console.error(`${dtype}: ${JSON.stringify(row)}`);
}
const fp32 = rows.find((r) => r.dtype === 'fp32');
const f = (v, d = 1) => (v === null || v === undefined ? '-' : v.toFixed(d));
const lines = [
  `| dtype | download MB | peak RSS MB | load s | ms / full step | ms / skipped step | s / image vanilla N=${values.steps} | s / image shortcut N=${values.steps} B=${values.budget} | shortcut vs fp32 vanilla | s / decode |`,
  '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ...rows.map(
    (r) =>
      `| ${r.dtype} | ${f(r.downloadMB)} | ${f(r.peakRssMB, 0)} | ${f(r.loadS)} | ${f(r.msFullStep, 0)} | ${f(r.msSkippedStep, 0)} | ${f(r.sPerImageVanilla)} | ${f(r.sPerImageShortcut)} | ${fp32 ? `${(fp32.sPerImageVanilla / r.sPerImageShortcut).toFixed(2)}x` : '-'} | ${f(r.sDecode)} |`,
  ),
];
console.log(lines.join('\n'));
writeFileSync(
  values.out,
  JSON.stringify(
    { bundle: values.bundle, started, finished: new Date().toISOString(), steps: Number(values.steps), budget: Number(values.budget), rows, table: lines },
    null,
    2,
  ),
);
