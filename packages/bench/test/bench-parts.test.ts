import { describe, expect, it } from 'vitest';
import { FeatureStats, frechetDistance } from '../src/frechet.js';
import { readFashionMnist } from '../src/fashion-mnist.js';
import { paretoSvg } from '../src/pareto-svg.js';
import { evaluatorVerdicts, fastestPeerRows, markdownTable, verdicts, winners } from '../src/report.js';
import { fakeRow } from './fake-row.js';
import { classMatchedIndices, defaultConfigs, filterConfigs, withSpeedups, type BenchRow } from '../src/run-bench.js';
import { RandomStreams } from '@migm/core/sampling';

function gaussian(n: number, dim: number, mean: number[], scale: number[], seed: number): FeatureStats {
  const rng = new RandomStreams(seed, 1);
  const s = new FeatureStats(dim);
  const row = new Float32Array(dim);
  for (let i = 0; i < n; i++) {
    for (let d = 0; d < dim; d++) {
      // Box-Muller from two uniforms
      const z = Math.sqrt(-2 * Math.log(rng.uniform(0))) * Math.cos(2 * Math.PI * rng.uniform(0));
      row[d] = mean[d]! + scale[d]! * z;
    }
    s.add(row, 1);
  }
  return s;
}

describe('Frechet distance', () => {
  it('is ~0 for the same distribution and |dmu|^2 + sum (s1 - s2)^2 for diagonal Gaussians', () => {
    const a = gaussian(20000, 3, [0, 0, 0], [1, 1, 1], 1);
    const b = gaussian(20000, 3, [0, 0, 0], [1, 1, 1], 2);
    expect(frechetDistance(a, b)).toBeLessThan(0.01);
    const c = gaussian(20000, 3, [1, 2, 0], [2, 1, 1], 3);
    // |(1, 2, 0)|^2 + (2 - 1)^2 = 6
    expect(frechetDistance(a, c)).toBeCloseTo(6, 0);
    expect(frechetDistance(c, a)).toBeCloseTo(frechetDistance(a, c), 6);
  });
});

describe('Fashion-MNIST reader', () => {
  it('reads the 10k test images in [0, 1] with labels 0-9', async () => {
    const d = await readFashionMnist('test');
    expect(d.count).toBe(10000);
    expect(d.images.length).toBe(10000 * 784);
    expect(Math.max(...d.labels)).toBe(9);
    let max = 0;
    for (let i = 0; i < 784 * 10; i++) max = Math.max(max, d.images[i]!);
    expect(max).toBeGreaterThan(0.9);
    expect(max).toBeLessThanOrEqual(1);
  });
  it('says what to install when the dataset is missing', async () => {
    await expect(readFashionMnist('test', '/nonexistent')).rejects.toThrow(/apt-get install dataset-fashion-mnist/);
  });
});

describe('PyTorch peer at its best thread setting', () => {
  it('keeps, per method, N and budget, the faster median and says which setting it came from', () => {
    const a = [
      { method: 'vanilla', steps: 16, budget: null, msPerImage: 360 },
      { method: 'shortcut', steps: 16, budget: 5, msPerImage: 140 },
    ];
    const b = [
      { method: 'vanilla', steps: 16, budget: null, msPerImage: 320 },
      { method: 'shortcut', steps: 16, budget: 5, msPerImage: 150 },
      { method: 'shortcut', steps: 16, budget: 4, msPerImage: 120 },
    ];
    const rows = fastestPeerRows([a, b], ['1+2', '2+1']);
    expect(rows).toEqual([
      { method: 'vanilla', steps: 16, budget: null, msPerImage: 320, threads: '2+1' },
      { method: 'shortcut', steps: 16, budget: 5, msPerImage: 140, threads: '1+2' },
      { method: 'shortcut', steps: 16, budget: 4, msPerImage: 120, threads: '2+1' },
    ]);
  });
});

describe('bench report', () => {
  const row = (method: BenchRow['method'], steps: number, budget: number | undefined, ms: number, fd: number, rho: number | null = null): BenchRow => ({
    method,
    steps,
    budget,
    images: 100,
    msPerImage: { median: ms, p10: ms, p90: ms, runs: 5 },
    fd,
    fdToVanilla: null,
    classAccuracy: 0.9,
    coreShare: 0.05,
    rho,
    scores: { CNN: { fd, fdToVanilla: null, precision: 0.7, recall: 0.6, classAccuracy: 0.9 } },
    speedup: null,
    idealSpeedup: rho === null || budget === undefined ? null : steps / (budget + (steps - budget) * rho),
  });
  it('computes speed-ups against vanilla at the same N and judges the targets', () => {
    const rows = withSpeedups([
      row('vanilla', 16, undefined, 100, 10),
      row('vanilla', 4, undefined, 25, 30),
      row('shortcut', 16, 5, 36, 10.5, 0.08),
      row('reuse', 16, 5, 33, 20, 0.01),
      row('taylor', 16, 5, 34, 12, 0.05),
      row('adams', 16, 5, 34, 11.5, 0.05),
    ]);
    expect(rows[2]!.speedup).toBeCloseTo(100 / 36, 6);
    const v = verdicts(rows, [], 16);
    expect(v[0]).toMatch(/^MET: shortcut N=16 B=5/);
    expect(v[1]).toMatch(/^MET: at equal or lower latency/);
    expect(v[2]).toMatch(/^MET: shortcut achieved \/ ideal/);
    expect(v[3]).toMatch(/^NOT MEASURED: the PyTorch/);
    expect(verdicts(rows, [], 16, 'skipped (--torch off).').at(-1)).toContain('(skipped (--torch off); see the note');
    const worse = withSpeedups([row('vanilla', 16, undefined, 100, 10), row('shortcut', 16, 5, 50, 12, 0.08), row('taylor', 16, 5, 40, 11, 0.05)]);
    const w = verdicts(worse, [{ method: 'vanilla', steps: 16, budget: null, msPerImage: 120 }], 16);
    expect(w[0]).toMatch(/^NOT MET/);
    expect(w[1]).toMatch(/^NOT MET: taylor N=16 B=5/);
    expect(w[3]).toMatch(/^NOT MET: our Node runtime is 1.20x/);
  });
  it('judges shortcut-taylor on its own lines, against vanilla and the training-free methods but not the shortcut', () => {
    // The shortcut is faster than shortcut-taylor's 1.05x latency window and has the lower FD: counted as a
    // rival, it would beat shortcut-taylor (and shortcut-taylor, at 10.4, does not beat the shortcut either).
    const rows = withSpeedups([
      row('vanilla', 16, undefined, 100, 10),
      row('vanilla', 4, undefined, 25, 30),
      row('shortcut', 16, 5, 36, 10.2, 0.08),
      row('taylor', 16, 5, 34, 11, 0.05),
      row('reuse', 16, 5, 33, 12, 0.01),
      row('adams', 16, 5, 34, 10.9, 0.05),
      row('shortcut-taylor', 16, 5, 35, 10.4, 0.06),
    ]);
    const v = verdicts(rows, [], 16);
    expect(v[0]).toMatch(/^MET: shortcut N=16 B=5 .*FD 10.20 vs 10.00/);
    expect(v[1]).toBe('MET: at equal or lower latency, no fewer-step vanilla or reuse, taylor, adams setting has a lower FD than shortcut.');
    expect(v[2]).toMatch(/^MET: shortcut-taylor N=16 B=5 vs vanilla N=16: 2.86x faster.*FD 10.40 vs 10.00 \(4.0%/);
    expect(v[3]).toBe('MET: at equal or lower latency, no fewer-step vanilla or reuse, taylor, adams setting has a lower FD than shortcut-taylor.');
    expect(v[4]).toMatch(/^MET: shortcut achieved \/ ideal/);
    expect(
      verdicts(
        rows.filter((r) => r.method !== 'shortcut-taylor'),
        [],
        16,
      ).some((l) => l.includes('shortcut-taylor')),
    ).toBe(false);
  });
  it('says NOT MEASURED, not MET, when a filtered run lacks the rivals or the shortcut', () => {
    const rows = withSpeedups([row('vanilla', 16, undefined, 100, 10), row('shortcut-taylor', 16, 5, 35, 10.4, 0.06)]);
    const v = verdicts(rows, [], 16);
    expect(v[0]).toMatch(/^NOT MEASURED: shortcut at the trained N/);
    expect(v[1]).toBe('NOT MEASURED: no shortcut rows.');
    expect(v[2]).toMatch(/^MET: shortcut-taylor N=16 B=5/);
    expect(v[3]).toBe(
      'NOT MEASURED: no measured setting beats shortcut-taylor at equal or lower latency, but the run has no fewer-step vanilla, reuse, taylor, adams rows.',
    );
    expect(v[4]).toMatch(/^NOT MEASURED: shortcut achieved \/ ideal/);
    // A rival that does beat it is evidence enough, whatever else is missing.
    const beaten = verdicts(
      withSpeedups([row('vanilla', 16, undefined, 100, 10), row('taylor', 16, 5, 30, 9, 0.05), row('shortcut-taylor', 16, 5, 35, 10.4, 0.06)]),
      [],
      16,
    );
    expect(beaten[3]).toMatch(/^NOT MET: taylor N=16 B=5 .* beats shortcut-taylor/);
  });
  it('runs every method at N and 2N by default; --methods and --steps keep a subset', () => {
    const m = { tokens: { count: 196 }, sampling: { steps: 16 }, graphs: { shortcut: { trainedSteps: 16 } } } as unknown as Parameters<
      typeof defaultConfigs
    >[0];
    const all = defaultConfigs(m, false);
    expect(all.filter((c) => c.method === 'shortcut-taylor').map((c) => `${c.steps}/${c.budget}`)).toEqual(['16/4', '16/5', '16/8', '32/8', '32/11', '32/16']);
    const some = filterConfigs(all, ['vanilla', 'shortcut-taylor'], [4, 16]);
    expect(some.map((c) => `${c.method} ${c.steps}/${c.budget ?? '-'}`)).toEqual([
      'vanilla 4/-',
      'vanilla 16/-',
      'shortcut-taylor 16/4',
      'shortcut-taylor 16/5',
      'shortcut-taylor 16/8',
    ]);
    expect(filterConfigs(all)).toEqual(all);
    const plain = defaultConfigs({ ...m, graphs: {} } as typeof m, true);
    expect(plain.some((c) => c.method === 'shortcut' || c.method === 'shortcut-taylor')).toBe(false);
    // Every accelerated method of core's registry gets rows without a list in the bench (adams included).
    expect([...new Set(all.map((c) => c.method))]).toEqual(['vanilla', 'shortcut', 'reuse', 'taylor', 'shortcut-taylor', 'adams']);
  });
  it('shows the PyTorch peer as median (min-max) when the peer reports its range', () => {
    const rows = withSpeedups([row('vanilla', 16, undefined, 100, 10)]);
    const table = markdownTable(rows, [{ method: 'vanilla', steps: 16, budget: null, msPerImage: 180, msPerImageMin: 150, msPerImageMax: 260 }]);
    expect(table).toContain('| 180.00 (150.00-260.00) | 1.80x faster |');
    expect(markdownTable(rows, [{ method: 'vanilla', steps: 16, budget: null, msPerImage: 180 }])).toContain('| 180.00 | 1.80x faster |');
  });
  it('shows FD to the vanilla reference next to FD, n/a when it was not sampled', () => {
    const v16 = row('vanilla', 16, undefined, 100, 10);
    const rows = withSpeedups([
      { ...v16, fdToVanilla: 1.69, scores: { CNN: { ...v16.scores['CNN']!, fdToVanilla: 1.69 } } },
      row('vanilla', 4, undefined, 25, 30),
    ]);
    const table = markdownTable(rows, []).split('\n');
    expect(table[0]).toContain('| FD CNN | FD to vanilla CNN | precision CNN | recall CNN | class acc. CNN |');
    expect(table[2]).toContain('| 10.00 | 1.69 | 0.700 | 0.600 | 90.0% |');
    expect(table[3]).toContain('| 30.00 | n/a |');
  });
  it('draws an SVG with a point per row and a legend per method', () => {
    const svg = paretoSvg(
      [
        { series: 'vanilla', label: 'N4', x: 10, y: 30 },
        { series: 'vanilla', label: 'N16', x: 40, y: 10 },
        { series: 'shortcut', label: '16/5', x: 15, y: 11 },
      ],
      'FD <vs> latency',
      'ms',
      'FD',
    );
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.match(/<circle /g)).toHaveLength(3 + 2);
    expect(svg).toContain('FD &lt;vs&gt; latency');
  });
});

describe('two evaluators', () => {
  // Each row gets its own FD under a second evaluator, MLP.
  const row = (method: string, steps: number, budget: number | undefined, ms: number, cnn: number, mlp: number, rho: number | null = null): BenchRow =>
    fakeRow({ method, steps, budget }, ms, cnn, mlp, rho);
  const rows = withSpeedups([
    row('vanilla', 16, undefined, 100, 10, 20),
    row('vanilla', 4, undefined, 25, 30, 60),
    // The CNN ranks taylor ahead of the shortcut at B = 5, the MLP the other way round (as issue 19 reported).
    row('shortcut', 16, 5, 36, 12, 21, 0.08),
    row('taylor', 16, 5, 34, 11, 25, 0.05),
    row('reuse', 16, 5, 33, 14, 30, 0.01),
    row('adams', 16, 5, 34, 11.5, 26, 0.05),
  ]);
  it('says MET only where both agree, SPLIT with each verdict where they do not, and speed targets once', () => {
    const v = evaluatorVerdicts(rows, [], 16);
    // target 1: FD +20% (CNN) and +5% (MLP): NOT MET / MET
    expect(v[0]!.split('\n')[0]).toBe(
      'SPLIT: shortcut N=16 B=5 vs vanilla N=16 (>= 2.5x faster, FD <= +10%, class accuracy within 2 points) (CNN NOT MET, MLP MET)',
    );
    expect(v[0]).toContain('\n  - CNN: NOT MET: shortcut N=16 B=5 vs vanilla N=16: 2.78x faster (target >= 2.5x), FD 12.00 vs 10.00 (20.0%');
    expect(v[0]).toContain('\n  - MLP: MET: shortcut N=16 B=5 vs vanilla N=16: 2.78x faster (target >= 2.5x), FD 21.00 vs 20.00 (5.0%');
    // equal latency: taylor beats the shortcut under the CNN only
    expect(v[1]!.split('\n')[0]).toMatch(/^SPLIT: shortcut at equal latency .* \(CNN NOT MET, MLP MET\)$/);
    expect(v[1]).toContain('  - CNN: NOT MET: taylor N=16 B=5 (34.00 ms, FD 11.00) beats shortcut N=16 B=5');
    expect(v[2]).toMatch(/^MET: shortcut achieved \/ ideal/);
    expect(v[2]!.split('\n')).toHaveLength(1);
    // both agree: one status for both, each evaluator's evidence kept
    const agree = evaluatorVerdicts(withSpeedups([row('vanilla', 16, undefined, 100, 10, 20), row('shortcut', 16, 5, 36, 10.5, 20.5, 0.08)]), [], 16);
    expect(agree[0]!.split('\n')[0]).toMatch(/^MET: shortcut N=16 B=5 vs vanilla N=16 .* \(all 2 evaluators\)$/);
    const worse = evaluatorVerdicts(withSpeedups([row('vanilla', 16, undefined, 100, 10, 20), row('shortcut', 16, 5, 36, 15, 30, 0.08)]), [], 16);
    expect(worse[0]!.split('\n')[0]).toMatch(/^NOT MET: .* \(all 2 evaluators\)$/);
  });
  it("shows every evaluator's FD, precision, recall and class accuracy", () => {
    const table = markdownTable(rows, []).split('\n');
    expect(table[0]).toContain('| FD CNN | FD MLP | FD to vanilla CNN | FD to vanilla MLP | precision CNN / MLP | recall CNN / MLP | class acc. CNN / MLP |');
    expect(table[4]).toContain(
      '| shortcut | 16 | 5 | 36.00 | 36.00-36.00 | 12.00 | 21.00 | 1.00 | 2.00 | 0.700 / 0.800 | 0.500 / 0.500 | 90.0% / 92.0% |'.replace(
        '0.500 / 0.500',
        '0.600 / 0.500',
      ),
    );
    expect(table[1]!.split('|')).toHaveLength(table[0]!.split('|').length);
  });
  it('names the lowest-FD method per budget under each evaluator', () => {
    expect(winners(rows)).toEqual([
      'N=16 B=5: the evaluators disagree (CNN: taylor, MLP: shortcut). CNN: taylor 11.00 < adams 11.50 < shortcut 12.00 < reuse 14.00; MLP: shortcut 21.00 < taylor 25.00 < adams 26.00 < reuse 30.00.',
    ]);
  });
});

describe('test images for precision and recall', () => {
  it('takes image i of class i mod 10, each class in test-set order', () => {
    const labels = Int32Array.from([3, 0, 1, 0, 2, 1, 3, 2]);
    expect(classMatchedIndices(labels, 6, 4)).toEqual([1, 2, 4, 0, 3, 5]);
    expect(() => classMatchedIndices(labels, 9, 4)).toThrow(/fewer than 3 images of class 0/);
  });
});
