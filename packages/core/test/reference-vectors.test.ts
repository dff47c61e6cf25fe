import { describe, expect, it } from 'vitest';
import referenceVectors from './fixtures/reference-vectors.json' with { type: 'json' };
import { dimooKeepMasked } from '../src/schedules/dimoo.js';
import { tokenCounts, type MaskgitScheduleName } from '../src/schedules/maskgit.js';
import { fullStepPlan } from '../src/plan/full-step-plan.js';

const refs = referenceVectors as {
  maskgit_token_counts: Record<string, number[]>;
  full_step_plans: Record<string, number[]>;
  dimoo_keep_masked: Record<string, number[]>;
};

function parseKey(key: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of key.split('/')) {
    const [k, v] = part.split('=');
    if (v === undefined) out['shape'] = k!;
    else out[k!] = v;
  }
  return out;
}

describe('reference vectors (PyTorch float32, round half to even)', () => {
  it('has entries to check', () => {
    expect(Object.keys(refs.maskgit_token_counts).length).toBeGreaterThan(20);
    expect(Object.keys(refs.full_step_plans).length).toBeGreaterThan(5);
    expect(Object.keys(refs.dimoo_keep_masked).length).toBeGreaterThan(2);
  });

  for (const [key, expected] of Object.entries(refs.maskgit_token_counts)) {
    it(`maskgit token counts ${key}`, () => {
      const p = parseKey(key);
      const got = tokenCounts(p['shape'] as MaskgitScheduleName, Number(p['steps']), Number(p['tokens']));
      expect(Array.from(got)).toEqual(expected);
    });
  }

  for (const [key, expected] of Object.entries(refs.full_step_plans)) {
    it(`full-step plan ${key}`, () => {
      const p = parseKey(key);
      expect(Array.from(fullStepPlan(Number(p['steps']), Number(p['budget'])))).toEqual(expected);
    });
  }

  for (const [key, expected] of Object.entries(refs.dimoo_keep_masked)) {
    it(`dimoo keep-masked ${key}`, () => {
      const p = parseKey(key);
      expect(Array.from(dimooKeepMasked(Number(p['steps']), Number(p['tokens'])))).toEqual(expected);
    });
  }
});
