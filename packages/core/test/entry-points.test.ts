import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

// The built package, as an app or a backend imports it (turbo builds before it tests).
const dist = new URL('../dist/', import.meta.url);
const require = createRequire(import.meta.url);
const entries = ['index', 'backend', 'sampling'] as const;

describe('entry points by audience', () => {
  it('the package exports map names every entry, ESM and CJS', () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { exports: Record<string, unknown> };
    expect(Object.keys(pkg.exports)).toEqual(expect.arrayContaining(['.', './backend', './sampling', './testing']));
  });

  it("the app entry holds the app's API and none of a backend's or a sampler's internals", async () => {
    const app = (await import(new URL('index.js', dist).href)) as Record<string, unknown>;
    for (const name of ['generate', 'PREDICTOR_REGISTRY', 'predictorDefinition', 'MigmError', 'isMigmError', 'validateManifest', 'tileImages'])
      expect(app[name], name).toBeDefined();
    for (const name of ['checkFloats', 'checkSampleStep', 'combineHost', 'sampleStepHost', 'RandomStreams', 'guideRow', 'definePredictor', 'resolveOptions'])
      expect(app[name], name).toBeUndefined();
    expect(Object.keys(app).length).toBeLessThan(25);
  });

  it('the entries share one MigmError (ESM and CJS), so isMigmError recognises errors from every entry', async () => {
    const esm = await Promise.all(entries.map(async (e) => (await import(new URL(`${e}.js`, dist).href)) as { MigmError?: unknown }));
    const cjs = entries.map(
      (e) =>
        require(new URL(`${e}.cjs`, dist).pathname) as {
          MigmError?: unknown;
          checkFloats?: (...a: unknown[]) => unknown;
          isMigmError?: (v: unknown) => boolean;
        },
    );
    expect(esm[1]!.MigmError).toBe(esm[0]!.MigmError);
    expect(cjs[1]!.MigmError).toBe(cjs[0]!.MigmError);
    let thrown: unknown;
    try {
      cjs[1]!.checkFloats!('forward', 'logits', [1, 2]);
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeDefined();
    expect(cjs[0]!.isMigmError!(thrown)).toBe(true);
  });

  it('isMigmError and instanceof MigmError recognise errors of the other format (an ESM app with a CJS backend, and back)', async () => {
    type Entry = { MigmError: new (code: string, message: string) => Error; isMigmError: (v: unknown, code?: string) => boolean };
    const esm = (await import(new URL('index.js', dist).href)) as Entry;
    const cjs = require(new URL('index.cjs', dist).pathname) as Entry;
    expect(cjs.MigmError).not.toBe(esm.MigmError); // two copies of the class: the brand has to do the work
    const fromCjs = new cjs.MigmError('BUNDLE_MISMATCH', 'x');
    const fromEsm = new esm.MigmError('ABORTED', 'y');
    expect(esm.isMigmError(fromCjs)).toBe(true);
    expect(esm.isMigmError(fromCjs, 'BUNDLE_MISMATCH')).toBe(true);
    expect(esm.isMigmError(fromCjs, 'ABORTED')).toBe(false);
    expect(cjs.isMigmError(fromEsm, 'ABORTED')).toBe(true);
    expect(fromCjs instanceof esm.MigmError).toBe(true);
    expect(fromEsm instanceof cjs.MigmError).toBe(true);
    // Look-alikes are not MigmErrors: the brand is a registered symbol, not the name or a code property.
    const fake = Object.assign(new Error('z'), { name: 'MigmError', code: 'ABORTED' });
    expect(esm.isMigmError(fake)).toBe(false);
    expect(fake instanceof esm.MigmError).toBe(false);
    expect(esm.isMigmError(null)).toBe(false);
    expect(esm.isMigmError('MigmError')).toBe(false);
    // A subclass keeps the plain prototype check: a MigmError is not an instance of every subclass.
    class Sub extends esm.MigmError {}
    expect(fromEsm instanceof Sub).toBe(false);
    expect(new Sub('ABORTED', 's') instanceof esm.MigmError).toBe(true);
  });
});
