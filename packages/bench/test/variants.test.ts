import { describe, expect, it } from 'vitest';
import { cutoffItem, selectConfigs } from '../src/command.js';
import { UsageError } from '../src/flags.js';
import { fakeRow } from './fake-row.js';
import { evaluatorVerdicts, markdownTable, variantComparisons, winners } from '../src/report.js';
import { defaultConfigs, filterConfigs, isPlain, labelOf, seriesOf, withSpeedups, withVariants, type BenchConfig, type BenchRow } from '../src/run-bench.js';

const m = { tokens: { count: 196 }, sampling: { steps: 16 }, graphs: { shortcut: { trainedSteps: 16 } } } as unknown as Parameters<typeof defaultConfigs>[0];
const names = (cs: readonly BenchConfig[]) => cs.map(labelOf);

describe('setting variants: refresh policy and guidance cutoff', () => {
  it('labels a setting with its variants', () => {
    expect(labelOf({ method: 'shortcut', steps: 16, budget: 5 })).toBe('shortcut N=16 B=5');
    expect(seriesOf({ method: 'shortcut', steps: 16, budget: 5, refresh: 'adaptive' })).toBe('shortcut+adaptive');
    expect(seriesOf({ method: 'vanilla', steps: 16, budget: undefined, guidanceCutoff: 1 })).toBe('vanilla cutoff=1');
    expect(seriesOf({ method: 'vanilla', steps: 16, budget: undefined, guidanceCutoff: false })).toBe('vanilla cutoff=false');
    expect(labelOf({ method: 'taylor', steps: 16, budget: 4, refresh: 'adaptive', guidanceCutoff: 2 })).toBe('taylor+adaptive cutoff=2 N=16 B=4');
    expect(isPlain({ method: 'taylor', steps: 16, budget: 4 })).toBe(true);
    expect(isPlain({ method: 'taylor', steps: 16, budget: 4, refresh: 'adaptive' })).toBe(false);
  });
  it('crosses settings with the policies and cutoffs; vanilla gets no adaptive row; cutoff 0 is the plain row', () => {
    const base: BenchConfig[] = [
      { method: 'vanilla', steps: 16, budget: undefined },
      { method: 'shortcut', steps: 16, budget: 5 },
    ];
    expect(withVariants(base)).toEqual(base);
    expect(names(withVariants(base, ['fixed', 'adaptive']))).toEqual(['vanilla N=16 B=16', 'shortcut N=16 B=5', 'shortcut+adaptive N=16 B=5']);
    expect(names(withVariants(base, ['adaptive']))).toEqual(['vanilla N=16 B=16', 'shortcut+adaptive N=16 B=5']);
    expect(names(withVariants(base, undefined, [false, 0, 1, 2]))).toEqual([
      'vanilla cutoff=false N=16 B=16',
      'vanilla N=16 B=16',
      'vanilla cutoff=1 N=16 B=16',
      'vanilla cutoff=2 N=16 B=16',
      'shortcut cutoff=false N=16 B=5',
      'shortcut N=16 B=5',
      'shortcut cutoff=1 N=16 B=5',
      'shortcut cutoff=2 N=16 B=5',
    ]);
    // the default cutoff adds no key to the row (the plain row, as a run without the flag has it); duplicates go
    expect(withVariants(base, ['fixed', 'fixed'], [0, 0])).toEqual(base);
    expect(withVariants(base, undefined, [0])[1]).not.toHaveProperty('guidanceCutoff');
  });
  it('filters budgets (accelerated rows only) and picks vanilla by --vanilla-steps', () => {
    const all = defaultConfigs(m, false);
    expect(names(filterConfigs(all, ['vanilla', 'shortcut'], [16], { budgets: [5] }))).toEqual(['vanilla N=16 B=16', 'shortcut N=16 B=5']);
    const n32 = filterConfigs(all, ['vanilla', 'adams'], [32], { vanillaSteps: [16, 32] });
    expect(names(n32)).toEqual(['vanilla N=16 B=16', 'vanilla N=32 B=32', 'adams N=32 B=8', 'adams N=32 B=11', 'adams N=32 B=16']);
  });
  it('selects the runs of BENCHMARKS.md from the flags', () => {
    const a = selectConfigs(m, false, { methods: 'vanilla,shortcut,taylor,shortcut-taylor,adams', steps: '16', refresh: 'fixed,adaptive' });
    expect(a.configs).toHaveLength(1 + 4 * 3 * 2);
    expect(a.filtered).toBe(true);
    expect(names(a.configs).slice(0, 3)).toEqual(['vanilla N=16 B=16', 'shortcut N=16 B=4', 'shortcut+adaptive N=16 B=4']);
    const b = selectConfigs(m, false, { methods: 'vanilla,shortcut', steps: '16', budgets: '5', 'guidance-cutoff': 'false,0,1,2' });
    expect(b.configs).toHaveLength(8);
    const c = selectConfigs(m, false, { methods: 'vanilla,shortcut,reuse,taylor,shortcut-taylor,adams', steps: '32', 'vanilla-steps': '16,32' });
    expect(c.configs).toHaveLength(2 + 5 * 3);
    expect(c.configs.filter((x) => x.budget !== undefined).every((x) => x.steps === 32)).toBe(true);
    expect(selectConfigs(m, false, {}).filtered).toBe(false);
    // a vanilla N off the default ladder (an equal-cost reference) is run when asked for, in N order
    const d = selectConfigs(m, false, { methods: 'vanilla,shortcut', steps: '16', budgets: '5', 'vanilla-steps': '16,5,12' });
    expect(names(d.configs)).toEqual(['vanilla N=5 B=5', 'vanilla N=12 B=12', 'vanilla N=16 B=16', 'shortcut N=16 B=5']);
    expect(names(selectConfigs(m, false, {}).configs)).not.toContain('vanilla N=5 B=5');
  });
  it('refuses flags that select nothing or do not parse, with one usage line', () => {
    const bad: [Parameters<typeof selectConfigs>[2], RegExp][] = [
      [{ refresh: 'fixed,sometimes' }, /--refresh must be one of fixed, adaptive, got 'sometimes'/],
      [{ refresh: 'adaptive', methods: 'vanilla' }, /--refresh adaptive applies to accelerated settings only, and --methods vanilla selects none/],
      [{ 'guidance-cutoff': '0,-1' }, /--guidance-cutoff must be a comma-separated list of 'false' or numbers from 0 to 1000, got '-1'/],
      [{ 'guidance-cutoff': 'off' }, /got 'off'/],
      [{ 'guidance-cutoff': '1,,2' }, /without empty items/],
      [{ budgets: '5,7' }, /--budgets 7 selects no setting \(settings: /],
      [{ methods: 'shortcut', steps: '32', budgets: '5' }, /leave no setting to run/],
      [{ methods: 'vanilla,shortcut', steps: '16', budgets: '4,11' }, /--budgets 11 selects no setting with --methods vanilla,shortcut --steps 16/],
      [{ methods: 'shortcut', 'vanilla-steps': '16' }, /--vanilla-steps 16 selects no setting with --methods shortcut/],
    ];
    for (const [flags, message] of bad) {
      expect(() => selectConfigs(m, false, flags), JSON.stringify(flags)).toThrow(UsageError);
      expect(() => selectConfigs(m, false, flags), JSON.stringify(flags)).toThrow(message);
    }
    expect(cutoffItem('false')).toBe(false);
    expect(cutoffItem('0.5')).toBe(0.5);
    expect(() => cutoffItem('1001')).toThrow(UsageError);
  });
});

describe('variant rows in the report', () => {
  const row = fakeRow;
  const v16 = { method: 'vanilla', steps: 16, budget: undefined };
  const sc5 = { method: 'shortcut', steps: 16, budget: 5 };
  const ta5 = { method: 'taylor', steps: 16, budget: 5 };
  const rows = withSpeedups([
    row(v16, 100, 10, 20),
    row({ ...v16, guidanceCutoff: false }, 110, 10.1, 20.1),
    row({ ...v16, guidanceCutoff: 1 }, 88, 11, 19),
    row(sc5, 36, 12, 21, 0.08),
    row({ ...sc5, refresh: 'adaptive' }, 37, 11.5, 22, 0.08),
    row(ta5, 40, 13, 25, 0.05),
    row({ ...ta5, refresh: 'adaptive' }, 30, 11, 18, 0.05),
  ]);
  it('judges the targets on plain rows only: a faster, better adaptive rival does not count at equal latency', () => {
    const v = evaluatorVerdicts(rows, [], 16);
    // taylor+adaptive (30 ms, FD 11 / 18) would beat the shortcut (36 ms, FD 12 / 21) under both evaluators
    expect(v.join('\n')).not.toContain('adaptive');
    expect(v.join('\n')).not.toContain('30.00 ms');
    expect(v[1]).toMatch(/^NOT MEASURED: no measured setting beats shortcut at equal or lower latency/);
    expect(v[0]).toMatch(/shortcut N=16 B=5 vs vanilla N=16: 2.78x faster/);
  });
  it('compares each adaptive row with the fixed plan at equal full steps, BETTER only where both evaluators agree', () => {
    const c = variantComparisons(rows);
    expect(c.filter((l) => l.includes('+adaptive'))).toEqual([
      'SPLIT: shortcut+adaptive N=16 B=5 vs the fixed plan at equal full steps: CNN FD 11.50 vs 12.00 (lower), P 0.700 vs 0.700, R 0.600 vs 0.600; MLP FD 22.00 vs 21.00 (not lower), P 0.800 vs 0.800, R 0.500 vs 0.500; 37.00 vs 36.00 ms/image.',
      'BETTER: taylor+adaptive N=16 B=5 vs the fixed plan at equal full steps: CNN FD 11.00 vs 13.00 (lower), P 0.700 vs 0.700, R 0.600 vs 0.600; MLP FD 18.00 vs 25.00 (lower), P 0.800 vs 0.800, R 0.500 vs 0.500; 30.00 vs 40.00 ms/image.',
    ]);
  });
  it('gives each cutoff row its saving per image against both branches everywhere (cutoff false)', () => {
    const c = variantComparisons(rows).filter((l) => !l.includes('+adaptive'));
    expect(c).toHaveLength(2);
    expect(c[0]).toMatch(
      /^vanilla N=16 B=16 \(default cutoff 0\): 9.1% ms\/image saved against vanilla cutoff=false N=16 B=16 \(100.00 vs 110.00\); CNN FD 10.00 P 0.700 R 0.600, MLP FD 20.00/,
    );
    expect(c[1]).toMatch(/^vanilla cutoff=1 N=16 B=16: 20.0% ms\/image saved against vanilla cutoff=false/);
  });
  it('labels rows in the table and ranks adaptive rows with the fixed ones at equal N and B', () => {
    const table = markdownTable(rows, []).split('\n');
    expect(table.slice(2).map((l) => l.split(' | ')[0])).toEqual([
      '| vanilla',
      '| vanilla cutoff=false',
      '| vanilla cutoff=1',
      '| shortcut',
      '| shortcut+adaptive',
      '| taylor',
      '| taylor+adaptive',
    ]);
    expect(winners(rows)).toEqual([
      'N=16 B=5: taylor+adaptive has the lowest FD under every evaluator. CNN: taylor+adaptive 11.00 < shortcut+adaptive 11.50 < shortcut 12.00 < taylor 13.00; MLP: taylor+adaptive 18.00 < shortcut 21.00 < shortcut+adaptive 22.00 < taylor 25.00.',
    ]);
  });
  it('takes speed-ups against vanilla with the same cutoff, else plain vanilla', () => {
    const sp = withSpeedups([
      row(v16, 100, 10, 20),
      row({ ...v16, guidanceCutoff: 1 }, 80, 10, 20),
      row({ ...sc5, guidanceCutoff: 1 }, 40, 12, 21, 0.08),
      row({ ...sc5, guidanceCutoff: 2 }, 40, 12, 21, 0.08),
    ]);
    expect(sp[2]!.speedup).toBeCloseTo(2, 6);
    expect(sp[3]!.speedup).toBeCloseTo(2.5, 6);
  });
});
