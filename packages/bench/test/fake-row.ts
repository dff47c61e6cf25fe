import { seriesOf, type BenchConfig, type BenchRow } from '../src/run-bench.js';

/** A bench row with the given latency and the two evaluators' FDs (CNN, MLP); the other scores fixed. */
export function fakeRow(c: BenchConfig, ms: number, cnn: number, mlp: number, rho: number | null = null): BenchRow {
  return {
    ...c,
    label: seriesOf(c),
    images: 100,
    msPerImage: { median: ms, p10: ms, p90: ms, runs: 5 },
    fd: cnn,
    fdToVanilla: null,
    classAccuracy: 0.9,
    coreShare: 0.05,
    rho,
    speedup: null,
    idealSpeedup: rho === null || c.budget === undefined ? null : c.steps / (c.budget + (c.steps - c.budget) * rho),
    scores: {
      CNN: { fd: cnn, fdToVanilla: 1, precision: 0.7, recall: 0.6, classAccuracy: 0.9 },
      MLP: { fd: mlp, fdToVanilla: 2, precision: 0.8, recall: 0.5, classAccuracy: 0.92 },
    },
  };
}
