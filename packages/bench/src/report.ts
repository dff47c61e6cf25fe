import type { BenchRow } from './run-bench.js';
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

export function markdownTable(rows: readonly BenchRow[], peers: readonly PeerRow[]): string {
  const head = '| method | N | B | ms/image (median) | p10-p90 | FD | FD to vanilla | class acc. | core share | rho | speed-up | ideal | achieved/ideal | PyTorch ms/image (min-max) | ours vs PyTorch |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|';
  const lines = rows.map((r) => {
    const peer = peers.find((p) => p.method === r.method && p.steps === r.steps && (p.budget ?? undefined) === r.budget);
    return `| ${r.method} | ${r.steps} | ${r.budget ?? r.steps} | ${f(r.msPerImage.median)} | ${f(r.msPerImage.p10)}-${f(r.msPerImage.p90)} | ${f(r.fd)} | ${f(r.fdToVanilla)} | ${(100 * r.classAccuracy).toFixed(1)}% | ${(100 * r.coreShare).toFixed(1)}% | ${f(r.rho, 3)} | ${r.speedup === null ? '-' : `${f(r.speedup)}x`} | ${r.idealSpeedup === null ? '-' : `${f(r.idealSpeedup)}x`} | ${r.speedup !== null && r.idealSpeedup !== null ? `${(100 * r.speedup / r.idealSpeedup).toFixed(0)}%` : '-'} | ${peer ? peerCell(peer) : '-'} | ${peer ? `${f(peer.msPerImage / r.msPerImage.median)}x faster` : '-'} |`;
  });
  return [head, ...lines].join('\n');
}

/** The honest verdict on each target of the benchmark, computed from the rows. */
export function verdicts(rows: readonly BenchRow[], peers: readonly PeerRow[], trainedSteps: number | null, peerNote?: string): string[] {
  const out: string[] = [];
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
    out.push(`${worst >= 0.9 ? 'MET' : 'NOT MET'}: shortcut achieved / ideal speed-up is ${(100 * worst).toFixed(0)}%-${(100 * Math.max(...shortcutRatios)).toFixed(0)}% (target >= 90%; all accelerated rows: ${(100 * Math.min(...ratios)).toFixed(0)}%-${(100 * Math.max(...ratios)).toFixed(0)}%).`);
  } else {
    out.push('NOT MEASURED: shortcut achieved / ideal speed-up (needs shortcut rows and vanilla at the same N).');
  }
  const pairs = peers.map((p) => ({ p, r: rows.find((r) => r.method === p.method && r.steps === p.steps && (p.budget ?? undefined) === r.budget) })).filter((x) => x.r);
  if (pairs.length > 0) {
    const worst = Math.min(...pairs.map(({ p, r }) => p.msPerImage / r!.msPerImage.median));
    out.push(`${worst >= 1.5 ? 'MET' : 'NOT MET'}: our Node runtime is ${f(worst)}x-${f(Math.max(...pairs.map(({ p, r }) => p.msPerImage / r!.msPerImage.median)))}x faster per image than the PyTorch reference sampler at the same settings (target >= 1.5x).`);
  } else {
    // Say why: the peer can be skipped on purpose (--torch off) as well as missing its checkpoints.
    out.push(`NOT MEASURED: the PyTorch reference sampler comparison (${(peerNote ?? 'needs the training checkpoints in training/work').replace(/\.$/, '')}; see the note above the table).`);
  }
  return out;
}

/** Target 1 (speed, FD and class accuracy at B ~ N/3) and target 2 (lowest FD at equal latency) for one method. */
function qualityVerdicts(rows: readonly BenchRow[], method: 'shortcut' | 'shortcut-taylor', trainedSteps: number | null): string[] {
  const out: string[] = [];
  const T = trainedSteps;
  const vanillaT = rows.find((r) => r.method === 'vanilla' && r.steps === T);
  const atT = rows.filter((r) => r.method === method && r.steps === T);
  const third = T ? atT.sort((a, b) => Math.abs(a.budget! - T / 3) - Math.abs(b.budget! - T / 3))[0] : undefined;
  if (vanillaT && third) {
    const fast = (third.speedup ?? 0) >= 2.5;
    const fd = third.fd <= vanillaT.fd * 1.1;
    const acc = third.classAccuracy >= vanillaT.classAccuracy - 0.02;
    out.push(`${fast && fd && acc ? 'MET' : 'NOT MET'}: ${method} N=${T} B=${third.budget} vs vanilla N=${T}: ${f(third.speedup)}x faster (target >= 2.5x), FD ${f(third.fd)} vs ${f(vanillaT.fd)} (${f(100 * (third.fd / vanillaT.fd - 1), 1)}%, target <= +10%), class accuracy ${(100 * third.classAccuracy).toFixed(1)}% vs ${(100 * vanillaT.classAccuracy).toFixed(1)}% (target within 2 points).`);
  } else {
    out.push(`NOT MEASURED: ${method} at the trained N with B ~ N/3 next to vanilla at the trained N.`);
  }
  // At equal latency: for each point of the method, any fewer-step vanilla or training-free accelerated setting
  // (reuse, taylor, adams, ...: every method of the registry that needs no shortcut) at <= its latency must
  // have higher FD.
  const own = rows.filter((r) => r.method === method);
  const rivals = rows.filter((r) => TRAINING_FREE_METHODS.includes(r.method));
  const beaten: string[] = [];
  for (const s of own) {
    for (const o of rivals.filter((r) => r.msPerImage.median <= s.msPerImage.median * 1.05 && r.fd < s.fd)) {
      beaten.push(`${o.method} N=${o.steps} B=${o.budget ?? o.steps} (${f(o.msPerImage.median)} ms, FD ${f(o.fd)}) beats ${method} N=${s.steps} B=${s.budget} (${f(s.msPerImage.median)} ms, FD ${f(s.fd)})`);
    }
  }
  // A run filtered with --methods/--steps may lack a rival family; then "nobody beats it" proves nothing.
  const missing = TRAINING_FREE_METHODS.filter((m) => !rivals.some((r) => r.method === m && (m !== 'vanilla' || r.steps < (T ?? Infinity))));
  if (own.length === 0) out.push(`NOT MEASURED: no ${method} rows.`);
  else if (beaten.length > 0) out.push(`NOT MET: ${beaten.join('; ')}.`);
  else if (missing.length > 0) out.push(`NOT MEASURED: no measured setting beats ${method} at equal or lower latency, but the run has no ${missing.map((m) => (m === 'vanilla' ? 'fewer-step vanilla' : m)).join(', ')} rows.`);
  else out.push(`MET: at equal or lower latency, no fewer-step vanilla or ${TRAINING_FREE_METHODS.filter((m) => m !== 'vanilla').join(', ')} setting has a lower FD than ${method}.`);
  return out;
}
