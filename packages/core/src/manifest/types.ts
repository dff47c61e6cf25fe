import type { GraphSpec, HeadGraphSpec, MigmManifest, ShortcutGraphSpec, TensorSpec } from './types.gen.js';

export type { BundleFile, ClassCondition, GraphSpec, HeadGraphSpec, MigmManifest, ShortcutGraphSpec, TensorSpec, TextCondition } from './types.gen.js';

/** A validated bundle manifest (`manifest.json`). */
export type Manifest = MigmManifest;

/** The graphs a bundle may hold. */
export type GraphRole = keyof Manifest['graphs'];

/**
 * The tensor roles each graph must expose (keys of `inputs` / `outputs`). The base graph's inputs are those of a
 * class-conditioned bundle; a text bundle's base takes other inputs instead of `classes` (`baseInputRoles`).
 */
export const GRAPH_CONTRACT: Readonly<Record<GraphRole, { inputs: readonly string[]; outputs: readonly string[] }>> = {
  base: { inputs: ['tokens', 'classes'], outputs: ['logits', 'feature'] },
  head: { inputs: ['feature'], outputs: ['logits'] },
  decoder: { inputs: ['tokens'], outputs: ['pixels'] },
  shortcut: { inputs: ['feature', 'newTokens', 'newPositions', 'ratio'], outputs: ['velocity'] },
  classifier: { inputs: ['pixels'], outputs: ['logits', 'features'] },
  textEncoder: { inputs: ['inputIds'], outputs: ['textStates', 'pooled'] },
};

/**
 * The base graph's input roles for a manifest:
 * - class bundles: `tokens`, `classes`;
 * - text bundles with a `textEncoder` graph (aMUSEd): `tokens`, the encoder's outputs `textStates` and `pooled`,
 *   and `microConds` when `condition.microConditioning` is set;
 * - text bundles without one (Lumina-DiMOO: the prompt's tokens enter the base model's own sequence): `tokens`
 *   and `promptIds` [batch, maxLength] int32.
 */
export function baseInputRoles(manifest: Manifest): readonly string[] {
  const c = manifest.condition;
  if (c.type === 'class') return GRAPH_CONTRACT.base.inputs;
  if (manifest.graphs.textEncoder === undefined) return ['tokens', 'promptIds'];
  return c.microConditioning === undefined ? ['tokens', 'textStates', 'pooled'] : ['tokens', 'textStates', 'pooled', 'microConds'];
}

export type AnyGraphSpec = GraphSpec | HeadGraphSpec | ShortcutGraphSpec;
export type { TensorSpec as Tensor };
