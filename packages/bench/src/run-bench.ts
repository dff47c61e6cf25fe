import { generate, type Manifest } from '@migm/core';
import type { OrtBackend } from '@migm/backend-node';
import { idealSpeedup } from '@migm/shortcut';
import { predictorDefinition } from '@migm/core';
import { ACCELERATED_METHODS, predictorOf, type Method } from './methods.js';
import { readFashionMnist } from './fashion-mnist.js';
import { FeatureStats, frechetDistance } from './frechet.js';

/** One benchmarked setting. */
export interface BenchConfig {
  readonly method: Method;
  readonly steps: number;
  /** Full steps; undefined for vanilla (all N). */
  readonly budget: number | undefined;
}

/** Measurements of one setting. */
export interface BenchRow extends BenchConfig {
  readonly images: number;
  /** Per-image latency of each timed batch, ms (the warm-up batch excluded). */
  readonly msPerImage: { median: number; p10: number; p90: number; runs: number };
  /** Frechet distance to the Fashion-MNIST test set (the issue's quality measure). */
  readonly fd: number;
  /**
   * Frechet distance to vanilla samples at the trained N drawn with other seeds: fidelity to what the base model
   * generates (vanilla's own row shows the seed-noise floor). Null when that reference was not sampled.
   */
  readonly fdToVanilla: number | null;
  readonly classAccuracy: number;
  /** Share of generate() time spent in core (the rest is onnxruntime). */
  readonly coreShare: number;
  /** Measured cost of a skipped step over a full step (accelerated methods only). */
  readonly rho: number | null;
  /** Speed-up over vanilla at the same N: achieved, and ideal N / (B + (N - B) rho). */
  readonly speedup: number | null;
  readonly idealSpeedup: number | null;
}

export interface BenchOptions {
  readonly images: number;
  readonly batch: number;
  readonly seed: number;
  readonly configs: readonly BenchConfig[];
  /** Steps of the vanilla reference that each row's fdToVanilla is measured against (none: fdToVanilla null). */
  readonly vanillaSteps?: number;
  readonly log: (line: string) => void;
}

/**
 * The benchmark's default settings for a bundle: vanilla ladder; every accelerated method of core's registry
 * (those needing a shortcut only when the bundle has one) at N_trained and 2 N_trained.
 */
export function defaultConfigs(m: Manifest, quick: boolean): BenchConfig[] {
  const L = m.tokens.count;
  const T = m.graphs.shortcut?.trainedSteps ?? m.sampling.steps;
  const vanilla = [4, 6, 8, 12, 16, 32].filter((n) => n <= L).map((steps) => ({ method: 'vanilla' as const, steps, budget: undefined }));
  const budgets = (n: number) => [...new Set([Math.round(n / 4), Math.round(n / 3), Math.round(n / 2)])].filter((b) => b >= 1 && b < n);
  const grid = quick ? [[T, budgets(T)]] as const : ([[T, budgets(T)], [2 * T, budgets(2 * T)]] as const);
  const accelerated: BenchConfig[] = [];
  for (const [n, bs] of grid) {
    if (n > L) continue;
    for (const method of ACCELERATED_METHODS) {
      if (predictorDefinition(predictorOf(method))!.needsVelocity && !m.graphs.shortcut) continue;
      for (const b of bs) accelerated.push({ method, steps: n, budget: b });
    }
  }
  return [...vanilla, ...accelerated];
}

/** The settings of `configs` whose method is in `methods` and whose N is in `steps` (each filter off when undefined). */
export function filterConfigs(configs: readonly BenchConfig[], methods?: readonly string[], steps?: readonly number[]): BenchConfig[] {
  return configs.filter((c) => (methods === undefined || methods.includes(c.method)) && (steps === undefined || steps.includes(c.steps)));
}

/** Real-image statistics in the evaluation classifier's feature space (Fashion-MNIST test set). */
export async function referenceStats(backend: OrtBackend): Promise<FeatureStats> {
  const data = await readFashionMnist('test');
  let stats: FeatureStats | null = null;
  const chunk = 500;
  for (let i = 0; i < data.count; i += chunk) {
    const n = Math.min(chunk, data.count - i);
    const c = await backend.classify({ data: data.images.subarray(i * 784, (i + n) * 784), batch: n, channels: 1, height: 28, width: 28 });
    stats ??= new FeatureStats(c.featureDim);
    stats.add(c.features, n);
  }
  return stats!;
}

function quantile(sorted: readonly number[], q: number): number {
  const at = (sorted.length - 1) * q;
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (at - lo);
}

/**
 * Generates `images` images for one setting in batches, timing each batch, and scores them against the test set
 * (`reference`) and, when given, against vanilla samples (`vanillaReference`). Returns the row and the features'
 * statistics.
 */
export async function benchOne(
  backend: OrtBackend, reference: FeatureStats, config: BenchConfig, o: BenchOptions, vanillaReference?: FeatureStats,
): Promise<{ row: BenchRow; stats: FeatureStats }> {
  const numClasses = backend.manifest.condition.numClasses;
  const run = (batchIndex: number, n: number) =>
    generate(backend, {
      condition: Array.from({ length: n }, (_, b) => (batchIndex * o.batch + b) % numClasses),
      steps: config.steps,
      predictor: predictorOf(config.method),
      seed: o.seed + batchIndex,
      ...(config.budget !== undefined ? { budget: config.budget } : {}),
    });
  await run(-1 + 1e6, o.batch); // warm-up, with a seed outside the measured ones
  const stats = new FeatureStats(reference.dim);
  const perImage: number[] = [];
  let correct = 0;
  let coreMs = 0;
  let totalMs = 0;
  let fullMs = 0;
  let fullSteps = 0;
  let skippedMs = 0;
  let skippedSteps = 0;
  for (let i = 0, batchIndex = 0; i < o.images; i += o.batch, batchIndex++) {
    const n = Math.min(o.batch, o.images - i);
    const r = await run(batchIndex, n);
    if (n === o.batch) perImage.push(r.timings.totalMs / n);
    coreMs += r.timings.coreMs;
    totalMs += r.timings.totalMs;
    for (const t of r.trace) {
      if (t.kind === 'full') {
        fullMs += t.backendMs + t.coreMs;
        fullSteps++;
      } else {
        skippedMs += t.backendMs + t.coreMs;
        skippedSteps++;
      }
    }
    const c = await backend.classify(await backend.decode(r.tokens, n));
    stats.add(c.features, n);
    for (let b = 0; b < n; b++) {
      let best = 0;
      for (let k = 1; k < numClasses; k++) if (c.logits[b * numClasses + k]! > c.logits[b * numClasses + best]!) best = k;
      if (best === (batchIndex * o.batch + b) % numClasses) correct++;
    }
  }
  const sorted = [...perImage].sort((a, b) => a - b);
  const rho = skippedSteps > 0 && fullSteps > 0 ? skippedMs / skippedSteps / (fullMs / fullSteps) : null;
  const row: BenchRow = {
    ...config,
    images: o.images,
    msPerImage: { median: quantile(sorted, 0.5), p10: quantile(sorted, 0.1), p90: quantile(sorted, 0.9), runs: sorted.length },
    fd: frechetDistance(stats, reference),
    fdToVanilla: vanillaReference ? frechetDistance(stats, vanillaReference) : null,
    classAccuracy: correct / o.images,
    coreShare: coreMs / totalMs,
    rho,
    speedup: null,
    idealSpeedup: rho !== null && config.budget !== undefined ? idealSpeedup(config.steps, config.budget, rho) : null,
  };
  return { row, stats };
}

/** Seed offset of the vanilla reference run: far from the measured batches' seeds (seed + batch index). */
const VANILLA_REFERENCE_SEED_OFFSET = 2_000_000;

/** Fills in achieved speed-ups against vanilla at the same N (when that vanilla row exists). */
export function withSpeedups(rows: readonly BenchRow[]): BenchRow[] {
  return rows.map((r) => {
    if (r.method === 'vanilla') return r;
    const base = rows.find((v) => v.method === 'vanilla' && v.steps === r.steps);
    return { ...r, speedup: base ? base.msPerImage.median / r.msPerImage.median : null };
  });
}

/**
 * Runs every setting, logging one line each. First samples the vanilla reference at `vanillaSteps` (the trained N)
 * with seeds no setting uses, so each row's fdToVanilla compares independent draws.
 */
export async function runBench(backend: OrtBackend, o: BenchOptions): Promise<{ rows: BenchRow[]; referenceImages: number }> {
  const reference = await referenceStats(backend);
  let vanillaReference: FeatureStats | undefined;
  if (o.vanillaSteps !== undefined) {
    o.log(`vanilla reference N=${o.vanillaSteps} (other seeds, for fidelity)`);
    const refOptions = { ...o, seed: o.seed + VANILLA_REFERENCE_SEED_OFFSET };
    vanillaReference = (await benchOne(backend, reference, { method: 'vanilla', steps: o.vanillaSteps, budget: undefined }, refOptions)).stats;
  }
  const rows: BenchRow[] = [];
  for (const config of o.configs) {
    const { row } = await benchOne(backend, reference, config, o, vanillaReference);
    rows.push(row);
    o.log(`${config.method.padEnd(8)} N=${String(config.steps).padStart(2)} B=${String(config.budget ?? config.steps).padStart(2)}: ${row.msPerImage.median.toFixed(2)} ms/image, FD ${row.fd.toFixed(2)}${row.fdToVanilla === null ? '' : ` (to vanilla ${row.fdToVanilla.toFixed(2)})`}, acc ${(100 * row.classAccuracy).toFixed(1)}%`);
  }
  return { rows: withSpeedups(rows), referenceImages: reference.count };
}
