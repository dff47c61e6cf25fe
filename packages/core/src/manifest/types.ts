import type { GraphSpec, HeadGraphSpec, MigmManifest, ShortcutGraphSpec, TensorSpec } from './types.gen.js';

export type { BundleFile, GraphSpec, HeadGraphSpec, MigmManifest, ShortcutGraphSpec, TensorSpec } from './types.gen.js';

/** A validated bundle manifest (`manifest.json`). */
export type Manifest = MigmManifest;

/** The graphs a bundle may hold. */
export type GraphRole = keyof Manifest['graphs'];

/** The tensor roles each graph must expose (keys of `inputs` / `outputs`). */
export const GRAPH_CONTRACT: Readonly<Record<GraphRole, { inputs: readonly string[]; outputs: readonly string[] }>> = {
  base: { inputs: ['tokens', 'classes'], outputs: ['logits', 'feature'] },
  head: { inputs: ['feature'], outputs: ['logits'] },
  decoder: { inputs: ['tokens'], outputs: ['pixels'] },
  shortcut: { inputs: ['feature', 'newTokens', 'newPositions', 'ratio'], outputs: ['velocity'] },
  classifier: { inputs: ['pixels'], outputs: ['logits', 'features'] },
};

export type AnyGraphSpec = GraphSpec | HeadGraphSpec | ShortcutGraphSpec;
export type { TensorSpec as Tensor };
