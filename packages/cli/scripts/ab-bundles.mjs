// Interleaved speed A/B of two bundles (e.g. the same weights exported two ways): generate() ms/image for
// vanilla and the learned shortcut at the manifest's N and budget, batch 16, runs alternating between the
// bundles so that machine drift hits both alike, plus the share of identical tokens on the same seeds.
// usage (after `pnpm build`): node packages/cli/scripts/ab-bundles.mjs BUNDLE_A BUNDLE_B [--runs 5] [--threads 2]
import { parseArgs } from 'node:util';
import { createNodeBackend } from '@migm/backend-node';
import { generate } from '@migm/core';
import { equalShare } from '@migm/core/testing';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { runs: { type: 'string', default: '5' }, threads: { type: 'string', default: '2' } },
});
if (positionals.length !== 2) {
  console.error('usage: node ab-bundles.mjs BUNDLE_A BUNDLE_B [--runs 5] [--threads 2]');
  process.exit(2);
}
const runs = Number(values.runs);
const backends = [];
for (const dir of positionals) backends.push(await createNodeBackend({ bundle: dir, threads: Number(values.threads) }));
const condition = Array.from({ length: 16 }, (_, i) => i % 10);
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const report = [];
for (const cfg of [{ predictor: 'vanilla' }, { predictor: 'shortcut' }]) {
  const ms = backends.map(() => []);
  const tokens = backends.map(() => []);
  for (const b of backends) await generate(b, { condition, seed: 1, ...cfg }); // warm-up
  for (let r = 0; r < runs; r++) {
    for (let j = 0; j < backends.length; j++) {
      const res = await generate(backends[j], { condition, seed: 100 + r, ...cfg });
      ms[j].push(res.timings.totalMs / condition.length);
      tokens[j].push(res.tokens);
    }
  }
  // Every run has the same token count, so the mean of the per-run shares is the pooled share.
  const tokensEqual = tokens[0].reduce((sum, t, r) => sum + equalShare(t, tokens[1][r]), 0) / runs;
  const row = { predictor: cfg.predictor, msPerImage: ms.map(median), ratioBtoA: median(ms[1]) / median(ms[0]), tokensEqual };
  report.push(row);
  console.log(
    `${cfg.predictor}: A ${row.msPerImage[0].toFixed(1)} ms/image, B ${row.msPerImage[1].toFixed(1)} (B/A ${row.ratioBtoA.toFixed(3)}), tokens equal ${(100 * row.tokensEqual).toFixed(2)}%`,
  );
}
console.log(JSON.stringify({ bundles: positionals, runs, threads: Number(values.threads), rows: report }));
for (const b of backends) await b.dispose();
