import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { cosineFloorCounts } from '../src/schedules/cosine-floor.js';
import { resolveSchedule } from '../src/schedules/resolve.js';

// Written by training/scripts/amused_counts_fixture.py from the AmusedScheduler rule evaluated in PyTorch float32.
const fixture = JSON.parse(readFileSync(new URL('./fixtures/amused-counts.json', import.meta.url), 'utf8')) as {
  cases: { length: number; steps: number; masked: number[] }[];
};

describe("'cosine-floor' (aMUSEd's AmusedScheduler counts)", () => {
  it('leaves the reference number of positions masked after every step (every case with N <= L)', () => {
    const cases = fixture.cases.filter((c) => c.steps <= c.length);
    expect(cases.length).toBeGreaterThan(40);
    expect(cases.some((c) => c.length === 256 && c.steps === 12) && cases.some((c) => c.length === 1024 && c.steps === 12)).toBe(true);
    for (const c of cases) {
      const counts = cosineFloorCounts(c.steps, c.length);
      let masked = c.length;
      const after = Array.from(counts, (k) => (masked -= k));
      expect({ L: c.length, N: c.steps, masked: after }).toEqual({ L: c.length, N: c.steps, masked: c.masked });
    }
  });

  it('is float32 arithmetic: at L = 256, N = 12 float64 would keep one more token masked after step 7', () => {
    // The formula in float64 (what a naive port computes) differs here; the reference and this schedule do not.
    const f64 = Math.floor(256 * Math.cos((Math.PI / 2) * (8 / 12)));
    expect(Array.from(cosineFloorCounts(12, 256))).toEqual([3, 6, 11, 15, 18, 22, 26, 28, 30, 31, 33, 33]);
    let masked = 256;
    for (const k of cosineFloorCounts(12, 256).slice(0, 8)) masked -= k;
    expect(masked).toBe(f64 - 1);
  });

  it('is a named schedule of generate(): counts sum to L, at least one per step before the last', () => {
    for (const [N, L] of [
      [12, 256],
      [12, 1024],
      [16, 16],
      [1, 5],
    ] as const) {
      const counts = resolveSchedule('cosine-floor', N, L);
      expect(counts.reduce((a, b) => a + b, 0)).toBe(L);
      for (let i = 0; i < N - 1; i++) expect(counts[i]).toBeGreaterThanOrEqual(1);
    }
  });
});
