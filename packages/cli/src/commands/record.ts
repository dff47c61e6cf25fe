import { TrajectoryRecorder } from '@migm/shortcut';
import { directorySink } from '@migm/shortcut/node';
import { intFlag, parse } from '../args.js';
import { resolveClass } from '../class-name.js';
import { backendFlags, checkOutPath, fmtMs, loadBackend } from '../common.js';
import { UsageError } from '../errors.js';

/**
 * Records vanilla trajectories (features per step and branch, tokens, reveal steps) for training a shortcut,
 * in the format of docs/trajectory-format.md. Classes cycle over the bundle's classes unless --class is given.
 */
export async function recordCommand(argv: string[]): Promise<void> {
  const values = parse(argv, {
    ...backendFlags,
    class: { type: 'string' },
    count: { type: 'string' },
    batch: { type: 'string' },
    steps: { type: 'string' },
    seed: { type: 'string' },
    out: { type: 'string' },
  });
  if (values.out === undefined) throw new UsageError('--out DIR is required (an empty or new directory)');
  checkOutPath('out', values.out, 'dir');
  const count = intFlag('count', values.count, 100, 1, 1_000_000)!;
  const batch = intFlag('batch', values.batch, 16, 1, 1024)!;
  const seed = intFlag('seed', values.seed, 0, 0, Number.MAX_SAFE_INTEGER)!;
  const backend = await loadBackend(values);
  try {
    const m = backend.manifest;
    if (m.condition.type !== 'class')
      throw new UsageError(`migm record cycles through classes; ${m.name} is conditioned on text (record supports class-conditioned bundles)`);
    const { numClasses } = m.condition;
    const steps = intFlag('steps', values.steps, m.sampling.steps, 1, m.tokens.count)!;
    const fixed = values.class === undefined ? undefined : resolveClass(m, values.class);
    const recorder = new TrajectoryRecorder(backend, await directorySink(values.out));
    const t0 = performance.now();
    for (let done = 0, run = 0; done < count; run++) {
      const n = Math.min(batch, count - done);
      const condition = Array.from({ length: n }, (_, b) => (fixed !== undefined ? fixed : (done + b) % numClasses));
      await recorder.record({ condition, steps, seed: seed + run });
      done += n;
      if (process.stderr.isTTY) process.stderr.write(`\rrecorded ${done}/${count} images`);
    }
    if (process.stderr.isTTY) process.stderr.write('\r\x1b[2K');
    const index = await recorder.finish();
    console.log(`wrote ${values.out}: ${index!.images} trajectories, N=${index!.steps}, ${index!.branches} branch(es), ${fmtMs(performance.now() - t0)}`);
  } finally {
    await backend.dispose();
  }
}
