#!/usr/bin/env node
// Memory over time, on the default bundle with onnxruntime-node. Not a CI test: run it after `pnpm build`:
//
//   node scripts/hardening/soak.mjs [--calls 500] [--cycles 400] [--json docs/data/soak.json]
//
// 1. soak: one backend, --calls generate() + decode() calls (batch 4, the default plan), RSS sampled along.
// 2. lifecycle: --cycles x (createNodeBackend, one generate(), dispose()), RSS per cycle.
// 3. onnxruntime alone: --cycles x (create the bundle's sessions from the same bytes with the session options
//    createNodeBackend uses for threads: 1, one base run and the three head runs of the load-time affine check,
//    release), so the per-cycle growth of (2) can be split into onnxruntime's own and ours.
// Each part runs in a fresh Node process (this script with --part), so one part's allocator state does not
// carry into the next. Growth is the slope of a least-squares line through the RSS samples after a warm-up
// (the first 10%), so one late allocation does not decide it.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BUNDLE = join(ROOT, 'packages/bundle-fashion-mnist/bundle');
const { values } = parseArgs({
  options: { calls: { type: 'string', default: '500' }, cycles: { type: 'string', default: '400' }, json: { type: 'string' }, part: { type: 'string' } },
});
if (values.part === undefined) {
  // Parent: one child per part, then the report.
  const report = { date: new Date().toISOString(), node: process.version };
  for (const part of ['soak', 'lifecycle', 'onnxruntimeAlone']) {
    const out = execFileSync(
      process.execPath,
      ['--expose-gc', fileURLToPath(import.meta.url), '--part', part, '--calls', values.calls, '--cycles', values.cycles],
      { encoding: 'utf8', env: { ...process.env, ORT_DISABLE_TELEMETRY: '1' } },
    );
    const result = JSON.parse(out.trim().split('\n').at(-1));
    report[part] = result;
    console.log(`${part}: ${JSON.stringify(result)}`);
  }
  if (values.json) {
    mkdirSync(dirname(values.json), { recursive: true });
    writeFileSync(values.json, `${JSON.stringify(report, null, 2)}\n`);
  }
  process.exit(0);
}
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

const parts = {
  async soak() {
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
    return {
      calls,
      startMB: start,
      endMB: end,
      peakMB: Math.max(...samples.map((x) => x[1])),
      growthKBPerCall: slope(samples) * 1024,
      seconds: (performance.now() - t0) / 1000,
    };
  },
  async lifecycle() {
    const bundle = await node.readBundleDir(BUNDLE);
    return cycles(async () => {
      const b = await node.createNodeBackend({ bundle, threads: 1 });
      await core.generate(b, { condition: 1, batch: 2, steps: 4, seed: 1 });
      await b.dispose();
    });
  },
  async onnxruntimeAlone() {
    const bundle = await node.readBundleDir(BUNDLE);
    const m = bundle.manifest;
    const L = m.tokens.count;
    const D = m.featureDim;
    const options = {
      executionProviders: ['cpu'],
      graphOptimizationLevel: 'all',
      intraOpNumThreads: 1,
      interOpNumThreads: 1,
      extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } },
    };
    return cycles(async () => {
      const s = {};
      for (const role of ['base', 'head', 'decoder', 'shortcut']) s[role] = await ort.InferenceSession.create(bundle.files.get(m.graphs[role].file), options);
      await s.base.run({
        tokens: new ort.Tensor('int32', new Int32Array(2 * L).fill(m.tokens.maskId), [2, L]),
        classes: new ort.Tensor('int32', new Int32Array([1, m.condition.nullClassId]), [2]),
      });
      for (let i = 0; i < 3; i++) await s.head.run({ feature: new ort.Tensor('float32', new Float32Array(2 * L * D), [2, L, D]) });
      for (const x of Object.values(s)) await x.release();
    });
  },
};

async function cycles(cycle) {
  const n = Number(values.cycles);
  const samples = [];
  const checkpointsMB = [];
  const start = rss();
  for (let i = 0; i < n; i++) {
    await cycle();
    samples.push([i + 1, rss()]);
    if ((i + 1) % Math.max(1, Math.floor(n / 8)) === 0) checkpointsMB.push(Number(samples.at(-1)[1].toFixed(1)));
  }
  const end = rss();
  const h = process.memoryUsage();
  // The slope over the second half tells a leak (still growing) from an allocator reaching its high-water mark.
  return {
    cycles: n,
    startMB: start,
    endMB: end,
    checkpointsMB,
    growthKBPerCycle: slope(samples) * 1024,
    secondHalfKBPerCycle: slope(samples.slice(Math.floor(n / 2))) * 1024,
    jsHeapUsedMB: h.heapUsed / 1024 ** 2,
  };
}

console.log(JSON.stringify(await parts[values.part]()));
