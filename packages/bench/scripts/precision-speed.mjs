#!/usr/bin/env node
// Speed, memory and download size of a bundle's precision variants (issue 26), one child process per dtype so
// peak RSS is each one's own: the bytes a dtype loads (its download), the child's peak RSS after loading and after
// generating, ms per full and per skipped step (the shortcut run's trace: backend + core time per step), and
// seconds per image for vanilla and the shortcut at N and B (batch 1; generate() only) and for decoding. Text
// bundles (aMUSEd) are prompted ("a photo of a red fox in the snow", guided by the empty negative prompt, so a full
// step runs the base on 2 rows) and also report ms per text encoding (prompt and negative prompt, batch 2); a
// bundle without a shortcut graph gets no shortcut run. The dtypes run one after another in the same invocation,
// so their timings share the machine's load (each row records the load average before and after it). Prints a
// table and writes JSON.
// Run after `pnpm build`:
//   node packages/bench/scripts/precision-speed.mjs --bundle DIR [--dtypes fp32,int8,int4,base=int4+decoder=fp16] [--steps 32] [--budget 12] [--images 1] [--out FILE.json]
// A dtype with '=' names one precision per graph, '+' between graphs (the others run fp32).
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
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
  const loadAvg0 = loadavg()[0];
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
  const text = backend.capabilities.text === true;
  const PROMPT = 'a photo of a red fox in the snow';
  const textMs = [];
  if (text) {
    // The encoding generate() does once per run: the prompt and the negative prompt in one call.
    const ids = [PROMPT, backend.manifest.condition.negativePrompt ?? ''].flatMap((p) => [...backend.tokenizer.encode(p).ids]);
    for (let i = 0; i < 3; i++) {
      const e0 = performance.now();
      await backend.encodeText(Int32Array.from(ids), 2);
      textMs.push(performance.now() - e0);
    }
  }
  const methods = [['vanilla', { predictor: 'none' }]];
  if (backend.manifest.graphs.shortcut) methods.push(['shortcut', { predictor: 'learned', budget: B }]);
  for (const [label, opts] of methods) {
    const secs = [];
    for (let i = 0; i < images; i++) {
      const condition = text ? { prompt: PROMPT } : { condition: i % 10 };
      const r = await generate(backend, { ...condition, batch: 1, steps: N, seed: 1 + i, ...opts });
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
    msText: median(textMs),
    msFullStep: median(full),
    msSkippedStep: median(skipped),
    sPerImageVanilla: runs.vanilla,
    sPerImageShortcut: runs.shortcut ?? null,
    sDecode: median(decodeS),
    loadAvg: [loadAvg0, loadavg()[0]],
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
const ratio = (a, b) => (a && b ? `${(a / b).toFixed(2)}x` : '-');
const text = rows.some((r) => r.msText !== null);
const shortcut = rows.some((r) => r.sPerImageShortcut !== null);
const N = values.steps;
const cols = [
  ['dtype', (r) => r.dtype],
  ['download MB', (r) => f(r.downloadMB)],
  ['peak RSS MB', (r) => f(r.peakRssMB, 0)],
  ['load s', (r) => f(r.loadS)],
  ...(text ? [['ms / text encoding', (r) => f(r.msText, 0)]] : []),
  [text ? 'ms / guided full step' : 'ms / full step', (r) => f(r.msFullStep, 0)],
  ['full step vs fp32', (r) => ratio(fp32?.msFullStep, r.msFullStep)],
  ...(shortcut ? [['ms / skipped step', (r) => f(r.msSkippedStep, 0)]] : []),
  [`s / image vanilla N=${N}`, (r) => f(r.sPerImageVanilla)],
  ...(shortcut
    ? [
        [`s / image shortcut N=${N} B=${values.budget}`, (r) => f(r.sPerImageShortcut)],
        ['shortcut vs fp32 vanilla', (r) => ratio(fp32?.sPerImageVanilla, r.sPerImageShortcut)],
      ]
    : []),
  ['s / decode', (r) => f(r.sDecode)],
  ['load avg', (r) => r.loadAvg.map((v) => v.toFixed(1)).join(' / ')],
];
const lines = [
  `| ${cols.map((c) => c[0]).join(' | ')} |`,
  `|---|${cols
    .slice(1)
    .map(() => '---:')
    .join('|')}|`,
  ...rows.map((r) => `| ${cols.map((c) => c[1](r)).join(' | ')} |`),
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
