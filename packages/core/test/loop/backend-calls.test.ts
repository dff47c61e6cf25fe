import { describe, expect, it } from 'vitest';
import type { Backend, FeatureTensor } from '../../src/backend/types.js';
import { isMigmError, MigmError } from '../../src/errors.js';
import { BackendCalls, releaseQuietly } from '../../src/loop/backend-calls.js';

/** Just enough of a backend for the call wrapper: a name and a release that records what it got. */
function fakeBackend(onRelease: (h: unknown) => void = () => {}): Backend & { released: unknown[] } {
  const released: unknown[] = [];
  return {
    name: 'fake',
    released,
    release: (h: unknown) => {
      released.push(h);
      onRelease(h);
    },
  } as unknown as Backend & { released: unknown[] };
}

async function error(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

describe('BackendCalls', () => {
  it('counts every call by kind, over the run and over the current step', async () => {
    const calls = new BackendCalls(fakeBackend(), undefined);
    expect(await calls.call('forward', async () => 7)).toBe(7);
    await calls.call('head', async () => undefined);
    expect(calls.stepCalls).toBe(2);
    calls.beginStep();
    expect(calls.stepCalls).toBe(0);
    expect(calls.stepBackendMs).toBe(0);
    await calls.call('head', async () => undefined);
    expect(calls.counts).toEqual({ forward: 1, head: 2, velocity: 0, combine: 0, sample: 0, encode: 0 });
    expect(calls.stepCalls).toBe(1);
    expect(calls.backendMs).toBeGreaterThanOrEqual(calls.stepBackendMs);
  });

  it('a foreign error becomes BACKEND_FAILURE naming the call; a MigmError passes unchanged; both are counted', async () => {
    const calls = new BackendCalls(fakeBackend(), undefined);
    const cause = new TypeError('boom');
    const e = await error(
      calls.call('velocity', async () => {
        throw cause;
      }),
    );
    expect(isMigmError(e) && e.code).toBe('BACKEND_FAILURE');
    expect((e as MigmError).message).toBe('Backend fake failed in velocity(): boom');
    expect((e as MigmError).cause).toBe(cause);
    const own = new MigmError('DISPOSED', 'gone');
    expect(
      await error(
        calls.call('combine', async () => {
          throw own;
        }),
      ),
    ).toBe(own);
    expect(calls.counts.velocity).toBe(1);
    expect(calls.counts.combine).toBe(1);
    expect(calls.stepCalls).toBe(2);
  });

  it('a feature or encoded prompts arriving after an abort are released, then ABORTED is thrown', async () => {
    const be = fakeBackend();
    const controller = new AbortController();
    const calls = new BackendCalls(be, controller.signal);
    const feature: FeatureTensor = { dims: [1, 4, 2] };
    const text = { kind: 'text' as const, count: 2 };
    for (const value of [feature, text]) {
      const e = await error(
        calls.call('forward', async () => {
          controller.abort();
          return value;
        }),
      );
      expect(isMigmError(e) && e.code).toBe('ABORTED');
    }
    expect(be.released).toEqual([feature, text]);
    // A call that returns no handle releases nothing.
    await error(calls.call('head', async () => undefined));
    expect(be.released.length).toBe(2);
    // Without an abort nothing is released.
    const quiet = fakeBackend();
    await new BackendCalls(quiet, new AbortController().signal).call('forward', async () => feature);
    expect(quiet.released).toEqual([]);
  });
});

describe('releaseQuietly', () => {
  it('releases every handle in order, skips nulls and swallows errors so cleanup never hides the first error', () => {
    const a = { kind: 'logits' as const, dims: [1, 1, 1] as const };
    const b = { kind: 'text' as const, count: 1 };
    const be = fakeBackend((h) => {
      if (h === a) throw new MigmError('DISPOSED', 'gone');
    });
    expect(() => releaseQuietly(be, [a, null, b])).not.toThrow();
    expect(be.released).toEqual([a, b]);
  });
});
