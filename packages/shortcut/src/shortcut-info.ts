import { checkShortcutCompatibility, MigmError, type Manifest } from '@migm/core';
import { type ShortcutGraphSpec } from '@migm/core/backend';

/** What a bundle says about its learned shortcut. */
export interface ShortcutInfo {
  /** N of the trajectories it was trained on; it is most accurate at this N. */
  readonly trainedSteps: number;
  /** Parameter count, when the bundle records it. */
  readonly parameters: number | undefined;
  readonly file: string;
  readonly spec: ShortcutGraphSpec;
}

/**
 * The shortcut of `manifest` (or a shortcut graph from another bundle), after checking that it was trained for
 * this base model, codebook and feature width. Throws `UNSUPPORTED` when there is none and `BUNDLE_MISMATCH`
 * when it does not fit.
 *
 * @example
 * const info = getShortcut(backend.manifest);
 * console.log(`trained at N = ${info.trainedSteps}`);
 */
export function getShortcut(manifest: Manifest, shortcut: ShortcutGraphSpec | undefined = manifest.graphs.shortcut): ShortcutInfo {
  if (shortcut === undefined) {
    throw new MigmError('UNSUPPORTED', `Bundle ${manifest.name} has no shortcut model (manifest graphs.shortcut); use a vanilla or training-free method.`);
  }
  checkShortcutCompatibility(manifest, shortcut);
  return { trainedSteps: shortcut.trainedSteps, parameters: shortcut.parameters, file: shortcut.file, spec: shortcut };
}

/**
 * The ideal speed-up of N steps with B full steps over vanilla N steps, when a skipped step costs `rho` of a
 * full step: N / (B + (N - B) * rho). Benchmarks report achieved / ideal.
 */
export function idealSpeedup(steps: number, budget: number, rho: number): number {
  if (!Number.isInteger(steps) || steps < 1) throw new MigmError('INVALID_OPTION', `Invalid option 'steps': got ${steps}; an integer >= 1 is allowed.`);
  if (!Number.isInteger(budget) || budget < 1 || budget > steps)
    throw new MigmError('INVALID_OPTION', `Invalid option 'budget': got ${budget}; an integer from 1 to steps (${steps}) is allowed.`);
  if (!Number.isFinite(rho) || rho < 0) throw new MigmError('INVALID_OPTION', `Invalid option 'rho': got ${rho}; a finite number >= 0 is allowed.`);
  return steps / (budget + (steps - budget) * rho);
}
