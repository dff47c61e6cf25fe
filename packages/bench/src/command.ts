import { execFile } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { createNodeBackend, NODE_DEVICES, type NodeDevice, type OrtBackend } from '@migm/backend-node';
import { bundleDir } from '@migm/bundle-fashion-mnist';
import { intFlag, listFlag, oneOf, parse, UsageError } from './flags.js';
import { paretoSvg } from './pareto-svg.js';
import { bundleEvaluator, checkCards, shippedEvaluators, type Evaluator } from './evaluators.js';
import { evaluatorVerdicts, fastestPeerRows, markdownTable, variantComparisons, winners, type BenchMeta, type PeerRow } from './report.js';
import { defaultConfigs, filterConfigs, PR_K, runBench, seriesOf, withVariants, type BenchConfig, type BenchRow, type Refresh } from './run-bench.js';
import type { Manifest } from '@migm/core';
import { METHOD_NAMES } from './methods.js';

/** The methods training/'s PyTorch reference sampler implements (migm_train/sampler.py). */
const PEER_METHODS: readonly string[] = ['vanilla', 'shortcut', 'taylor', 'shortcut-taylor'];

const START = '<!-- node-bench:start -->';
const END = '<!-- node-bench:end -->';

/**
 * The Pareto benchmark: latency, FD and class accuracy of vanilla at several N and of shortcut / reuse / taylor
 * at the trained N and 2N with several budgets. Writes raw JSON, an SVG plot and a BENCHMARKS.md section.
 */
export async function benchCommand(argv: string[]): Promise<void> {
  const values = parse(argv, {
    bundle: { type: 'string' },
    device: { type: 'string' },
    threads: { type: 'string' },
    quick: { type: 'boolean' },
    images: { type: 'string' },
    batch: { type: 'string' },
    seed: { type: 'string' },
    out: { type: 'string' },
    markdown: { type: 'string' },
    torch: { type: 'string' },
    methods: { type: 'string' },
    steps: { type: 'string' },
    budgets: { type: 'string' },
    'vanilla-steps': { type: 'string' },
    refresh: { type: 'string' },
    'guidance-cutoff': { type: 'string' },
  });
  const quick = values.quick === true;
  const images = intFlag('images', values.images, quick ? 160 : 2000, 16, 1_000_000)!;
  const batch = intFlag('batch', values.batch, 16, 1, 256)!;
  if (images < batch) throw new UsageError(`--images (${images}) must be at least --batch (${batch}): latency is timed on full batches`);
  const seed = intFlag('seed', values.seed, 1000, 0, Number.MAX_SAFE_INTEGER)!;
  const outDir = resolve(values.out ?? 'bench-out');
  const backend = await loadBackend(values);
  const evaluators: Evaluator[] = [bundleEvaluator(backend)];
  try {
    const m = backend.manifest;
    const selection = selectConfigs(m, quick, values);
    const configs = selection.configs;
    if (values.markdown && selection.filtered) {
      throw new UsageError(
        "--markdown replaces the full run's section of the file and docs/img/pareto.svg; with --methods/--steps/--budgets/--vanilla-steps/--refresh/--guidance-cutoff, leave it out and use the files in --out",
      );
    }
    const shipped = await shippedEvaluators(intFlag('threads', values.threads, undefined, 1, 256));
    evaluators.push(...shipped);
    console.log(
      `benchmark: ${m.name} on ${backend.device}, ${configs.length} settings x ${images} images, batch ${batch}${quick ? ' (quick)' : ''}; load average ${loadavg()[0]!.toFixed(2)}`,
    );
    const t0 = performance.now();
    const vanillaSteps = m.graphs.shortcut?.trainedSteps ?? m.sampling.steps;
    console.log(`evaluators: ${evaluators.map((e) => e.description).join('; ')}`);
    // The shipped graphs must be the ones their cards describe (a stale or foreign file would score silently).
    const checkReference = (testAccuracy: Record<string, number>) => checkCards(shipped, testAccuracy);
    // Rows so far after each setting, so that a run stopped early still leaves its finished settings.
    await mkdir(outDir, { recursive: true });
    const onRow = (done: readonly BenchRow[]) =>
      writeFileSync(join(outDir, 'bench.partial.json'), JSON.stringify({ settings: configs.length, rows: done }, null, 1));
    const { rows, referenceImages, testAccuracy } = await runBench(backend, evaluators, {
      images,
      batch,
      seed,
      configs,
      vanillaSteps,
      checkReference,
      onRow,
      log: (l) => console.log(l),
    });
    const peers = await pytorchPeer(values.torch, configs, batch, quick);
    const meta: BenchMeta = {
      bundle: `${m.name}${m.version ? ` ${m.version}` : ''}`,
      device: backend.device,
      images,
      batch,
      node: process.version,
      date: new Date().toISOString().slice(0, 10),
      quick,
      referenceImages,
      trainedSteps: m.graphs.shortcut?.trainedSteps ?? null,
      ...(values.methods !== undefined ? { methods: values.methods } : {}),
      ...(values.steps !== undefined ? { steps: values.steps } : {}),
      ...(values.budgets !== undefined ? { budgets: values.budgets } : {}),
      ...(values['vanilla-steps'] !== undefined ? { vanillaSteps: values['vanilla-steps'] } : {}),
      ...(values.refresh !== undefined ? { refresh: values.refresh } : {}),
      ...(values['guidance-cutoff'] !== undefined ? { guidanceCutoff: values['guidance-cutoff'] } : {}),
      evaluators: evaluators.map((e) => `${e.name}: ${e.description}; measured test accuracy ${(100 * testAccuracy[e.name]!).toFixed(2)}%`),
    };
    await mkdir(outDir, { recursive: true });
    await writeFile(join(outDir, 'bench.json'), JSON.stringify({ meta, rows, peers: peers.rows, peerNote: peers.note }, null, 1));
    const svg = paretoSvg(
      [
        ...rows.map((r) => ({
          series: seriesOf(r),
          label: r.method === 'vanilla' ? `N${r.steps}` : `${r.steps}/${r.budget}`,
          x: r.msPerImage.median,
          y: r.fd,
        })),
      ],
      `FD vs latency (${m.name}, ${backend.device}, ${images} images per point)`,
      'ms per image (median, batch 16, log scale)',
      'FD (lower is better)',
    );
    await writeFile(join(outDir, 'pareto.svg'), svg);
    const compared = variantComparisons(rows);
    console.log(
      `\n${markdownTable(rows, peers.rows)}\n\n${evaluatorVerdicts(rows, peers.rows, meta.trainedSteps, peers.note).join('\n')}\n\n${winners(rows).join('\n')}\n${compared.length > 0 ? `\n${compared.join('\n')}\n` : ''}wrote ${outDir}/bench.json and pareto.svg in ${((performance.now() - t0) / 60000).toFixed(1)} min; load average ${loadavg()[0]!.toFixed(2)}`,
    );
    if (values.markdown) await writeSection(resolve(values.markdown), meta, rows, peers, svg);
  } finally {
    for (const e of evaluators) await e.dispose();
    await backend.dispose();
  }
}

/** The flags that pick settings, as given. */
export interface SelectionFlags {
  readonly methods?: string | undefined;
  readonly steps?: string | undefined;
  readonly budgets?: string | undefined;
  readonly 'vanilla-steps'?: string | undefined;
  readonly refresh?: string | undefined;
  readonly 'guidance-cutoff'?: string | undefined;
}

/** The largest guidance cutoff accepted (core's MAX_SCALE). */
const MAX_CUTOFF = 1000;

/** One item of --guidance-cutoff: `false` or a number from 0 to MAX_CUTOFF. */
export function cutoffItem(v: string): number | false {
  if (v === 'false') return false;
  const n = Number(v);
  if (!/^\d+(\.\d+)?$/.test(v) || !Number.isFinite(n) || n > MAX_CUTOFF)
    throw new UsageError(`--guidance-cutoff must be a comma-separated list of 'false' or numbers from 0 to ${MAX_CUTOFF}, got '${v}'`);
  return n;
}

/**
 * The settings the flags select from the bundle's defaults, crossed with the --refresh and --guidance-cutoff
 * variants. Every item of every flag must select a setting (a silently ignored item misleads). `filtered`: a
 * partial run (no --markdown).
 */
export function selectConfigs(m: Manifest, quick: boolean, values: SelectionFlags): { configs: BenchConfig[]; filtered: boolean } {
  const methods = listFlag('methods', values.methods, (v) => oneOf('methods', v, METHOD_NAMES));
  const stepsFilter = listFlag('steps', values.steps, (v) => intFlag('steps', v, undefined, 1, m.tokens.count)!);
  const budgets = listFlag('budgets', values.budgets, (v) => intFlag('budgets', v, undefined, 1, m.tokens.count)!);
  const vanillaSteps = listFlag('vanilla-steps', values['vanilla-steps'], (v) => intFlag('vanilla-steps', v, undefined, 1, m.tokens.count)!);
  const refresh = listFlag<Refresh>('refresh', values.refresh, (v) => oneOf<Refresh>('refresh', v, ['fixed', 'adaptive']));
  const cutoffs = listFlag('guidance-cutoff', values['guidance-cutoff'], cutoffItem);
  // --vanilla-steps may ask for a vanilla N off the default ladder (an equal-cost reference such as N = 5 for B = 5):
  // vanilla has no budget, so every N from 1 to the token count is a well-defined setting.
  const ladder = defaultConfigs(m, quick);
  const extra = (vanillaSteps ?? []).filter((n) => !ladder.some((c) => c.budget === undefined && c.steps === n));
  const all = [
    ...[...ladder.filter((c) => c.budget === undefined), ...extra.map((steps) => ({ method: 'vanilla' as const, steps, budget: undefined }))].sort(
      (a, b) => a.steps - b.steps,
    ),
    ...ladder.filter((c) => c.budget !== undefined),
  ];
  const picked = filterConfigs(all, methods, stepsFilter, { ...(budgets ? { budgets } : {}), ...(vanillaSteps ? { vanillaSteps } : {}) });
  const available = () => [...new Set(all.map((c) => `${c.method} N=${c.steps}${c.budget === undefined ? '' : ` B=${c.budget}`}`))].join(', ');
  const given = (['methods', 'steps', 'budgets', 'vanilla-steps'] as const)
    .filter((k) => values[k] !== undefined)
    .map((k) => `--${k} ${values[k]}`)
    .join(' ');
  if (picked.length === 0) throw new UsageError(`${given} leave no setting to run (settings: ${available()})`);
  const unused = (flag: string, item: string | number, others: string) =>
    new UsageError(`--${flag} ${item} selects no setting${others ? ` with ${others}` : ''} (settings: ${available()})`);
  const except = (flag: string) =>
    given
      .split(/ (?=--)/)
      .filter((g) => !g.startsWith(`--${flag} `))
      .join(' ');
  const accel = picked.filter((c) => c.budget !== undefined);
  const stepsPicked = vanillaSteps ? accel : picked;
  const unusedMethod = methods?.find((x) => !picked.some((c) => c.method === x));
  if (unusedMethod !== undefined) throw unused('methods', unusedMethod, except('methods'));
  const unusedSteps = stepsFilter?.find((n) => !stepsPicked.some((c) => c.steps === n));
  if (unusedSteps !== undefined) throw unused('steps', unusedSteps, except('steps'));
  const unusedVanilla = vanillaSteps?.find((n) => !picked.some((c) => c.budget === undefined && c.steps === n));
  if (unusedVanilla !== undefined) throw unused('vanilla-steps', unusedVanilla, except('vanilla-steps'));
  const unusedBudget = budgets?.find((b) => !accel.some((c) => c.budget === b));
  if (unusedBudget !== undefined) throw unused('budgets', unusedBudget, except('budgets'));
  if (refresh?.includes('adaptive') && accel.length === 0)
    throw new UsageError(`--refresh adaptive applies to accelerated settings only, and ${given || 'the run'} selects none`);
  const configs = withVariants(picked, refresh, cutoffs);
  return { configs, filtered: [methods, stepsFilter, budgets, vanillaSteps, refresh, cutoffs].some((f) => f !== undefined) };
}

/** The bundle (default: the embedded one) with its evaluation classifier loaded. */
async function loadBackend(values: { bundle?: string | undefined; device?: string | undefined; threads?: string | undefined }): Promise<OrtBackend> {
  const device = values.device === undefined ? 'cpu' : oneOf<NodeDevice>('device', values.device, NODE_DEVICES);
  const threads = intFlag('threads', values.threads, undefined, 1, 256);
  return createNodeBackend({
    bundle: values.bundle ?? bundleDir(),
    device,
    ...(threads !== undefined ? { threads } : {}),
    classifier: true,
    onFallback: (f) => process.stderr.write(`migm-bench: ${f.device} unavailable, using the next device: ${f.error.message}\n`),
  });
}

async function writeSection(
  path: string,
  meta: BenchMeta,
  rows: Parameters<typeof markdownTable>[0],
  peers: { rows: PeerRow[]; note: string },
  svg: string,
): Promise<void> {
  const imgPath = join(dirname(path), 'docs', 'img', 'pareto.svg');
  await mkdir(dirname(imgPath), { recursive: true });
  await writeFile(imgPath, svg);
  const block = [
    START,
    `Run: \`pnpm bench${meta.quick ? ' --quick' : ''}${meta.methods ? ` --methods ${meta.methods}` : ''}${meta.steps ? ` --steps ${meta.steps}` : ''} --images ${meta.images} --markdown BENCHMARKS.md\` on ${meta.date}: ${meta.bundle}, onnxruntime-node ${meta.device}, Node ${meta.node}, ${meta.images} images per setting (classes cycled 0-9), batch ${meta.batch}; latency = generate() time per image (median and p10-p90 over the timed batches, after one warm-up batch; decoding and classification not timed). Each evaluator scores every setting in its own feature space (two classifiers trained independently, and an autoencoder trained without labels): ${meta.evaluators.join('; ')}. FD: Frechet distance against the ${meta.referenceImages} Fashion-MNIST test images; FD to vanilla: the same distance to ${meta.images} vanilla images at the trained N drawn with other seeds (fidelity to what the base model generates; vanilla's own row at that N is the seed-noise floor); precision / recall: improved precision and recall (k-NN manifolds, k = ${PR_K}; Kynkaanniemi et al. 2019) against ${meta.images} test images of the same classes (precision: share of samples on the data's manifold, fidelity; recall: share of test images on the samples' manifold, variety); class acc.: share classified as the class asked for. A quality target reads MET only where all evaluators say MET, SPLIT where they disagree. rho = measured cost of a skipped step / a full step; ideal speed-up N / (B + (N - B) rho); speed-ups are against vanilla at the same N.`,
    '',
    markdownTable(rows, peers.rows),
    '',
    `PyTorch peer: ${peers.note}`,
    '',
    '![FD vs latency](docs/img/pareto.svg)',
    '',
    'Targets (per evaluator where they differ):',
    ...evaluatorVerdicts(rows, peers.rows, meta.trainedSteps, peers.note).map((v) => `- ${v}`),
    '',
    'Lowest FD per budget, by evaluator:',
    ...winners(rows).map((v) => `- ${v}`),
    END,
  ].join('\n');
  let doc = existsSync(path) ? await readFile(path, 'utf8') : '# Benchmarks\n';
  doc = doc.includes(START)
    ? doc.replace(new RegExp(`${START}[\\s\\S]*?${END}`), block)
    : `${doc.trimEnd()}\n\n## Node benchmark: speed and quality (Pareto)\n\n${block}\n`;
  await writeFile(path, doc);
  console.log(`updated ${path}`);
}

/**
 * Times the PyTorch reference sampler (training/) at the same settings, when its checkpoints exist. Returns
 * the rows and a sentence saying what was done or why not.
 */
async function pytorchPeer(
  flag: string | undefined,
  configs: readonly BenchConfig[],
  batch: number,
  quick: boolean,
): Promise<{ rows: PeerRow[]; note: string }> {
  if (flag === 'off') return { rows: [], note: 'skipped (--torch off).' };
  const work = resolve(flag ?? 'training/work');
  const trainingDir = resolve(work, '..');
  if (!existsSync(join(work, 'base.pt'))) {
    return { rows: [], note: `not run: no PyTorch checkpoints at ${work} (they are made by the training build, not shipped; run it or pass --torch DIR).` };
  }
  const python = join(trainingDir, '.venv', 'bin', 'python'); // made by scripts/setup.sh
  if (!existsSync(python)) {
    return { rows: [], note: `not run: ${python} does not exist (make the training environment with bash scripts/setup.sh).` };
  }
  const spec = configs.filter((c) => PEER_METHODS.includes(c.method)).map((c) => ({ method: c.method, steps: c.steps, budget: c.budget ?? null }));
  if (spec.length === 0)
    return { rows: [], note: `not run: the PyTorch reference sampler has only ${PEER_METHODS.join(', ')}, and the run has no such settings.` };
  // Both ways of giving PyTorch the 2 cores, and per setting the faster: which wins changed between runs here
  // (vanilla N = 16 on 2026-11-26: 1 torch + 2 OpenBLAS threads 360-375 ms/image against 319-333 for 2 + 1, and
  // an hour later 240 for 1 + 2; 2 + 2 oversubscribes, 520 ms).
  // --quick times one setting (the one that won most rows in the full runs) with 3 runs: the peer was 8 of the
  // quick run's 12.9 minutes with both settings and 5 runs.
  const both = [
    { label: '1 torch + 2 OpenBLAS threads', torch: '1', blas: '2' },
    { label: '2 torch + 1 OpenBLAS thread', torch: '2', blas: '1' },
  ];
  const settings = quick ? both.slice(1) : both;
  const runs = quick ? 3 : 5;
  try {
    const timed: PeerRow[][] = [];
    let note = '';
    for (const s of settings) {
      const { stdout } = await promisify(execFile)(
        python,
        ['-m', 'migm_train.fashion_mnist.bench_peer', '--work', work, '--batch', String(batch), '--runs', String(runs), '--configs', JSON.stringify(spec)],
        {
          cwd: trainingDir,
          maxBuffer: 1 << 24,
          env: { ...process.env, MALLOC_MMAP_MAX_: '0', MALLOC_TRIM_THRESHOLD_: '34359738368', MIGM_TORCH_THREADS: s.torch, OPENBLAS_NUM_THREADS: s.blas },
        },
      );
      const parsed = JSON.parse(stdout.trim().split('\n').at(-1)!) as { rows: PeerRow[]; note: string };
      timed.push(parsed.rows);
      note = parsed.note;
    }
    return {
      rows: fastestPeerRows(
        timed,
        settings.map((s) => s.label),
      ),
      note: quick
        ? `${note} Quick run: one thread setting and ${runs} runs; the full run times each setting with both ${both.map((s) => s.label).join(' and ')} and reports the faster.`
        : `${note.replace(/, \d+ torch thread\(s\) \+ \S+ OpenBLAS thread\(s\)\)/, ')')} Each setting was timed with ${settings.map((s) => s.label).join(' and with ')}; the faster median is reported (bench.json: \`threads\` per row).`,
    };
  } catch (err) {
    return { rows: [], note: `failed: ${(err as Error).message.split('\n')[0]}` };
  }
}
