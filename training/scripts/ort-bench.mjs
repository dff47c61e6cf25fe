// Times a base step (base graph) against a shortcut step (shortcut graph + head graph) with
// onnxruntime-node, at the batch sizes given (a CFG pair of images = batch 2).
// usage: node scripts/ort-bench.mjs bundleDir [batch ...] -> JSON on stdout
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const ort = require('onnxruntime-node');

const [dir, ...batchArgs] = process.argv.slice(2);
const batches = batchArgs.length ? batchArgs.map(Number) : [2, 16];
const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
const L = m.tokens.count, K = m.tokens.codebookSize, D = m.featureDim;
const threads = Number(process.env.MIGM_BENCH_THREADS || 1);
const open = (g) => ort.InferenceSession.create(join(dir, m.graphs[g].file),
  { intraOpNumThreads: threads, interOpNumThreads: 1 });
const base = await open('base');
const head = await open('head');
const shortcut = await open('shortcut');

function rnd(n, f) { const a = new Float32Array(n); for (let i = 0; i < n; i++) a[i] = f(i); return a; }
async function time(fn, reps) {
  for (let i = 0; i < 3; i++) await fn();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < reps; i++) await fn();
  return Number(process.hrtime.bigint() - t0) / 1e6 / reps;
}
const out = { threads, results: [] };
for (const b of batches) {
  const nNew = Math.max(1, Math.round(L / 16));
  const tokens = new ort.Tensor('int32', Int32Array.from({ length: b * L }, (_, i) => (i * 7919) % (K + 1)), [b, L]);
  const classes = new ort.Tensor('int32', Int32Array.from({ length: b }, (_, i) => i % (m.condition.numClasses + 1)), [b]);
  const feature = new ort.Tensor('float32', rnd(b * L * D, (i) => Math.sin(i)), [b, L, D]);
  const newTokens = new ort.Tensor('int32', Int32Array.from({ length: b * nNew }, (_, i) => (i * 31) % K), [b, nNew]);
  const newPositions = new ort.Tensor('int32', Int32Array.from({ length: b * nNew }, (_, i) => (i * 13) % L), [b, nNew]);
  const ratio = new ort.Tensor('float32', rnd(b, () => 0.5), [b]);
  const reps = b <= 2 ? 200 : 40;
  const baseMs = await time(() => base.run({ tokens, classes }), reps);
  const headMs = await time(() => head.run({ feature }), reps);
  const scMs = await time(() => shortcut.run({ feature, newTokens, newPositions, ratio }), reps);
  out.results.push({ batch: b, newTokens: nNew, baseMs, headMs, shortcutMs: scMs,
    shortcutStepMs: scMs + headMs, ratio: (scMs + headMs) / baseMs });
}
process.stdout.write(JSON.stringify(out));
