// What the per-step timing scripts share: onnxruntime-node, a bundle's manifest and sessions, and a median timer.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';

export const ort = createRequire(import.meta.url)('onnxruntime-node');

/** The bundle's manifest and a loader for one of its graphs by role (one session at a time bounds memory). */
export function openBundle(dir) {
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
  return { manifest, session: (role) => ort.InferenceSession.create(join(dir, manifest.graphs[role].file)) };
}

/**
 * The timing scripts' command line, `BUNDLE_DIR [REPS] [NEW_TOKENS]`: the bundle (`openBundle`), its token count
 * L, codebook size K and feature width D, the new tokens per step `n` (default `defaultNew`) and `time(fn)`, the
 * median of REPS (default 3) timed calls.
 */
export function timingRun(defaultNew) {
  const [dir, repsArg, nArg] = process.argv.slice(2);
  const reps = Number(repsArg ?? 3);
  const { manifest, session } = openBundle(dir);
  const { count: L, codebookSize: K } = manifest.tokens;
  return { m: manifest, session, L, K, D: manifest.featureDim, n: Number(nArg ?? defaultNew), time: (fn) => medianMs(fn, reps) };
}

/** The median of `reps` timed calls of `fn` in ms, after one untimed warm-up call. */
export async function medianMs(fn, reps) {
  await fn();
  const t = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await fn();
    t.push(performance.now() - t0);
  }
  t.sort((a, b) => a - b);
  return t[Math.floor(t.length / 2)];
}
