// Core-only demo: runs @migm/core's generation loop on the deterministic in-memory test backend (no model
// files), with each predictor at the same seed, and prints what the loop did. The images are the test
// model's token paintings, not a trained model's: they show the loop, the plan and the timings.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { generate, tileImages, type Predictor } from '@migm/core';
import { TestBackend } from '@migm/core/testing';
import { encodePng } from './png.js';

const { values } = parseArgs({
  options: {
    steps: { type: 'string', default: '16' },
    budget: { type: 'string', default: '6' },
    batch: { type: 'string', default: '8' },
    seed: { type: 'string', default: '1' },
    out: { type: 'string', default: 'out/core-demo.png' },
  },
});

const steps = Number(values.steps);
const budget = Number(values.budget);
const batch = Number(values.batch);
const seed = Number(values.seed);
const backend = new TestBackend({ side: 14, codebookSize: 64, featureDim: 32, numClasses: 10, steps });

console.log(`@migm/core demo on the in-memory test backend (L = 196 tokens, K = 64, no model files)`);
console.log(`N = ${steps}, budget B = ${budget}, batch ${batch}, seed ${seed}\n`);
console.log('predictor  base calls  head  velocity  total ms  backend ms  core ms  plan');
const grids = [];
for (const predictor of ['vanilla', 'shortcut', 'reuse', 'taylor'] as Predictor[]) {
  const r = await generate(backend, {
    condition: Array.from({ length: batch }, (_, i) => i % 10),
    steps,
    predictor,
    seed,
    ...(predictor === 'vanilla' ? {} : { budget }),
  });
  const t = r.timings;
  console.log(
    `${predictor.padEnd(9)}  ${String(r.calls.forward).padStart(10)}  ${String(r.calls.head).padStart(4)}  ${String(r.calls.velocity).padStart(8)}  ${t.totalMs.toFixed(1).padStart(8)}  ${t.backendMs.toFixed(1).padStart(10)}  ${t.coreMs.toFixed(1).padStart(7)}  ${predictor === 'vanilla' ? 'all' : Array.from(r.plan).join(',')}`,
  );
  grids.push(await backend.decode(r.tokens, r.batch));
}
const all = grids.flatMap((g) => Array.from(g.data));
const first = grids[0]!;
const png = encodePng(tileImages({ ...first, batch: first.batch * grids.length, data: Float32Array.from(all) }, { columns: batch, scale: 4 }));
const out = resolve(process.env['INIT_CWD'] || process.cwd(), values.out);
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, png);
console.log(`\nwrote ${out} (rows: vanilla, learned, reuse, taylor)`);
await backend.dispose();
