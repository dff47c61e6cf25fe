// Runs @migm/backend-web's WebGPU paths outside a browser, on a real GPU: onnxruntime-web's WebGPU build in Node,
// with WebGPU from Dawn (the `webgpu` npm package's dawn.node). The GPU machines lent to this project have no
// browser, and headless Chromium here only has a software adapter, so this is how the GPU-resident feature path
// (WebGpuBackend: features stay in GPU buffers, combined in WGSL) gets checked and timed on hardware.
//
// Per bundle it compares, against onnxruntime-web's wasm build on the CPU (the reference):
// - graph outputs (forward logits and feature, head, velocity, decode) on the same seeded inputs, max |difference|;
// - generate() tokens of a small run per setting (share equal to wasm's);
// and times generate() on WebGPU with GPU-resident features (with the host sampler and with the device sampler,
// which keeps logits on the GPU) and with host features (OrtBackend), per batch:
// ms per image (median, min, max of the timed runs after a warm-up) and the share of time inside onnxruntime.
//
// usage (Node >= 20.6, after `pnpm build`; the `webgpu` package is not a dependency of this workspace: unpack it anywhere,
// e.g. `npm pack webgpu@0.6.2 && tar xzf webgpu-0.6.2.tgz` gives ./package):
//   node packages/backend-web/scripts/webgpu-node-check.mjs --bundle DIR --webgpu ./package
//        [--batches 1,16,64] [--runs 5] [--ort-dist DIR] [--dawn toggle,...] [--out result.json]
// --ort-dist: onnxruntime-web's dist folder (default: the one this workspace resolves). --dawn: options for
// dawn.node's create(), e.g. backend=vulkan. Without a GPU, Dawn can use Chromium's SwiftShader Vulkan driver
// (VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json): slow, but it checks the wiring.
// Prints JSON; exit 1 when a parity check exceeds --tolerance (default 1e-3) or WebGPU did not start.
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { generate } from '@migm/core';
import { equalShare, graphOutputs, maxAbsDiff, timeGenerate } from '@migm/core/testing';
import { createWebBackend, fetchBundle } from '../dist/index.js';

const { values: args } = parseArgs({
  options: {
    bundle: { type: 'string' },
    webgpu: { type: 'string' },
    batches: { type: 'string', default: '1,16,64' },
    runs: { type: 'string', default: '5' },
    tolerance: { type: 'string', default: '1e-3' },
    'ort-dist': { type: 'string' },
    dawn: { type: 'string', default: '' },
    out: { type: 'string' },
  },
});
if (!args.bundle || !args.webgpu) throw new Error('--bundle DIR and --webgpu DIR (the unpacked `webgpu` npm package) are required');
const batches = args.batches.split(',').map(Number);
const runs = Number(args.runs);
const tolerance = Number(args.tolerance);
const ortDist = resolve(args['ort-dist'] ?? dirname(fileURLToPath(import.meta.resolve('onnxruntime-web'))));

// WebGPU globals from Dawn. Node 20 has no `navigator`; later versions have one without `gpu`.
const dawn = await import(pathToFileURL(join(args.webgpu, 'index.js')).href);
Object.assign(globalThis, dawn.globals);
Object.defineProperty(globalThis, 'navigator', {
  value: { ...(globalThis.navigator ?? {}), gpu: dawn.create(args.dawn ? args.dawn.split(',') : []) },
  configurable: true,
  writable: true,
});
// onnxruntime-web's wasm memory is shared (a SharedArrayBuffer), and dawn.node's queue.writeBuffer rejects views
// of shared memory ("Invalid argument"); browsers accept them. Copy such views first.
{
  const queue = dawn.globals.GPUQueue.prototype;
  const writeBuffer = queue.writeBuffer;
  queue.writeBuffer = function (buffer, offset, data, dataOffset, size) {
    const plain = data && data.buffer instanceof SharedArrayBuffer ? data.slice() : data;
    return writeBuffer.call(this, buffer, offset, plain, dataOffset, size);
  };
}

const ortWebgpu = await import(pathToFileURL(join(ortDist, 'ort.webgpu.min.mjs')).href);
const ortWasm = await import(pathToFileURL(join(ortDist, 'ort.wasm.min.mjs')).href);
// Read through fetchBundle (manifest schema, sizes, sha256), from disk instead of the network.
const bundleDir = `${pathToFileURL(resolve(args.bundle)).href}/`;
const bundle = await fetchBundle(bundleDir, { cache: false, fetch: async (url) => new Response(await readFile(fileURLToPath(String(url)))) });
const { manifest } = bundle;

const MODES = {
  wasm: { device: 'wasm', ort: ortWasm },
  'webgpu-gpu-features': { device: 'webgpu', ort: ortWebgpu, deviceFeatures: true },
  'webgpu-host-features': { device: 'webgpu', ort: ortWebgpu, deviceFeatures: false },
};
const create = (mode) => {
  const { device, ort, deviceFeatures } = MODES[mode];
  return createWebBackend({ bundle, device, ort, wasmPaths: `${ortDist}/`, numThreads: 1, ...(deviceFeatures === undefined ? {} : { deviceFeatures }) });
};

const { steps: N, budget: B } = manifest.sampling;
const settings = [
  { name: `vanilla N${N}`, predictor: 'none', steps: N },
  ...(manifest.graphs.shortcut ? [{ name: `shortcut N${N} B${B}`, predictor: 'learned', steps: N, budget: B }] : []),
];
const optionsFor = (s, extra) => ({
  steps: s.steps,
  predictor: s.predictor,
  ...(s.budget ? { budget: s.budget } : {}),
  condition: manifest.condition.numClasses - 1,
  seed: 1,
  ...extra,
});
const TOKEN_BATCH = 4; // the token comparison runs at a small batch: wasm on one thread is slow

const report = { bundle: `${manifest.name} ${manifest.version}`, node: process.version, runs, modes: {} };
let reference;
let failed = false;

/**
 * Times generate() per batch and setting on one backend: ms per image and the onnxruntime share. A backend with
 * a device sampler (GPU-resident features: logits stay on the GPU) is timed with core's host sampler and with
 * the device sampler, cell names ending in "host sampler" / "device sampler".
 */
async function timeSettings(backend) {
  const cells = {};
  const samplers = backend.capabilities.deviceSampling ? ['host', 'device'] : [undefined];
  for (const batch of batches) {
    for (const s of settings) {
      for (const sampler of samplers) {
        const { warmup, ...timing } = await timeGenerate(backend, optionsFor(s, { batch, ...(sampler ? { sampler } : {}) }), runs);
        cells[`${s.name} batch ${batch}${sampler ? `, ${sampler} sampler` : ''}`] = timing;
      }
    }
  }
  return cells;
}

/** One mode: wasm records the reference; the WebGPU modes are compared with it, then timed. */
async function checkMode(mode, backend, row) {
  row.selection = backend.selection;
  const outs = await graphOutputs(backend);
  const tokens = {};
  for (const s of settings) tokens[s.name] = (await generate(backend, optionsFor(s, { batch: TOKEN_BATCH }))).tokens;
  if (mode === 'wasm') {
    reference = { outs, tokens };
    return;
  }
  row.parity = {};
  for (const [k, v] of Object.entries(outs)) {
    row.parity[k] = maxAbsDiff(v, reference.outs[k]);
    if (!(row.parity[k] <= tolerance)) failed = true; // NaN fails too
  }
  row.tokensEqualToWasm = {};
  for (const s of settings) row.tokensEqualToWasm[s.name] = equalShare(tokens[s.name], reference.tokens[s.name]);
  row.generate = await timeSettings(backend);
}

for (const mode of Object.keys(MODES)) {
  const row = {};
  report.modes[mode] = row;
  const t0 = performance.now();
  let backend;
  try {
    backend = await create(mode);
    row.createMs = Math.round(performance.now() - t0);
    await checkMode(mode, backend, row);
    row.liveFeaturesAfter = backend.liveFeatures;
    console.error(`${mode}: done`);
  } catch (err) {
    row.error = String(err?.stack ?? err);
    console.error(`${mode}: ${row.error}`);
    failed = true;
  } finally {
    await backend?.dispose();
  }
  if (mode === 'wasm' && !reference) break; // nothing to compare with
}
const text = JSON.stringify(report, null, 2);
console.log(text);
if (args.out) await writeFile(args.out, text);
// Exit explicitly: Dawn's instance (navigator.gpu) can keep Node's event loop alive.
process.exit(failed ? 1 : 0);
