import { classCondition, generate, type Manifest } from '@migm/core';
import type { OrtBackend } from '@migm/backend-node';
import { idealSpeedup } from '@migm/shortcut';
import { predictorDefinition } from '@migm/core';
import { ACCELERATED_METHODS, predictorOf, type Method } from './methods.js';
import type { Evaluator } from './evaluators.js';
import { readFashionMnist } from './fashion-mnist.js';
import { FeatureStats, frechetDistance } from './frechet.js';
import { precisionRecall, realManifold, type RealManifold } from './precision-recall.js';

/** Nearest neighbours that set each ball's radius in precision and recall (the paper's default). */
export const PR_K = 3;

/** One evaluator's scores of one setting. */
export interface EvaluatorScores {
  /** Frechet distance to the Fashion-MNIST test set in this evaluator's feature space. */
  readonly fd: number;
  /** Frechet distance to the vanilla reference samples (null when not sampled). */
  readonly fdToVanilla: number | null;
  /** Improved precision and recall (k-NN manifolds, k = PR_K) against as many test images as samples. */
  readonly precision: number;
  readonly recall: number;
  /** Share of samples this evaluator classifies as the class they were generated for. */
  readonly classAccuracy: number;
}

/** How an accelerated setting places its full steps: the fixed plan (core's 'plan', the default) or at run time. */
export type Refresh = 'fixed' | 'adaptive';

/** One benchmarked setting. */
export interface BenchConfig {
  readonly method: Method;
  readonly steps: number;
  /** Full steps; undefined for vanilla (all N). */
  readonly budget: number | undefined;
  /**
   * 'adaptive': generate()'s refresh 'adaptive' (still exactly B full steps, placed at run time from the mean
   * log-prob of committed tokens; accelerated methods only). Absent: the fixed plan.
   */
  readonly refresh?: 'adaptive';
  /** generate()'s guidanceCutoff (false: both guidance branches at every step). Absent: core's default, 0. */
  readonly guidanceCutoff?: number | false;
}

/** Whether a setting runs generate()'s defaults (fixed plan, default guidance cutoff): the rows the targets judge. */
export function isPlain(c: BenchConfig): boolean {
  return c.refresh === undefined && c.guidanceCutoff === undefined;
}

/** A setting's series name: the method, then its variants (`shortcut+adaptive`, `vanilla cutoff=1`, `vanilla cutoff=false`). */
export function seriesOf(c: BenchConfig): string {
  return `${c.method}${c.refresh === 'adaptive' ? '+adaptive' : ''}${c.guidanceCutoff === undefined ? '' : ` cutoff=${String(c.guidanceCutoff)}`}`;
}

/** A setting's name in logs and verdicts: series, N and B (`shortcut+adaptive N=16 B=5`). */
export function labelOf(c: BenchConfig): string {
  return `${seriesOf(c)} N=${c.steps} B=${c.budget ?? c.steps}`;
}

/**
 * Every setting crossed with the refresh policies and guidance cutoffs asked for (each list off when undefined:
 * the fixed plan, core's default cutoff). Refresh applies to accelerated settings only (vanilla runs every step,
 * so its rows are kept once); cutoff 0, core's default, gives the plain row. Duplicates are dropped.
 */
export function withVariants(configs: readonly BenchConfig[], refresh?: readonly Refresh[], cutoffs?: readonly (number | false)[]): BenchConfig[] {
  const out: BenchConfig[] = [];
  const seen = new Set<string>();
  for (const c of configs) {
    const policies: Refresh[] = c.budget === undefined ? ['fixed'] : [...new Set<Refresh>(refresh ?? ['fixed'])];
    for (const cutoff of cutoffs ?? [0]) {
      for (const r of policies) {
        const v: BenchConfig = {
          method: c.method,
          steps: c.steps,
          budget: c.budget,
          ...(r === 'adaptive' ? { refresh: 'adaptive' as const } : {}),
          ...(cutoff === 0 ? {} : { guidanceCutoff: cutoff }),
        };
        const key = labelOf(v);
        if (seen.has(key)) continue;
        seen.add(key);
        out.push(v);
      }
    }
  }
  return out;
}

/** Measurements of one setting. */
export interface BenchRow extends BenchConfig {
  /** seriesOf(): the method and its variants. */
  readonly label?: string;
  readonly images: number;
  /** Refresh 'adaptive' only: the full-step plans generate() ran (result.plan), most frequent first, with batch counts. */
  readonly plans?: readonly { plan: string; batches: number }[];
  /** Per-image latency of each timed batch, ms (the warm-up batch excluded). */
  readonly msPerImage: { median: number; p10: number; p90: number; runs: number };
  /** The first evaluator's (the bundle classifier's) FD to the Fashion-MNIST test set; every evaluator's in `scores`. */
  readonly fd: number;
  /**
   * Frechet distance to vanilla samples at the trained N drawn with other seeds: fidelity to what the base model
   * generates (vanilla's own row shows the seed-noise floor). Null when that reference was not sampled.
   */
  readonly fdToVanilla: number | null;
  readonly classAccuracy: number;
  /** Each evaluator's scores, by evaluator name, in the bench's evaluator order (the first is fd's). */
  readonly scores: Readonly<Record<string, EvaluatorScores>>;
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
  /** Called with the rows measured so far after each setting (to save partial results). */
  readonly onRow?: (rows: readonly BenchRow[]) => void;
  /** Called with each evaluator's test-set accuracy before any setting runs (throw to stop the run). */
  readonly checkReference?: (testAccuracy: Record<string, number>) => void;
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
  const grid = quick
    ? ([[T, budgets(T)]] as const)
    : ([
        [T, budgets(T)],
        [2 * T, budgets(2 * T)],
      ] as const);
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

/** Filters on the settings besides method and N (each off when undefined). */
export interface MoreFilters {
  /** Budgets of accelerated settings (vanilla rows are kept). */
  readonly budgets?: readonly number[];
  /** N of the vanilla rows, instead of `steps` (which then selects the accelerated rows' N only). */
  readonly vanillaSteps?: readonly number[];
}

/**
 * The settings of `configs` whose method is in `methods` and whose N is in `steps` (each filter off when
 * undefined), and whose budget is in `more.budgets`; with `more.vanillaSteps`, vanilla rows are picked by it.
 */
export function filterConfigs(configs: readonly BenchConfig[], methods?: readonly string[], steps?: readonly number[], more: MoreFilters = {}): BenchConfig[] {
  return configs.filter((c) => {
    if (methods !== undefined && !methods.includes(c.method)) return false;
    const vanilla = c.budget === undefined;
    const ns = vanilla && more.vanillaSteps !== undefined ? more.vanillaSteps : steps;
    if (ns !== undefined && !ns.includes(c.steps)) return false;
    return vanilla || more.budgets === undefined || more.budgets.includes(c.budget!);
  });
}

/** An evaluator with what the bench compares samples to in its feature space. */
export interface ScoredEvaluator {
  readonly evaluator: Evaluator;
  /** Statistics of the 10,000 Fashion-MNIST test images' features. */
  readonly reference: FeatureStats;
  /** The real manifold for precision and recall: as many test images as samples per setting, same classes. */
  readonly real: RealManifold;
  /** The evaluator's accuracy on the test set (a check that it is the classifier its card says). */
  readonly testAccuracy: number;
  /** Statistics of the vanilla reference samples, once sampled. */
  vanilla?: FeatureStats;
}

/**
 * Test images for precision and recall: `count` of them, image i of class i mod numClasses (the classes the
 * bench generates, in the same proportions), each class's in test-set order.
 */
export function classMatchedIndices(labels: Int32Array, count: number, numClasses: number): number[] {
  const byClass = Array.from({ length: numClasses }, () => [] as number[]);
  labels.forEach((l, i) => byClass[l]?.push(i));
  const next = new Array<number>(numClasses).fill(0);
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const c = i % numClasses;
    const idx = byClass[c]![next[c]!++];
    if (idx === undefined) throw new Error(`the test set has fewer than ${next[c]} images of class ${c}`);
    out.push(idx);
  }
  return out;
}

/** Each evaluator's view of the Fashion-MNIST test set: feature statistics, the real manifold, accuracy. */
export async function referenceStats(evaluators: readonly Evaluator[], samples: number, numClasses: number): Promise<ScoredEvaluator[]> {
  const data = await readFashionMnist('test');
  const subset = classMatchedIndices(data.labels, samples, numClasses);
  const out: ScoredEvaluator[] = [];
  for (const evaluator of evaluators) {
    let stats: FeatureStats | null = null;
    let all: Float32Array | null = null;
    let correct = 0;
    const chunk = 500;
    for (let i = 0; i < data.count; i += chunk) {
      const n = Math.min(chunk, data.count - i);
      const c = await evaluator.classify({ data: data.images.subarray(i * 784, (i + n) * 784), batch: n, channels: 1, height: 28, width: 28 });
      stats ??= new FeatureStats(c.featureDim);
      all ??= new Float32Array(data.count * c.featureDim);
      stats.add(c.features, n);
      all.set(c.features.subarray(0, n * c.featureDim), i * c.featureDim);
      const k = c.logits.length / n;
      for (let b = 0; b < n; b++) if (argmax(c.logits, b * k, k) === data.labels[i + b]) correct++;
    }
    const dim = stats!.dim;
    const real = new Float32Array(subset.length * dim);
    subset.forEach((idx, j) => real.set(all!.subarray(idx * dim, (idx + 1) * dim), j * dim));
    out.push({ evaluator, reference: stats!, real: realManifold({ data: real, count: subset.length, dim }, PR_K), testAccuracy: correct / data.count });
  }
  return out;
}

function argmax(v: Float32Array, offset: number, n: number): number {
  let best = 0;
  for (let k = 1; k < n; k++) if (v[offset + k]! > v[offset + best]!) best = k;
  return best;
}

function quantile(sorted: readonly number[], q: number): number {
  const at = (sorted.length - 1) * q;
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (at - lo);
}

/**
 * Generates `images` images for one setting in batches, timing each batch, and scores them with every evaluator
 * against the test set and, once sampled, against the vanilla reference. Returns the row and each evaluator's
 * feature statistics.
 */
export async function benchOne(
  backend: OrtBackend,
  evaluators: readonly ScoredEvaluator[],
  config: BenchConfig,
  o: BenchOptions,
): Promise<{ row: BenchRow; stats: FeatureStats[] }> {
  const { numClasses } = classCondition(backend.manifest, 'The class-conditional benchmark');
  const run = (batchIndex: number, n: number) =>
    generate(backend, {
      condition: Array.from({ length: n }, (_, b) => (batchIndex * o.batch + b) % numClasses),
      steps: config.steps,
      predictor: predictorOf(config.method),
      seed: o.seed + batchIndex,
      ...(config.budget !== undefined ? { budget: config.budget } : {}),
      ...(config.refresh === 'adaptive' ? { refresh: 'adaptive' as const } : {}),
      ...(config.guidanceCutoff !== undefined ? { guidanceCutoff: config.guidanceCutoff } : {}),
    });
  await run(-1 + 1e6, o.batch); // warm-up, with a seed outside the measured ones
  const stats = evaluators.map((e) => new FeatureStats(e.reference.dim));
  const features = evaluators.map((e) => new Float32Array(o.images * e.reference.dim));
  const correct = evaluators.map(() => 0);
  const perImage: number[] = [];
  let coreMs = 0;
  let totalMs = 0;
  let fullMs = 0;
  let fullSteps = 0;
  let skippedMs = 0;
  let skippedSteps = 0;
  const plans = new Map<string, number>();
  for (let i = 0, batchIndex = 0; i < o.images; i += o.batch, batchIndex++) {
    const n = Math.min(o.batch, o.images - i);
    const r = await run(batchIndex, n);
    if (n === o.batch) perImage.push(r.timings.totalMs / n);
    coreMs += r.timings.coreMs;
    totalMs += r.timings.totalMs;
    const plan = Array.from(r.plan).join(',');
    plans.set(plan, (plans.get(plan) ?? 0) + 1);
    for (const t of r.trace) {
      if (t.kind === 'full') {
        fullMs += t.backendMs + t.coreMs;
        fullSteps++;
      } else {
        skippedMs += t.backendMs + t.coreMs;
        skippedSteps++;
      }
    }
    const images = await backend.decode(r.tokens, n);
    for (let e = 0; e < evaluators.length; e++) {
      const c = await evaluators[e]!.evaluator.classify(images);
      const dim = evaluators[e]!.reference.dim;
      if (c.featureDim !== dim) throw new Error(`${evaluators[e]!.evaluator.name}: ${c.featureDim} features, ${dim} on the test set`);
      stats[e]!.add(c.features, n);
      features[e]!.set(c.features.subarray(0, n * dim), i * dim);
      for (let b = 0; b < n; b++) if (argmax(c.logits, b * numClasses, numClasses) === (batchIndex * o.batch + b) % numClasses) correct[e]!++;
    }
  }
  const sorted = [...perImage].sort((a, b) => a - b);
  const rho = skippedSteps > 0 && fullSteps > 0 ? skippedMs / skippedSteps / (fullMs / fullSteps) : null;
  const scores: Record<string, EvaluatorScores> = {};
  evaluators.forEach((e, k) => {
    const pr = precisionRecall(e.real, { data: features[k]!, count: o.images, dim: e.reference.dim });
    scores[e.evaluator.name] = {
      fd: frechetDistance(stats[k]!, e.reference),
      fdToVanilla: e.vanilla ? frechetDistance(stats[k]!, e.vanilla) : null,
      precision: pr.precision,
      recall: pr.recall,
      classAccuracy: correct[k]! / o.images,
    };
  });
  const first = scores[evaluators[0]!.evaluator.name]!;
  const row: BenchRow = {
    ...config,
    label: seriesOf(config),
    images: o.images,
    ...(config.refresh === 'adaptive' ? { plans: [...plans].sort((a, b) => b[1] - a[1]).map(([plan, batches]) => ({ plan, batches })) } : {}),
    msPerImage: { median: quantile(sorted, 0.5), p10: quantile(sorted, 0.1), p90: quantile(sorted, 0.9), runs: sorted.length },
    fd: first.fd,
    fdToVanilla: first.fdToVanilla,
    classAccuracy: first.classAccuracy,
    scores,
    coreShare: coreMs / totalMs,
    rho,
    speedup: null,
    idealSpeedup: rho !== null && config.budget !== undefined ? idealSpeedup(config.steps, config.budget, rho) : null,
  };
  return { row, stats };
}

/** Seed offset of the vanilla reference run: far from the measured batches' seeds (seed + batch index). */
const VANILLA_REFERENCE_SEED_OFFSET = 2_000_000;

/**
 * Fills in achieved speed-ups against vanilla at the same N (when that vanilla row exists): the vanilla row with
 * the same guidance cutoff, else the plain one.
 */
export function withSpeedups(rows: readonly BenchRow[]): BenchRow[] {
  return rows.map((r) => {
    if (r.method === 'vanilla') return r;
    const vanillas = rows.filter((v) => v.method === 'vanilla' && v.steps === r.steps);
    const base = vanillas.find((v) => v.guidanceCutoff === r.guidanceCutoff) ?? vanillas.find(isPlain);
    return { ...r, speedup: base ? base.msPerImage.median / r.msPerImage.median : null };
  });
}

/**
 * Runs every setting, logging one line each. First samples the vanilla reference at `vanillaSteps` (the trained N)
 * with seeds no setting uses, so each row's fdToVanilla compares independent draws. The first evaluator's FD is
 * the row's `fd`; every evaluator's scores are in `scores`.
 */
export async function runBench(
  backend: OrtBackend,
  evaluators: readonly Evaluator[],
  o: BenchOptions,
): Promise<{ rows: BenchRow[]; referenceImages: number; testAccuracy: Record<string, number> }> {
  const scored = await referenceStats(evaluators, o.images, classCondition(backend.manifest, 'The class-conditional benchmark').numClasses);
  const testAccuracy = Object.fromEntries(scored.map((e) => [e.evaluator.name, e.testAccuracy]));
  o.log(`test-set accuracy: ${scored.map((e) => `${e.evaluator.name} ${(100 * e.testAccuracy).toFixed(2)}%`).join(', ')}`);
  o.checkReference?.(testAccuracy);
  if (o.vanillaSteps !== undefined) {
    o.log(`vanilla reference N=${o.vanillaSteps} (other seeds, for fidelity)`);
    const refOptions = { ...o, seed: o.seed + VANILLA_REFERENCE_SEED_OFFSET };
    const { stats } = await benchOne(backend, scored, { method: 'vanilla', steps: o.vanillaSteps, budget: undefined }, refOptions);
    scored.forEach((e, k) => (e.vanilla = stats[k]!));
  }
  const rows: BenchRow[] = [];
  for (const config of o.configs) {
    const { row } = await benchOne(backend, scored, config, o);
    rows.push(row);
    o.onRow?.(withSpeedups(rows));
    const each = Object.entries(row.scores).map(
      ([name, s]) =>
        `${name} FD ${s.fd.toFixed(2)}${s.fdToVanilla === null ? '' : ` (to vanilla ${s.fdToVanilla.toFixed(2)})`} P ${s.precision.toFixed(3)} R ${s.recall.toFixed(3)} acc ${(100 * s.classAccuracy).toFixed(1)}%`,
    );
    o.log(
      `${seriesOf(config).padEnd(8)} N=${String(config.steps).padStart(2)} B=${String(config.budget ?? config.steps).padStart(2)}: ${row.msPerImage.median.toFixed(2)} ms/image; ${each.join('; ')}${
        row.plans
          ? `; plans ${row.plans
              .slice(0, 3)
              .map((p) => `[${p.plan}] x${p.batches}`)
              .join(', ')}`
          : ''
      }`,
    );
  }
  return { rows: withSpeedups(rows), referenceImages: scored[0]!.reference.count, testAccuracy };
}
