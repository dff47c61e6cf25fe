#!/usr/bin/env node
// Measures what guidanceCutoff saves per image on the default bundle (its own defaults: N = 16, guidance 5 on a
// linear ramp): forward rows, ms per image (median of runs; interleaved so drift hits every setting alike) and
// the share of tokens equal to the run with both branches everywhere (guidanceCutoff: false).
// Run after `pnpm build`:  node packages/bench/scripts/guidance-cutoff.mjs [--runs 7] [--batch 16] [--out FILE.json]
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { generate } from '@migm/core';
import { createNodeBackend } from '@migm/backend-node';
import { bundleDir } from '@migm/bundle-fashion-mnist';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '7' }, batch: { type: 'string', default: '16' }, out: { type: 'string' } } });
const runs = Number(values.runs);
const batch = Number(values.batch);
const backend = await createNodeBackend({ bundle: bundleDir(), threads: 1 });
const cutoffs = [false, 0, 0.5, 1, 2];
// Rows the base model runs (an image's conditional row, plus its unconditional twin where guided): the saving in
// model work, exact, whatever the machine's load does to the timings.
let forwardRowCount = 0;
const forward = backend.forward.bind(backend);
backend.forward = (input) => {
  forwardRowCount += input.rows;
  return forward(input);
};
const settings = [
  { label: 'vanilla N=16', predictor: 'vanilla' },
  { label: 'shortcut N=16 B=5', predictor: 'shortcut', budget: 5 },
  { label: 'taylor N=16 B=5', predictor: 'taylor', budget: 5 },
  { label: 'shortcut-taylor N=16 B=5', predictor: 'shortcut-taylor', budget: 5 },
  { label: 'adams N=16 B=5', predictor: 'adams', budget: 5 },
];
const condition = Array.from({ length: batch }, (_, i) => i % 10);
const rows = [];
for (const s of settings) {
  const base = { condition, batch, steps: 16, predictor: s.predictor, seed: 1, ...(s.budget ? { budget: s.budget } : {}) };
  const reference = await generate(backend, { ...base, guidanceCutoff: false });
  const times = new Map(cutoffs.map((c) => [c, []]));
  const results = new Map();
  const rowsOf = new Map();
  for (const c of cutoffs) {
    forwardRowCount = 0;
    results.set(c, await generate(backend, { ...base, guidanceCutoff: c })); // warm-up
    rowsOf.set(c, forwardRowCount / batch);
  }
  for (let r = 0; r < runs; r++) {
    for (const c of cutoffs) {
      const res = await generate(backend, { ...base, guidanceCutoff: c });
      times.get(c).push(res.timings.totalMs / batch);
    }
  }
  for (const c of cutoffs) {
    const res = results.get(c);
    const t = times.get(c).sort((a, b) => a - b);
    let same = 0;
    for (let i = 0; i < res.tokens.length; i++) if (res.tokens[i] === reference.tokens[i]) same++;
    const forwardRows = res.trace.filter((x) => x.kind === 'full').length; // calls; rows below from the run itself
    rows.push({
      setting: s.label,
      cutoff: c,
      forwardCalls: forwardRows,
      forwardRowsPerImage: rowsOf.get(c),
      msPerImage: t[Math.floor(t.length / 2)],
      sameTokens: same / res.tokens.length,
      unguidedSteps: res.trace.filter((x) => x.guidance === 0).length,
    });
  }
}
await backend.dispose();
const offOf = (setting) => rows.find((r) => r.setting === setting && r.cutoff === false).msPerImage;
console.log(`guidanceCutoff on the default bundle (batch ${batch}, median of ${runs} runs, onnxruntime-node CPU, 1 thread)`);
console.log('| setting | cutoff | unguided steps | base rows / image | ms / image | saving | tokens equal to cutoff off |');
console.log('|---|---|---|---|---|---|---|');
for (const r of rows) {
  const saving = 1 - r.msPerImage / offOf(r.setting);
  console.log(
    `| ${r.setting} | ${r.cutoff === false ? 'off' : r.cutoff} | ${r.unguidedSteps} | ${r.forwardRowsPerImage} | ${r.msPerImage.toFixed(2)} | ${(100 * saving).toFixed(1)}% | ${(100 * r.sameTokens).toFixed(1)}% |`,
  );
}
if (values.out) writeFileSync(values.out, JSON.stringify({ batch, runs, rows }, null, 1));
