// Checks the Node backend on accelerated onnxruntime execution providers against the CPU, on one bundle:
// every graph's outputs, max |difference| on the same seeded random inputs; per device, generate() with
// vanilla and the learned shortcut (tokens equal to the CPU's? ms per image, median of timed runs after a
// warm-up); concurrent generate() calls on one backend against sequential ones.
//
// usage (after `pnpm build`):
//   node packages/backend-node/scripts/device-check.mjs --bundle DIR [--devices cpu,cuda,webgpu] [--batch 16]
//        [--runs 5] [--require webgpu] [--out result.json]
// `auto` reports the device createNodeBackend picked (CUDA, else the CPU).
// `cpu` and `cuda` go through createNodeBackend; `webgpu` (onnxruntime-node's WebGPU provider: Dawn on
// Vulkan / Metal / D3D12) is not a backend-node device, so it runs the same OrtBackend with that provider.
// Settings: vanilla at the bundle's default N and the learned shortcut at its default budget (when the bundle
// has one). A device that fails to start is reported with its error and skipped. Prints JSON; exit 1 when any
// parity check exceeds --tolerance (default 1e-3) or a device named by --require (comma list) did not start.
// Parity goes through the backend's own sessions (forward, head, velocity, decode on seeded inputs; head and
// velocity see each device's own forward feature); onnxruntime may still place some nodes on the CPU, which
// this script cannot see.
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { generate } from '@migm/core';
import { equalShare, graphOutputs, maxAbsDiff, timeGenerate } from '@migm/core/testing';
import { OrtBackend } from '@migm/backend-ort';
import { createNodeBackend, readBundleDir } from '@migm/backend-node';

const { values: args } = parseArgs({
  options: {
    bundle: { type: 'string' },
    devices: { type: 'string', default: 'cpu,cuda,webgpu' },
    batch: { type: 'string', default: '16' },
    runs: { type: 'string', default: '5' },
    tolerance: { type: 'string', default: '1e-3' },
    require: { type: 'string', default: '' },
    out: { type: 'string' },
  },
});
if (!args.bundle) throw new Error('--bundle DIR is required');
// The CPU always runs first: it is the reference every other device is compared with.
const devices = ['cpu', ...args.devices.split(',').filter((d) => d !== 'cpu')];
const batch = Number(args.batch);
const runs = Number(args.runs);
const tolerance = Number(args.tolerance);
const required = args.require ? args.require.split(',') : [];
const bundle = await readBundleDir(args.bundle);
const { manifest } = bundle;

async function createBackend(device) {
  if (device === 'auto') return createNodeBackend({ bundle, device, onFallback: (f) => console.error(`auto: ${f.device} unavailable`) });
  if (device === 'webgpu') {
    return OrtBackend.create({ ort, bundle, name: 'onnxruntime-node', device, sessionOptions: { executionProviders: ['webgpu'] } });
  }
  return createNodeBackend({ bundle, device, onFallback: () => {} });
}

const { steps: N, budget: B } = manifest.sampling;
const settings = [
  { name: `vanilla N${N}`, predictor: 'none', steps: N },
  ...(manifest.graphs.shortcut ? [{ name: `shortcut N${N} B${B}`, predictor: 'learned', steps: N, budget: B }] : []),
];
/** generate() options of one setting. */
const optionsFor = (s, extra) => ({ steps: s.steps, predictor: s.predictor, ...(s.budget ? { budget: s.budget } : {}), ...extra });
const report = { bundle: manifest.name, batch, runs, node: process.version, devices: {} };
let cpuOutputs = {};
const cpuTokens = {};
let failed = false;
for (const device of devices) {
  const row = {};
  report.devices[device] = row;
  const t0 = performance.now();
  let backend;
  try {
    backend = await createBackend(device);
  } catch (err) {
    row.error = String(err?.message ?? err);
    console.error(`${device}: ${row.error}`);
    continue;
  }
  row.createMs = Math.round(performance.now() - t0);
  row.resolvedDevice = backend.device;
  row.parity = {};
  // Every graph through the backend's own sessions on the same seeded inputs (core's PRNG).
  const outs = await graphOutputs(backend);
  if (device === 'cpu') cpuOutputs = outs;
  else {
    for (const [k, v] of Object.entries(outs)) {
      row.parity[k] = maxAbsDiff(v, cpuOutputs[k]);
      if (!(row.parity[k] <= tolerance)) failed = true; // NaN fails too
    }
  }
  row.generate = {};
  for (const s of settings) {
    const t = await timeGenerate(backend, optionsFor(s, { condition: manifest.condition.numClasses - 1, batch, seed: 1 }), runs);
    const first = t.warmup; // its tokens are compared across devices
    // backendShare: where the time goes, onnxruntime (graphs and copies) vs core (sampling in JS).
    const cell = { msPerImage: t.msPerImage, msPerImageMin: t.msPerImageMin, msPerImageMax: t.msPerImageMax, backendShare: t.backendShare };
    if (device === 'cpu') cpuTokens[s.name] = first.tokens;
    else if (cpuTokens[s.name]) cell.tokensEqualToCpu = equalShare(first.tokens, cpuTokens[s.name]);
    row.generate[s.name] = cell;
  }
  const last = settings.at(-1);
  const [a, b] = await Promise.all([5, 6].map((seed) => generate(backend, optionsFor(last, { condition: 0, batch: 4, seed }))));
  const a2 = await generate(backend, optionsFor(last, { condition: 0, batch: 4, seed: 5 }));
  const b2 = await generate(backend, optionsFor(last, { condition: 0, batch: 4, seed: 6 }));
  row.concurrentEqualsSequential = equalShare(a.tokens, a2.tokens) === 1 && equalShare(b.tokens, b2.tokens) === 1;
  row.liveFeaturesAfter = backend.liveFeatures;
  await backend.dispose();
  console.error(`${device}: done`);
}
const text = JSON.stringify(report, null, 2);
console.log(text);
if (args.out) writeFileSync(args.out, text);
const missing = required.filter((d) => !report.devices[d] || report.devices[d].error);
if (missing.length) console.error(`required device(s) did not start: ${missing.join(', ')}`);
process.exitCode = failed || missing.length ? 1 : 0;
