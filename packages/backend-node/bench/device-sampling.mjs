// Device sampling on CPU onnxruntime (issue 18): the sampler graph (float64, CPU provider) against core's host
// sampler on the default bundle. Not a test: it prints a JSON report.
//
//   node packages/backend-node/bench/device-sampling.mjs [--bundle DIR] [--images 2000] [--batch 10] [--runs 5] [--threads N]
//
// 1. Agreement: generate() runs with the device sampler while every sampleStep is also run by core's reference
//    (sampleStepHost) on a host copy of the same logits, state and uniforms: the share of identical committed
//    (position, token) pairs over --images images (vanilla N = 16 and shortcut N = 16, B = 5, half each), and the
//    sampling time per step of each (the same calls, back to back).
// 2. Bytes per step between host and sampler: the host sampler reads all logits [rows, L, K] (a download when
//    the model runs on a GPU; on the CPU the same memory); the device sampler moves indices, u0, noise, scalars
//    up and picks and ids down.
// 3. generate() wall time, vanilla N = 16 and shortcut N = 16, B = 5, one batch of --batch images, sampler
//    'host' against 'device' on the same backend (median of --runs after one warm-up).
// GPU rows are not measured here (no GPU in this job): see BENCHMARKS.md, "Device sampling", for the commands.
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { generate } from '@migm/core';
import { samplerAgreementProbe } from '@migm/backend-ort';
import { createNodeBackend } from '../dist/index.js';

const { values: args } = parseArgs({
  options: {
    bundle: { type: 'string', default: fileURLToPath(new URL('../../bundle-fashion-mnist/bundle/', import.meta.url)) },
    images: { type: 'string', default: '2000' },
    batch: { type: 'string', default: '10' },
    runs: { type: 'string', default: '5' },
    threads: { type: 'string' },
  },
});
const images = Number(args.images);
const batch = Number(args.batch);
const runs = Number(args.runs);
const threads = args.threads ? { threads: Number(args.threads) } : {};

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const settings = [
  { label: 'vanilla N=16', options: { steps: 16, predictor: 'vanilla' } },
  { label: 'shortcut N=16, B=5', options: { steps: 16, predictor: 'shortcut', budget: 5 } },
];

const backend = await createNodeBackend({ bundle: args.bundle, deviceSampling: true, ...threads });
const { count: L, codebookSize: K } = backend.manifest.tokens;
const classes = backend.manifest.condition.numClasses;
const report = {
  bundle: backend.manifest.name,
  L,
  K,
  cpu: cpus()[0]?.model,
  cores: cpus().length,
  node: process.version,
  agreement: {},
  perStep: {},
  generate: {},
};

// 1. Agreement and per-step sampling time over `images` images (after a warm-up that builds the sampler graphs).
const { backend: probe, stats } = samplerAgreementProbe(backend);
for (const s of settings) await generate(backend, { ...s.options, condition: [0, 1], seed: 99, sampler: 'device' });
let seed = 1;
for (const s of settings) {
  const before = { ...stats, differing: stats.differing.length };
  for (let done = 0; done < images / settings.length; done += batch) {
    await generate(probe, { ...s.options, condition: Array.from({ length: batch }, (_, i) => (seed + i) % classes), seed: seed++, sampler: 'device' });
  }
  report.agreement[s.label] = { committed: stats.total - before.total, identical: stats.same - before.same };
  if (stats.steps === before.steps) continue;
  report.perStep[s.label] = {
    steps: stats.steps - before.steps,
    hostSamplerMs: (stats.hostMs - before.hostMs) / (stats.steps - before.steps),
    deviceSamplerMs: (stats.deviceMs - before.deviceMs) / (stats.steps - before.steps),
  };
}
report.agreement.all = { images, committed: stats.total, identical: stats.same, share: stats.same / stats.total, differing: stats.differing };

// 2. Bytes per step, for a guided step of `batch` images at half the positions masked, committing L / 16.
const m = L / 2;
const k = Math.max(1, Math.round(L / 16));
const traffic = backend.samplerTraffic(batch, m, k, true);
report.bytesPerStep = {
  example: `guided step, ${batch} images, ${m} masked positions each, ${k} committed`,
  hostSampler: { up: 0, down: 2 * batch * L * K * 4, note: 'the logits [2B, L, K] float32 (a download when the model runs on a GPU)' },
  deviceSampler: traffic,
};

// 3. generate() wall time, host against device sampler, same backend.
for (const s of settings) {
  const row = {};
  for (const sampler of ['host', 'device']) {
    const opts = { ...s.options, condition: Array.from({ length: batch }, (_, i) => i % classes), seed: 7, sampler };
    await generate(backend, opts); // warm-up (and the sampler graph's session on first use)
    const ms = [];
    for (let r = 0; r < runs; r++) ms.push((await generate(backend, opts)).timings.totalMs);
    row[sampler] = { medianMs: median(ms), minMs: Math.min(...ms), maxMs: Math.max(...ms) };
  }
  row.deviceOverHost = row.device.medianMs / row.host.medianMs;
  report.generate[s.label] = row;
}
await backend.dispose();
console.log(JSON.stringify(report, null, 2));
