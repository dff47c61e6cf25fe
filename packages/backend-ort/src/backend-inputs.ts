import {
  affineHeadUsable,
  checkFloats,
  checkForwardCondition,
  checkIds,
  checkObject,
  MigmError,
  type ForwardInput,
  type Manifest,
  type VelocityControl,
} from '@migm/core/backend';
import { checkLength, checkRows } from './sessions.js';
import { checkHostLogits, isLogitsHandle } from './logits-handles.js';

// The argument checks and load-time steps both onnxruntime backends (host features and GPU-resident features)
// share, so that a rule is written once: ids in range, types, lengths.

/** Checks a forward() input against the manifest; returns L, K and D for the caller. */
export function checkForwardInput(manifest: Manifest, input: ForwardInput): { L: number; K: number; D: number } {
  const { count: L, codebookSize: K, maskId } = manifest.tokens;
  checkObject('forward', 'input', input);
  const { tokens, rows, logits } = input;
  checkIds('forward', 'tokens', tokens, maskId);
  checkRows('forward', rows);
  checkLength('forward', 'tokens', tokens.length, rows * L);
  // Class ids for a class bundle, a text handle's rows for a text bundle (the handle's owner checks the handle).
  checkForwardCondition(manifest, input);
  // A logits handle is checked by the backend that owns it (rows within its size).
  if (!isLogitsHandle(logits)) checkHostLogits('forward', logits, rows * L * K);
  return { L, K, D: manifest.featureDim };
}

/** Checks a velocity() control for a feature of `rows` rows and L positions. */
export function checkVelocityControl(manifest: Manifest, rows: number, L: number, control: VelocityControl): void {
  checkObject('velocity', 'control', control);
  checkIds('velocity', 'tokens', control.tokens, manifest.tokens.codebookSize - 1);
  checkIds('velocity', 'positions', control.positions, L - 1);
  checkFloats('velocity', 'ratio', control.ratio);
  const n = control.count;
  if (!Number.isInteger(n) || n < 1 || n > L) throw new MigmError('INVALID_OPTION', `velocity: count must be an integer from 1 to ${L}, got ${n}.`);
  checkLength('velocity', 'tokens', control.tokens.length, rows * n);
  checkLength('velocity', 'positions', control.positions.length, rows * n);
  checkLength('velocity', 'ratio', control.ratio.length, rows);
}

/** Checks decode() arguments: codebook ids (not the mask id) for `batch` images. */
export function checkDecodeInput(manifest: Manifest, tokens: Int32Array, batch: number): void {
  checkRows('decode', batch);
  checkIds('decode', 'tokens', tokens, manifest.tokens.codebookSize - 1);
  checkLength('decode', 'tokens', tokens.length, batch * manifest.tokens.count);
}

/** Checks guidedHead() arguments; returns the batch (half the feature's rows). A logits handle is the backend's to check. */
export function checkGuidedHead(manifest: Manifest, rows: number, L: number, logits: unknown): number {
  if (rows % 2 !== 0) throw new MigmError('INVALID_OPTION', `guidedHead: the feature has ${rows} rows; [cond; uncond] needs an even number.`);
  const batch = rows / 2;
  if (!isLogitsHandle(logits)) checkHostLogits('guidedHead', logits, batch * L * manifest.tokens.codebookSize);
  return batch;
}

/** Affine-head check results by backend name, device and head sha256. */
const affineVerdicts = new Map<string, { usable: boolean; warnings: string[] }>();

/**
 * Trust, but verify: guidedHead is only right for a head that really is affine. The verdict depends only on the
 * head's bytes (sha256-verified) and where it runs, so it is kept for the process: a service that creates
 * backends repeatedly pays the check's head runs (time, and native memory churn) once. Warnings are handed to
 * `onWarning` for every backend that gets the cached verdict; nothing is printed (without `onWarning` they are
 * dropped: `SessionBackend` keeps them in its `warnings`).
 */
export async function affineHeadVerdict(
  where: string,
  manifest: Manifest,
  headHost: (feature: Float32Array, rows: number) => Promise<Float32Array>,
  onWarning?: (message: string) => void,
): Promise<boolean> {
  const headFile = manifest.files.find((f) => f.path === manifest.graphs.head.file);
  const key = `${where}|${headFile?.sha256 ?? ''}`;
  let verdict = headFile ? affineVerdicts.get(key) : undefined;
  if (verdict === undefined) {
    const warnings: string[] = [];
    const usable = await affineHeadUsable(manifest, headHost, (w) => warnings.push(w));
    verdict = { usable, warnings };
    if (headFile) affineVerdicts.set(key, verdict);
  }
  if (onWarning) for (const w of verdict.warnings) onWarning(w);
  return verdict.usable;
}
