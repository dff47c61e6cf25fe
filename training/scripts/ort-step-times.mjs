// Per-step cost of an imported MaskGIT bundle with onnxruntime-node (for scripts/bench_maskgit512.py).
// usage: node scripts/ort-step-times.mjs BUNDLE_DIR REPS NEW_TOKENS -> JSON {fullMs, shortcutMs, headMs, decodeMs}
// A full step is the base graph on the doubled CFG batch (2 rows: one image); a skipped step is the shortcut on
// the 2 rows plus the head once on the guided feature (core's guidedHead with an affine head).
import { ort, timingRun } from './ort-timing.mjs';

const { m, session, L, K, D, n, time } = timingRun(32);

const tokens = new Int32Array(2 * L).fill(K);
const out = {};
{
  const s = await session('base');
  out.fullMs = await time(() => s.run({ tokens: new ort.Tensor('int32', tokens, [2, L]), classes: new ort.Tensor('int32', Int32Array.from([0, m.condition.nullClassId]), [2]) }));
  await s.release();
}
const feature = new Float32Array(2 * L * D).map(() => Math.random() - 0.5);
if (m.graphs.shortcut) {
  const s = await session('shortcut');
  const ids = Int32Array.from({ length: 2 * n }, (_, i) => i % K);
  const pos = Int32Array.from({ length: 2 * n }, (_, i) => (i * 7) % L);
  out.shortcutMs = await time(() => s.run({
    feature: new ort.Tensor('float32', feature, [2, L, D]), newTokens: new ort.Tensor('int32', ids, [2, n]),
    newPositions: new ort.Tensor('int32', pos, [2, n]), ratio: new ort.Tensor('float32', Float32Array.from([0.5, 0.5]), [2]),
  }));
  await s.release();
}
{
  const s = await session('head');
  out.headMs = await time(() => s.run({ feature: new ort.Tensor('float32', feature.subarray(0, L * D), [1, L, D]) }));
  await s.release();
}
{
  const s = await session('decoder');
  out.decodeMs = await time(() => s.run({ tokens: new ort.Tensor('int32', new Int32Array(L).fill(1), [1, L]) }));
  await s.release();
}
process.stdout.write(JSON.stringify(out));
