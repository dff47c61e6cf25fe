// The quality cost of a bundle's precision variants (issue 26): for each dtype, vanilla and the shortcut at the
// bundle's N and budget, images drawn with the same seeds as fp32's, scored by every evaluator (FD against the
// Fashion-MNIST test set) next to the share of tokens equal to fp32's. Prints a table, writes JSON.
//   node packages/bench/dist/precision.js --bundle DIR [--dtypes fp32,int8,int4,fp16] [--images 2000]
//     [--settings vanilla,shortcut] [--noise-seed S[,S2...]] [--out FILE.json]
// --noise-seed adds fp32 rows drawn with other seeds (S, S+1, ...): their FD change is what sampling alone moves
// FD at this many images, the yardstick for a variant's. The first of them is also a reference draw: every row gets
// its FD to that draw's samples (a two-sample distance, no test set involved), where fp32 at --seed gives the
// value for a draw that differs only by sampling and each variant the same with its precision changed.
// --settings splits a run over processes (one per core).
// DIR holds the variants (python -m migm_train quantize). 'fp16' loads the float16 files on the CPU (a per-graph
// dtype): onnxruntime emulates float16 there, so its quality is measured but its speed is not meaningful.
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { createNodeBackend, type Dtype, type DtypeOption, type OrtBackend } from '@migm/backend-node';
import { classCondition, generate } from '@migm/core';
import type { GraphSpec } from '@migm/core/backend';
import { bundleEvaluator, checkCards, shippedEvaluators } from './evaluators.js';
import { FeatureStats, frechetDistance } from './frechet.js';
import { referenceStats } from './run-bench.js';

const { values } = parseArgs({
  options: {
    bundle: { type: 'string' },
    dtypes: { type: 'string', default: 'fp32,int8,int4,fp16' },
    images: { type: 'string', default: '2000' },
    batch: { type: 'string', default: '50' },
    seed: { type: 'string', default: '1' },
    threads: { type: 'string' },
    settings: { type: 'string', default: 'vanilla,shortcut' },
    'noise-seed': { type: 'string' },
    out: { type: 'string', default: 'precision-quality.json' },
  },
});
if (!values.bundle) throw new Error('--bundle DIR is required (a bundle with precision variants)');
const bundle = values.bundle;
// A --dtypes entry: a dtype (every graph that has that variant runs it), or 'DTYPE:role+role' (those graphs only,
// the others fp32), to tell apart what each graph's quantization costs.
const dtypes = values.dtypes.split(',');
if (dtypes[0] !== 'fp32') throw new Error('--dtypes must start with fp32 (the reference of token agreement and FD change)');
const images = Number(values.images);
const batchSize = Number(values.batch);
const seed = Number(values.seed);
const threads = values.threads !== undefined ? Number(values.threads) : undefined;
const noiseSeeds = values['noise-seed'] !== undefined ? values['noise-seed'].split(',').map(Number) : [];
const allSeeds = [seed, ...noiseSeeds];
if (noiseSeeds.some((n, i) => !Number.isSafeInteger(n) || allSeeds.some((o, j) => j !== i + 1 && Math.abs(n - o) < images)))
  throw new Error(`--noise-seed takes integers at least --images (${images}) away from --seed (${seed}) and from each other, so that no seed is shared`);
const wanted = values.settings.split(',');
if (wanted.length === 0 || wanted.some((w) => w !== 'vanilla' && w !== 'shortcut'))
  throw new Error(`--settings takes vanilla and/or shortcut, comma separated; got '${values.settings}'`);

const reference = await createNodeBackend({ bundle, classifier: true, ...(threads ? { threads } : {}) });
const m = reference.manifest;
for (const d of dtypes.slice(1)) dtypeOption(d); // a bad --dtypes entry fails now, not after an hour of rows
const { numClasses } = classCondition(m, 'The precision benchmark');
const N = m.sampling.steps;
const B = m.sampling.budget ?? Math.round(N / 3);
const shipped = await shippedEvaluators(threads);
const evaluators = await referenceStats([bundleEvaluator(reference), ...shipped], images, numClasses);
checkCards(shipped, Object.fromEntries(evaluators.map((e) => [e.evaluator.name, e.testAccuracy])));
const settings = [
  ...(wanted.includes('vanilla') ? [{ label: `vanilla N=${N}`, predictor: 'none' as const }] : []),
  ...(m.graphs.shortcut && wanted.includes('shortcut') ? [{ label: `shortcut N=${N} B=${B}`, predictor: 'learned' as const, budget: B }] : []),
];
if (settings.length === 0) throw new Error('--settings shortcut needs a bundle with a shortcut graph');
// The runs of each setting: fp32 first (the reference), then fp32 with other seeds if asked, then the variants.
const runs: { dtype: string; seed: number }[] = [
  { dtype: 'fp32', seed },
  ...noiseSeeds.map((s) => ({ dtype: 'fp32', seed: s })),
  ...dtypes.slice(1).map((dtype) => ({ dtype, seed })),
];

/** A --dtypes entry as createNodeBackend's option. 'fp16' on the CPU: every graph with a float16 variant, loaded
 * as asked (a per-role dtype). */
function dtypeOption(spec: string): DtypeOption {
  const [d, roles] = spec.split(':') as [Dtype, string | undefined];
  if (!['fp32', 'fp16', 'int8', 'int4'].includes(d)) throw new Error(`--dtypes: '${spec}' is not fp32, fp16, int8 or int4 (optionally :role+role)`);
  if (roles !== undefined) {
    const picked = roles.split('+');
    const graphs: Partial<Record<string, GraphSpec>> = m.graphs;
    const missing = picked.filter((r) => d === 'fp32' || !graphs[r]?.variants?.[d]);
    if (missing.length > 0) throw new Error(`--dtypes: '${spec}': the bundle has no ${d} variant of ${missing.join(', ')}`);
    return Object.fromEntries(picked.map((r) => [r, d]));
  }
  if (d !== 'fp16') return d;
  return Object.fromEntries(Object.entries(m.graphs).flatMap(([role, g]) => (g.variants?.fp16 ? [[role, 'fp16']] : [])));
}

interface Row {
  setting: string;
  /** The --dtypes entry (a dtype, or 'DTYPE:role+role'). */
  dtype: string;
  /** The first seed of the row's batches; a row whose seed is not --seed is the noise row. */
  seed: number;
  precision: Record<string, string>;
  fd: Record<string, number>;
  fdChange: Record<string, number>;
  /**
   * FD between this row's samples and those of the reference draw (fp32 at the first --noise-seed; same classes,
   * disjoint seeds), per evaluator; null without --noise-seed and for the reference draw itself.
   */
  fdToReference: Record<string, number> | null;
  tokenAgreement: number;
  msPerImage: number;
}
const rows: Row[] = [];
const started = new Date().toISOString();
for (const s of settings) {
  let fp32Tokens: Int32Array | null = null;
  let fp32Fd: Record<string, number> = {};
  const settingRows: { row: Row; stats: FeatureStats[] }[] = [];
  for (const { dtype: d, seed: runSeed } of runs) {
    const noise = runSeed !== seed;
    const backend: OrtBackend = d === 'fp32' ? reference : await createNodeBackend({ bundle, dtype: dtypeOption(d), ...(threads ? { threads } : {}) });
    const L = backend.manifest.tokens.count;
    const tokens = new Int32Array(images * L);
    const stats = evaluators.map((e) => new FeatureStats(e.reference.dim));
    let ms = 0;
    for (let i = 0, bi = 0; i < images; i += batchSize, bi++) {
      const n = Math.min(batchSize, images - i);
      const r = await generate(backend, {
        condition: Array.from({ length: n }, (_, b) => (bi * batchSize + b) % numClasses),
        steps: N,
        predictor: s.predictor,
        seed: runSeed + bi,
        ...(s.budget !== undefined ? { budget: s.budget } : {}),
      });
      ms += r.timings.totalMs;
      tokens.set(r.tokens.subarray(0, n * L), i * L);
      const pixels = await backend.decode(r.tokens, n);
      for (let e = 0; e < evaluators.length; e++) {
        const c = await evaluators[e]!.evaluator.classify(pixels);
        stats[e]!.add(c.features, n);
      }
    }
    const fd: Record<string, number> = {};
    evaluators.forEach((e, k) => (fd[e.evaluator.name] = frechetDistance(stats[k]!, e.reference)));
    if (d === 'fp32' && !noise) {
      fp32Tokens = tokens;
      fp32Fd = fd;
    }
    let same = 0;
    for (let i = 0; i < tokens.length; i++) if (tokens[i] === fp32Tokens![i]) same++;
    const row: Row = {
      setting: s.label,
      dtype: d,
      seed: runSeed,
      precision: Object.fromEntries(Object.entries(backend.manifest.graphs).map(([r, g]) => [r, g.precision ?? 'fp32'])),
      fd,
      fdChange: Object.fromEntries(Object.entries(fd).map(([k, v]) => [k, v / fp32Fd[k]! - 1])),
      fdToReference: null,
      tokenAgreement: same / tokens.length,
      msPerImage: ms / images,
    };
    rows.push(row);
    settingRows.push({ row, stats });
    console.log(
      `${row.setting.padEnd(20)} ${(noise ? `fp32 seed ${runSeed}` : d).padEnd(5)} ${Object.entries(fd)
        .map(([k, v]) => `FD ${k} ${v.toFixed(3)} (${(100 * row.fdChange[k]!).toFixed(2)}%)`)
        .join('  ')}  tokens = fp32 ${(100 * row.tokenAgreement).toFixed(2)}%  ${row.msPerImage.toFixed(1)} ms/image`,
    );
    if (backend !== reference) await backend.dispose();
  }
  const ref = settingRows.find((r) => r.row.seed === noiseSeeds[0]);
  for (const { row, stats } of ref ? settingRows : []) {
    if (row === ref!.row) continue;
    row.fdToReference = Object.fromEntries(evaluators.map((e, k) => [e.evaluator.name, frechetDistance(stats[k]!, ref!.stats[k]!)]));
    const label = row.seed === seed ? row.dtype : `fp32 seed ${row.seed}`;
    console.log(
      `${row.setting.padEnd(20)} ${label.padEnd(5)} FD to the draw at seed ${noiseSeeds[0]}: ${Object.entries(row.fdToReference)
        .map(([k, v]) => `${k} ${v.toFixed(3)}`)
        .join('  ')}`,
    );
  }
}
const verdict = (dtype: string) => {
  const own = rows.filter((r) => r.dtype === dtype && r.seed === seed);
  return own.every((r) => Object.values(r.fdChange).every((c) => c < 0.02)) ? 'recommended (every evaluator: < 2% FD everywhere)' : 'not recommended';
};
for (const d of dtypes.slice(1)) console.log(`${d}: ${verdict(d)}`);
writeFileSync(
  values.out,
  JSON.stringify(
    {
      bundle,
      started,
      finished: new Date().toISOString(),
      images,
      batch: batchSize,
      seed,
      noiseSeeds,
      steps: N,
      budget: B,
      rows,
      verdicts: Object.fromEntries(dtypes.slice(1).map((d) => [d, verdict(d)])),
    },
    null,
    2,
  ),
);
await reference.dispose();
