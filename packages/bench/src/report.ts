import { isPlain, labelOf, seriesOf, type BenchRow, type EvaluatorScores } from './run-bench.js';
import { TRAINING_FREE_METHODS } from './methods.js';

/** What a report needs besides the rows. */
export interface BenchMeta {
  readonly bundle: string;
  readonly device: string;
  readonly images: number;
  readonly batch: number;
  readonly node: string;
  readonly date: string;
  readonly quick: boolean;
  readonly referenceImages: number;
  readonly trainedSteps: number | null;
  /** The --methods and --steps filters of a partial run, as given. */
  readonly methods?: string;
  readonly steps?: string;
  /** The --budgets, --vanilla-steps, --refresh and --guidance-cutoff flags, as given. */
  readonly budgets?: string;
  readonly vanillaSteps?: string;
  readonly refresh?: string;
  readonly guidanceCutoff?: string;
  /** Each evaluator: name, what it is, its measured test accuracy. */
  readonly evaluators: readonly string[];
}

/** A PyTorch peer measurement at the same setting. */
export interface PeerRow {
  readonly method: string;
  readonly steps: number;
  readonly budget: number | null;
  /** Median over the timed runs. */
  readonly msPerImage: number;
  /** Fastest and slowest timed run, when the peer reports them. */
  readonly msPerImageMin?: number;
  readonly msPerImageMax?: number;
  /** The PyTorch thread setting this row was timed with, when several were tried. */
  readonly threads?: string;
}

/**
 * Per setting, the faster of several peer runs (each a thread setting: the peer is compared at its best, since
 * which setting wins changed between runs on the 2-core machine). Rows are matched on method, steps and budget;
 * `labels[i]` is stored on the rows taken from `runs[i]`.
 */
export function fastestPeerRows(runs: readonly (readonly PeerRow[])[], labels: readonly string[]): PeerRow[] {
  const best = new Map<string, PeerRow>();
  runs.forEach((rows, i) => {
    for (const row of rows) {
      const key = `${row.method}/${row.steps}/${row.budget ?? ''}`;
      const seen = best.get(key);
      if (!seen || row.msPerImage < seen.msPerImage) best.set(key, { ...row, threads: labels[i] ?? `run ${i + 1}` });
    }
  });
  return [...best.values()];
}

const f = (v: number | null, d = 2) => (v === null || !Number.isFinite(v) ? 'n/a' : v.toFixed(d));
const peerCell = (p: PeerRow): string =>
  p.msPerImageMin !== undefined && p.msPerImageMax !== undefined ? `${f(p.msPerImage)} (${f(p.msPerImageMin)}-${f(p.msPerImageMax)})` : f(p.msPerImage);

/** The evaluator names of a run, in order (the first is the rows' `fd`). */
export function evaluatorNames(rows: readonly BenchRow[]): string[] {
  return Object.keys(rows[0]?.scores ?? {});
}

/**
 * The table of BENCHMARKS.md: latency, then FD, FD to vanilla, precision, recall and class accuracy per
 * evaluator (one column each, or "a / b" for the small ones), then the speed columns and the PyTorch peer.
 */
export function markdownTable(rows: readonly BenchRow[], peers: readonly PeerRow[]): string {
  const names = evaluatorNames(rows);
  const both = (pick: (s: EvaluatorScores) => string) => (r: BenchRow) => names.map((n) => pick(r.scores[n]!)).join(' / ');
  const pct = (v: number) => `${(100 * v).toFixed(1)}%`;
  const cols: [string, string, (r: BenchRow) => string][] = [
    ...names.map((n): [string, string, (r: BenchRow) => string] => [`FD ${n}`, '---:', (r) => f(r.scores[n]!.fd)]),
    ...names.map((n): [string, string, (r: BenchRow) => string] => [`FD to vanilla ${n}`, '---:', (r) => f(r.scores[n]!.fdToVanilla)]),
    [`precision ${names.join(' / ')}`, '---:', both((s) => f(s.precision, 3))],
    [`recall ${names.join(' / ')}`, '---:', both((s) => f(s.recall, 3))],
    [`class acc. ${names.join(' / ')}`, '---:', both((s) => pct(s.classAccuracy))],
  ];
  const head = `| method | N | B | ms/image (median) | p10-p90 | ${cols.map((c) => c[0]).join(' | ')} | core share | rho | speed-up | ideal | achieved/ideal | PyTorch ms/image (min-max) | ours vs PyTorch |\n|---|---:|---:|---:|---:|${cols.map((c) => c[1]).join('|')}|---:|---:|---:|---:|---:|---:|---:|`;
  const lines = rows.map((r) => {
    const peer = isPlain(r) ? peers.find((p) => p.method === r.method && p.steps === r.steps && (p.budget ?? undefined) === r.budget) : undefined;
    return `| ${seriesOf(r)} | ${r.steps} | ${r.budget ?? r.steps} | ${f(r.msPerImage.median)} | ${f(r.msPerImage.p10)}-${f(r.msPerImage.p90)} | ${cols.map((c) => c[2](r)).join(' | ')} | ${(100 * r.coreShare).toFixed(1)}% | ${f(r.rho, 3)} | ${r.speedup === null ? '-' : `${f(r.speedup)}x`} | ${r.idealSpeedup === null ? '-' : `${f(r.idealSpeedup)}x`} | ${r.speedup !== null && r.idealSpeedup !== null ? `${((100 * r.speedup) / r.idealSpeedup).toFixed(0)}%` : '-'} | ${peer ? peerCell(peer) : '-'} | ${peer ? `${f(peer.msPerImage / r.msPerImage.median)}x faster` : '-'} |`;
  });
  return [head, ...lines].join('\n');
}

/** One evaluator's view of the rows: its FD, FD to vanilla and class accuracy in the fields the verdicts read. */
export function asEvaluator(rows: readonly BenchRow[], name: string): BenchRow[] {
  return rows.map((r) => {
    const s = r.scores[name];
    if (!s) throw new Error(`row ${r.method} N=${r.steps} has no scores of evaluator ${name}`);
    return { ...r, fd: s.fd, fdToVanilla: s.fdToVanilla, classAccuracy: s.classAccuracy };
  });
}

type Status = 'MET' | 'NOT MET' | 'NOT MEASURED';

/** A target's verdict: what it judges (the same under every evaluator), the status and the evidence. */
interface Verdict {
  readonly title: string;
  readonly status: Status;
  readonly text: string;
}

/**
 * Every target's verdict under every evaluator. A target judged on quality says MET only where every evaluator
 * says MET, SPLIT where they disagree (the line under it gives each one's verdict), NOT MET where none does;
 * targets on speed alone read the same under every evaluator and are given once.
 */
export function evaluatorVerdicts(rows: readonly BenchRow[], peers: readonly PeerRow[], trainedSteps: number | null, peerNote?: string): string[] {
  const names = evaluatorNames(rows);
  if (names.length === 0) return verdicts(rows, peers, trainedSteps, peerNote);
  const per = names.map((n) => judge(asEvaluator(rows, n), peers, trainedSteps, peerNote));
  return per[0]!.map((first, i) => {
    const each = per.map((p) => p[i]!);
    if (each.every((v) => v.status === first.status && v.text === first.text)) return `${first.status}: ${first.text}`;
    const statuses = new Set(each.map((v) => v.status));
    const combined = statuses.has('NOT MEASURED') ? 'NOT MEASURED' : statuses.size === 1 ? first.status : 'SPLIT';
    const agree = statuses.size === 1 ? ` (all ${names.length} evaluators)` : ` (${names.map((n, k) => `${n} ${each[k]!.status}`).join(', ')})`;
    return [`${combined}: ${first.title}${agree}`, ...each.map((v, k) => `  - ${names[k]}: ${v.status}: ${v.text}`)].join('\n');
  });
}

/**
 * Per N and budget, the accelerated method with the lowest FD under each evaluator (and the vanilla row at that
 * N for scale): where the evaluators agree on a winner, and where they do not.
 */
export function winners(rows: readonly BenchRow[]): string[] {
  const names = evaluatorNames(rows);
  const out: string[] = [];
  // Rows compete at equal N, B and guidance cutoff; refresh 'adaptive' rows are rivals at equal full steps.
  const cutoffOf = (r: BenchRow) => (r.guidanceCutoff === undefined ? '' : ` cutoff=${String(r.guidanceCutoff)}`);
  const keys = [...new Set(rows.filter((r) => r.budget !== undefined).map((r) => `${r.steps}/${r.budget}/${cutoffOf(r)}`))];
  for (const key of keys) {
    const [n, b] = key.split('/').map(Number);
    const cutoff = key.split('/')[2]!;
    const here = rows.filter((r) => r.steps === n && r.budget === b && cutoffOf(r) === cutoff);
    if (here.length < 2) continue;
    const name = (r: BenchRow) => seriesOf(r).replace(cutoff, '');
    const best = names.map((e) => here.reduce((a, r) => (r.scores[e]!.fd < a.scores[e]!.fd ? r : a)));
    const same = best.every((r) => r === best[0]);
    const order = names.map(
      (e) =>
        `${e}: ${[...here]
          .sort((x, y) => x.scores[e]!.fd - y.scores[e]!.fd)
          .map((r) => `${name(r)} ${f(r.scores[e]!.fd)}`)
          .join(' < ')}`,
    );
    out.push(
      `N=${n} B=${b}${cutoff}: ${same ? `${name(best[0]!)} has the lowest FD under every evaluator` : `the evaluators disagree (${names.map((e, k) => `${e}: ${name(best[k]!)}`).join(', ')})`}. ${order.join('; ')}.`,
    );
  }
  return out;
}

/**
 * Each variant row against the row without that variant (same method, N and B: equal full steps). For refresh
 * 'adaptive': lower FD, per evaluator, with BETTER only where every evaluator has a lower FD, SPLIT where they
 * differ, WORSE where none does. For a guidance cutoff: the per-image latency saving against the row with both
 * branches everywhere (cutoff false; or, if absent, the row at core's default cutoff 0) and each evaluator's FD,
 * precision and recall next to it.
 */
export function variantComparisons(rows: readonly BenchRow[]): string[] {
  const names = evaluatorNames(rows);
  const out: string[] = [];
  const same = (a: BenchRow, b: BenchRow) => a.method === b.method && a.steps === b.steps && a.budget === b.budget;
  const scoresOf = (r: BenchRow) =>
    names.map((e) => `${e} FD ${f(r.scores[e]!.fd)} P ${f(r.scores[e]!.precision, 3)} R ${f(r.scores[e]!.recall, 3)}`).join(', ');
  for (const r of rows.filter((x) => x.refresh === 'adaptive')) {
    const fixed = rows.find((x) => same(x, r) && x.refresh === undefined && x.guidanceCutoff === r.guidanceCutoff);
    if (!fixed) continue;
    const better = names.map((e) => r.scores[e]!.fd < fixed.scores[e]!.fd);
    const status = better.every(Boolean) ? 'BETTER' : better.some(Boolean) ? 'SPLIT' : 'WORSE';
    const each = names.map(
      (e, k) =>
        `${e} FD ${f(r.scores[e]!.fd)} vs ${f(fixed.scores[e]!.fd)} (${better[k] ? 'lower' : 'not lower'}), P ${f(r.scores[e]!.precision, 3)} vs ${f(fixed.scores[e]!.precision, 3)}, R ${f(r.scores[e]!.recall, 3)} vs ${f(fixed.scores[e]!.recall, 3)}`,
    );
    out.push(
      `${status}: ${labelOf(r)} vs the fixed plan at equal full steps: ${each.join('; ')}; ${f(r.msPerImage.median)} vs ${f(fixed.msPerImage.median)} ms/image.`,
    );
  }
  // Cutoffs against both branches everywhere (cutoff false, the old behaviour) where the run has it, else
  // against core's default.
  for (const r of rows.filter((x) => x.guidanceCutoff !== false)) {
    const peers = rows.filter((x) => same(x, r) && x.refresh === r.refresh);
    const base =
      peers.find((x) => x.guidanceCutoff === false) ?? (r.guidanceCutoff !== undefined ? peers.find((x) => x.guidanceCutoff === undefined) : undefined);
    if (!base) continue;
    const saving = 1 - r.msPerImage.median / base.msPerImage.median;
    out.push(
      `${labelOf(r)}${r.guidanceCutoff === undefined ? ' (default cutoff 0)' : ''}: ${f(100 * saving, 1)}% ms/image saved against ${labelOf(base)} (${f(r.msPerImage.median)} vs ${f(base.msPerImage.median)}); ${scoresOf(r)}; against ${scoresOf(base)}.`,
    );
  }
  return out;
}

/** The honest verdict on each target of the benchmark, computed from the rows' fd and classAccuracy. */
export function verdicts(rows: readonly BenchRow[], peers: readonly PeerRow[], trainedSteps: number | null, peerNote?: string): string[] {
  return judge(rows, peers, trainedSteps, peerNote).map((v) => `${v.status}: ${v.text}`);
}

function judge(allRows: readonly BenchRow[], peers: readonly PeerRow[], trainedSteps: number | null, peerNote?: string): Verdict[] {
  const out: Verdict[] = [];
  // The targets judge generate()'s defaults: rows with a variant (refresh 'adaptive', a guidance cutoff other than
  // the default) are judged against their own plain row instead, at equal full steps (variantComparisons).
  const rows = allRows.filter(isPlain);
  // The targets are the shortcut's; shortcut-taylor (the learned shortcut where Taylor has nothing to extrapolate
  // from) gets the same two quality checks on its own lines, and is not counted against the shortcut.
  for (const method of ['shortcut', 'shortcut-taylor'] as const) {
    if (method === 'shortcut-taylor' && !rows.some((r) => r.method === method)) continue;
    out.push(...qualityVerdicts(rows, method, trainedSteps));
  }
  const ratios = rows.filter((r) => r.speedup !== null && r.idealSpeedup !== null).map((r) => r.speedup! / r.idealSpeedup!);
  const shortcutRatios = rows.filter((r) => r.method === 'shortcut' && r.speedup !== null && r.idealSpeedup !== null).map((r) => r.speedup! / r.idealSpeedup!);
  if (shortcutRatios.length > 0) {
    const worst = Math.min(...shortcutRatios);
    out.push({
      title: 'shortcut achieved / ideal speed-up',
      status: worst >= 0.9 ? 'MET' : 'NOT MET',
      text: `shortcut achieved / ideal speed-up is ${(100 * worst).toFixed(0)}%-${(100 * Math.max(...shortcutRatios)).toFixed(0)}% (target >= 90%; all accelerated rows: ${(100 * Math.min(...ratios)).toFixed(0)}%-${(100 * Math.max(...ratios)).toFixed(0)}%).`,
    });
  } else {
    out.push({
      title: 'shortcut achieved / ideal speed-up',
      status: 'NOT MEASURED',
      text: 'shortcut achieved / ideal speed-up (needs shortcut rows and vanilla at the same N).',
    });
  }
  const pairs = peers
    .map((p) => ({ p, r: rows.find((r) => r.method === p.method && r.steps === p.steps && (p.budget ?? undefined) === r.budget) }))
    .filter((x) => x.r);
  if (pairs.length > 0) {
    const worst = Math.min(...pairs.map(({ p, r }) => p.msPerImage / r!.msPerImage.median));
    out.push({
      title: 'Node vs PyTorch',
      status: worst >= 1.5 ? 'MET' : 'NOT MET',
      text: `our Node runtime is ${f(worst)}x-${f(Math.max(...pairs.map(({ p, r }) => p.msPerImage / r!.msPerImage.median)))}x faster per image than the PyTorch reference sampler at the same settings (target >= 1.5x).`,
    });
  } else {
    // Say why: the peer can be skipped on purpose (--torch off) as well as missing its checkpoints.
    out.push({
      title: 'Node vs PyTorch',
      status: 'NOT MEASURED',
      text: `the PyTorch reference sampler comparison (${(peerNote ?? 'needs the training checkpoints in training/work').replace(/\.$/, '')}; see the note above the table).`,
    });
  }
  return out;
}

/** Target 1 (speed, FD and class accuracy at B ~ N/3) and target 2 (lowest FD at equal latency) for one method. */
function qualityVerdicts(rows: readonly BenchRow[], method: 'shortcut' | 'shortcut-taylor', trainedSteps: number | null): Verdict[] {
  const out: Verdict[] = [];
  const T = trainedSteps;
  const vanillaT = rows.find((r) => r.method === 'vanilla' && r.steps === T);
  const atT = rows.filter((r) => r.method === method && r.steps === T);
  const third = T ? atT.sort((a, b) => Math.abs(a.budget! - T / 3) - Math.abs(b.budget! - T / 3))[0] : undefined;
  if (vanillaT && third) {
    const fast = (third.speedup ?? 0) >= 2.5;
    const fd = third.fd <= vanillaT.fd * 1.1;
    const acc = third.classAccuracy >= vanillaT.classAccuracy - 0.02;
    out.push({
      title: `${method} N=${T} B=${third.budget} vs vanilla N=${T} (>= 2.5x faster, FD <= +10%, class accuracy within 2 points)`,
      status: fast && fd && acc ? 'MET' : 'NOT MET',
      text: `${method} N=${T} B=${third.budget} vs vanilla N=${T}: ${f(third.speedup)}x faster (target >= 2.5x), FD ${f(third.fd)} vs ${f(vanillaT.fd)} (${f(100 * (third.fd / vanillaT.fd - 1), 1)}%, target <= +10%), class accuracy ${(100 * third.classAccuracy).toFixed(1)}% vs ${(100 * vanillaT.classAccuracy).toFixed(1)}% (target within 2 points).`,
    });
  } else {
    out.push({
      title: `${method} at the trained N, B ~ N/3, vs vanilla`,
      status: 'NOT MEASURED',
      text: `${method} at the trained N with B ~ N/3 next to vanilla at the trained N.`,
    });
  }
  // At equal latency: for each point of the method, any fewer-step vanilla or training-free accelerated setting
  // (reuse, taylor, adams, ...: every method of the registry that needs no shortcut) at <= its latency must
  // have higher FD.
  const own = rows.filter((r) => r.method === method);
  const rivals = rows.filter((r) => TRAINING_FREE_METHODS.includes(r.method));
  const beaten: string[] = [];
  for (const s of own) {
    for (const o of rivals.filter((r) => r.msPerImage.median <= s.msPerImage.median * 1.05 && r.fd < s.fd)) {
      beaten.push(`${labelOf(o)} (${f(o.msPerImage.median)} ms, FD ${f(o.fd)}) beats ${labelOf(s)} (${f(s.msPerImage.median)} ms, FD ${f(s.fd)})`);
    }
  }
  // A run filtered with --methods/--steps may lack a rival family; then "nobody beats it" proves nothing.
  const missing = TRAINING_FREE_METHODS.filter((m) => !rivals.some((r) => r.method === m && (m !== 'vanilla' || r.steps < (T ?? Infinity))));
  const title = `${method} at equal latency (no fewer-step vanilla or training-free setting at <= 1.05x its latency has a lower FD)`;
  if (own.length === 0) out.push({ title, status: 'NOT MEASURED', text: `no ${method} rows.` });
  else if (beaten.length > 0) out.push({ title, status: 'NOT MET', text: `${beaten.join('; ')}.` });
  else if (missing.length > 0)
    out.push({
      title,
      status: 'NOT MEASURED',
      text: `no measured setting beats ${method} at equal or lower latency, but the run has no ${missing.map((m) => (m === 'vanilla' ? 'fewer-step vanilla' : m)).join(', ')} rows.`,
    });
  else
    out.push({
      title,
      status: 'MET',
      text: `at equal or lower latency, no fewer-step vanilla or ${TRAINING_FREE_METHODS.filter((m) => m !== 'vanilla').join(', ')} setting has a lower FD than ${method}.`,
    });
  return out;
}
