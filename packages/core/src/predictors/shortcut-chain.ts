import type { FeatureTensor } from '../backend/types.js';
import type { Prediction, PredictorEnv, SkippedStep } from './types.js';

/**
 * The learned shortcut's integrator f_next = f + velocity(f, revealed tokens, mask ratio) (PAPER.md section 3),
 * chaining from `from`. Drops the velocity, and `from` when it was the chain's own previous feature.
 */
export async function shortcutStep(env: PredictorEnv, from: FeatureTensor, ownsFrom: boolean, step: SkippedStep): Promise<Prediction> {
  const { arena, backend } = env;
  const control = step.control();
  const v = arena.hold(await env.call('velocity', () => backend.velocity!(from, control)));
  const next = arena.hold(
    await env.call('combine', () =>
      backend.combine([
        { feature: from, coef: 1 },
        { feature: v, coef: 1 },
      ]),
    ),
  );
  arena.drop(v);
  if (ownsFrom) arena.drop(from);
  return { feature: next, kept: true };
}
