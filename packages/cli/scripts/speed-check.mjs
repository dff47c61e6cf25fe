// Latency of the speed targets without the FD part of `migm bench`: generate() ms/image at batch 16 for vanilla
// and the budgeted methods at one N, the runs interleaved round-robin (one batch of each setting per round) so
// that machine drift hits every setting alike. Per setting: median and p10-p90 ms/image, the cost of a full and
// of a skipped step (from generate()'s per-step trace), rho, the speed-up over vanilla and the ideal one,
// N / (B + (N - B) rho). Run it on an idle machine.
// usage (after `pnpm build`): node packages/cli/scripts/speed-check.mjs [--steps 16] [--budgets 4,5,6]
//   [--methods shortcut,reuse,taylor] (also: shortcut-taylor) [--rounds 9] [--threads 2] [--bundle DIR] [--out result.json]
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { createNodeBackend } from '@migm/backend-node';
import { bundleDir } from '@migm/bundle-fashion-mnist';
import { generate } from '@migm/core';

const PREDICTOR = { vanilla: 'vanilla', shortcut: 'shortcut', reuse: 'reuse', taylor: 'taylor', 'shortcut-taylor': 'shortcut-taylor' };
const { values } = parseArgs({
  options: {
    steps: { type: 'string', default: '16' },
    budgets: { type: 'string', default: '4,5,6' },
    methods: { type: 'string', default: 'shortcut,reuse,taylor' },
    rounds: { type: 'string', default: '9' },
    threads: { type: 'string', default: '2' },
    bundle: { type: 'string' },
    out: { type: 'string' },
  },
});
const int = (name, v, min) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) {
    console.error(`speed-check: --${name} must be an integer >= ${min}, got ${JSON.stringify(v)}`);
    process.exit(2);
  }
  return n;
};
const steps = int('steps', values.steps, 2);
const rounds = int('rounds', values.rounds, 1);
const threads = int('threads', values.threads, 1);
const budgets = values.budgets.split(',').map((b) => int('budgets', b, 1));
const methods = values.methods.split(',');
for (const m of methods) {
  if (!(m in PREDICTOR) || m === 'vanilla') {
    console.error(`speed-check: unknown method ${JSON.stringify(m)}; allowed: shortcut, reuse, taylor, shortcut-taylor (vanilla always runs)`);
    process.exit(2);
  }
}

const batch = 16;
const condition = Array.from({ length: batch }, (_, i) => i % 10);
const backend = await createNodeBackend({ bundle: values.bundle ?? bundleDir(), threads });
const settings = [{ method: 'vanilla' }, ...methods.flatMap((method) => budgets.map((budget) => ({ method, budget })))];
const label = (s) => (s.budget === undefined ? `${s.method} N=${steps}` : `${s.method} N=${steps} B=${s.budget}`);
const acc = settings.map(() => ({ ms: [], fullMs: 0, full: 0, skippedMs: 0, skipped: 0 }));
const options = (s, seed) => ({ condition, steps, seed, predictor: PREDICTOR[s.method], ...(s.budget !== undefined ? { budget: s.budget } : {}) });

for (const s of settings) await generate(backend, options(s, 1_000_000)); // warm-up, seed outside the timed ones
for (let r = 0; r < rounds; r++) {
  for (let j = 0; j < settings.length; j++) {
    const res = await generate(backend, options(settings[j], 100 + r));
    const a = acc[j];
    a.ms.push(res.timings.totalMs / batch);
    for (const t of res.trace) {
      if (t.kind === 'full') {
        a.fullMs += t.backendMs + t.coreMs;
        a.full++;
      } else {
        a.skippedMs += t.backendMs + t.coreMs;
        a.skipped++;
      }
    }
  }
}
await backend.dispose();

const quantile = (xs, q) => {
  const s = [...xs].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.round(q * (s.length - 1)))];
};
const vanillaMs = quantile(acc[0].ms, 0.5);
const rows = settings.map((s, j) => {
  const a = acc[j];
  const median = quantile(a.ms, 0.5);
  const fullStepMs = a.fullMs / a.full / batch;
  const skippedStepMs = a.skipped > 0 ? a.skippedMs / a.skipped / batch : null;
  const rho = skippedStepMs !== null ? skippedStepMs / fullStepMs : null;
  const ideal = rho !== null ? steps / (s.budget + (steps - s.budget) * rho) : null;
  return {
    setting: label(s),
    ...s,
    steps,
    msPerImage: { median, p10: quantile(a.ms, 0.1), p90: quantile(a.ms, 0.9), runs: a.ms.length },
    fullStepMsPerImage: fullStepMs,
    skippedStepMsPerImage: skippedStepMs,
    rho,
    speedup: s.method === 'vanilla' ? null : vanillaMs / median,
    idealSpeedup: ideal,
  };
});

const f = (x, d = 1) => (x === null ? '-' : x.toFixed(d));
console.log(`| setting | ms/image (p10-p90) | full step | skipped step | rho | speed-up | ideal | achieved/ideal |`);
console.log(`|---|---|---|---|---|---|---|---|`);
for (const r of rows) {
  const m = r.msPerImage;
  const ratio = r.speedup !== null && r.idealSpeedup !== null ? `${((100 * r.speedup) / r.idealSpeedup).toFixed(0)}%` : '-';
  console.log(
    `| ${r.setting} | ${f(m.median)} (${f(m.p10)}-${f(m.p90)}) | ${f(r.fullStepMsPerImage, 2)} | ${f(r.skippedStepMsPerImage, 2)} | ${f(r.rho, 3)} | ${r.speedup === null ? '-' : `${f(r.speedup, 2)}x`} | ${r.idealSpeedup === null ? '-' : `${f(r.idealSpeedup, 2)}x`} | ${ratio} |`,
  );
}
const result = { date: new Date().toISOString(), node: process.version, threads, batch, rounds, steps, rows };
if (values.out) writeFileSync(values.out, `${JSON.stringify(result, null, 1)}\n`);
else console.log(JSON.stringify(result));
