// Per-step cost of an aMUSEd bundle with a shortcut graph in onnxruntime-node (for scripts/bench_amused_shortcut.py).
// usage: node scripts/ort-amused-step-times.mjs BUNDLE_DIR REPS NEW_TOKENS
//   -> JSON {fullMs, shortcutMs, headMs, skippedMs, rho}
// A full step is the base graph on 2 rows (the prompt and the negative prompt: guidance). A skipped step is the
// shortcut on the same 2 rows plus the head on both (aMUSEd's head is not affine, so the runtime cannot guide the
// feature and run it once): skippedMs = shortcutMs + headMs, rho = skippedMs / fullMs. Medians over REPS runs
// after one warm-up; every graph loads alone (as the runtime holds them, but one at a time here to bound memory).
import { ort, timingRun } from './ort-timing.mjs';

const { m, session, L, K, D, n, time } = timingRun(16);
const E = m.graphs.base.inputs.textStates.shape[2];
const P = m.graphs.base.inputs.pooled.shape[1];
const T = m.condition.maxLength;


const rand = (size) => Float32Array.from({ length: size }, () => Math.random() - 0.5);
const out = {};
{
  const s = await session('base');
  const tokens = new Int32Array(2 * L).fill(K);
  const micro = Float32Array.from([...m.condition.microConditioning.default, ...m.condition.microConditioning.default]);
  const feeds = {
    tokens: new ort.Tensor('int32', tokens, [2, L]),
    textStates: new ort.Tensor('float32', rand(2 * T * E), [2, T, E]),
    pooled: new ort.Tensor('float32', rand(2 * P), [2, P]),
    microConds: new ort.Tensor('float32', micro, [2, micro.length / 2]),
  };
  out.fullMs = await time(() => s.run(feeds));
  await s.release();
}
const feature = rand(2 * L * D);
{
  const s = await session('shortcut');
  const ids = Int32Array.from({ length: 2 * n }, (_, i) => i % K);
  const pos = Int32Array.from({ length: 2 * n }, (_, i) => (i * 7) % L);
  out.shortcutMs = await time(() =>
    s.run({
      feature: new ort.Tensor('float32', feature, [2, L, D]),
      newTokens: new ort.Tensor('int32', ids, [2, n]),
      newPositions: new ort.Tensor('int32', pos, [2, n]),
      ratio: new ort.Tensor('float32', Float32Array.from([0.5, 0.5]), [2]),
    }),
  );
  await s.release();
}
{
  const s = await session('head');
  out.headMs = await time(() => s.run({ feature: new ort.Tensor('float32', feature, [2, L, D]) }));
  await s.release();
}
out.skippedMs = out.shortcutMs + out.headMs;
out.rho = out.skippedMs / out.fullMs;
process.stdout.write(JSON.stringify(out));
