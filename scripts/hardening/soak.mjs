#!/usr/bin/env node
// Memory over time, on the default bundle with onnxruntime-node. Not a CI test: run it after `pnpm build`:
//
//   node --expose-gc scripts/hardening/soak.mjs [--calls 500] [--cycles 100] [--json docs/data/soak.json]
//
// 1. soak: one backend, --calls generate() + decode() calls (batch 4, the default plan), RSS sampled along.
// 2. lifecycle: --cycles x (createNodeBackend, one generate(), dispose()), RSS per cycle.
// 3. onnxruntime alone: --cycles x (create the bundle's sessions from the same bytes, one base run, release),
//    so the per-cycle growth of (2) can be split into onnxruntime's own and ours.
// Growth is the slope of a least-squares line through the RSS samples after a warm-up (the first 10%), so one
// late allocation does not decide it.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BUNDLE = join(ROOT, 'packages/bundle-fashion-mnist/bundle');
const { values } = parseArgs({ options: { calls: { type: 'string', default: '500' }, cycles: { type: 'string', default: '100' }, json: { type: 'string' } } });
process.env.ORT_DISABLE_TELEMETRY ??= '1';
const core = await import(join(ROOT, 'packages/core/dist/index.js'));
const node = await import(join(ROOT, 'packages/backend-node/dist/index.js'));
const ort = await import('onnxruntime-node').catch(() => import(join(ROOT, 'packages/backend-node/node_modules/onnxruntime-node/dist/index.js')));

const mb = (b) => b / 1024 ** 2;
const rss = () => {
  globalThis.gc?.();
  return mb(process.memoryUsage().rss);
};

/** Least-squares slope of y over x (MB per unit), after dropping the warm-up tenth. */
function slope(samples) {
  const s = samples.slice(Math.floor(samples.length / 10));
  const n = s.length;
  const mx = s.reduce((a, p) => a + p[0], 0) / n;
  const my = s.reduce((a, p) => a + p[1], 0) / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of s) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return num / den;
}

const report = { date: new Date().toISOString(), node: process.version, gcExposed: typeof globalThis.gc === 'function' };

// 1. soak
{
  const calls = Number(values.calls);
  const b = await node.createNodeBackend({ bundle: BUNDLE, threads: 1 });
  const samples = [];
  const start = rss();
  const t0 = performance.now();
  for (let i = 0; i < calls; i++) {
    const r = await core.generate(b, { condition: i % 10, batch: 4, seed: i });
    await b.decode(r.tokens, r.batch);
    if (i % 10 === 9) samples.push([i + 1, rss()]);
  }
  const end = rss();
  await b.dispose();
  report.soak = { calls, startMB: start, endMB: end, peakMB: Math.max(...samples.map((s) => s[1])), growthKBPerCall: slope(samples) * 1024, seconds: (performance.now() - t0) / 1000 };
  console.log(`soak: ${calls} calls, RSS ${start.toFixed(1)} -> ${end.toFixed(1)} MB (peak ${report.soak.peakMB.toFixed(1)}), slope ${report.soak.growthKBPerCall.toFixed(2)} KB/call`);
}

// 2. migm lifecycle, 3. onnxruntime alone
const bundle = await node.readBundleDir(BUNDLE);
for (const [name, cycle] of [
  [
    'lifecycle',
    async () => {
      const b = await node.createNodeBackend({ bundle, threads: 1 });
      await core.generate(b, { condition: 1, batch: 2, steps: 4, seed: 1 });
      await b.dispose();
    },
  ],
  [
    'onnxruntimeAlone',
    async () => {
      const m = bundle.manifest;
      const roles = ['base', 'head', 'decoder', 'shortcut'];
      const sessions = [];
      for (const role of roles) {
        sessions.push(await ort.InferenceSession.create(bundle.files.get(m.graphs[role].file), { executionProviders: ['cpu'], intraOpNumThreads: 1, interOpNumThreads: 1 }));
      }
      const L = m.tokens.count;
      await sessions[0].run({ tokens: new ort.Tensor('int32', new Int32Array(2 * L).fill(m.tokens.maskId), [2, L]), classes: new ort.Tensor('int32', new Int32Array([1, m.condition.nullClassId]), [2]) });
      for (const s of sessions) await s.release();
    },
  ],
]) {
  const cycles = Number(values.cycles);
  const samples = [];
  const start = rss();
  for (let i = 0; i < cycles; i++) {
    await cycle();
    samples.push([i + 1, rss()]);
  }
  const end = rss();
  report[name] = { cycles, startMB: start, endMB: end, growthKBPerCycle: slope(samples) * 1024 };
  console.log(`${name}: ${cycles} cycles, RSS ${start.toFixed(1)} -> ${end.toFixed(1)} MB, slope ${report[name].growthKBPerCycle.toFixed(1)} KB/cycle`);
}

if (values.json) {
  mkdirSync(dirname(values.json), { recursive: true });
  writeFileSync(values.json, `${JSON.stringify(report, null, 2)}\n`);
}
