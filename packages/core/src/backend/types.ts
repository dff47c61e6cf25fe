import type { Manifest } from '../manifest/types.js';

/**
 * An opaque handle on a feature tensor [rows, L, D] (the base model's last hidden state, or a velocity). It may
 * live on a device (GPU buffer) or in host memory; only the backend that made it can read it.
 */
export interface FeatureTensor {
  readonly dims: readonly [rows: number, tokens: number, width: number];
}

/** One term of a linear combination of features. */
export interface FeatureTerm {
  readonly feature: FeatureTensor;
  readonly coef: number;
}

/** Input of a base-model forward pass. */
export interface ForwardInput {
  /** Token ids [rows, L], int32; masked positions hold the manifest's mask id. */
  readonly tokens: Int32Array;
  /** Class ids [rows], int32; the null class id for the unconditional branch. */
  readonly classes: Int32Array;
  readonly rows: number;
  /** Caller-owned output buffer [rows, L, K] that receives the logits. */
  readonly logits: Float32Array;
}

/** The control of a shortcut step: tokens revealed at the previous step, and the mask ratio after it. */
export interface VelocityControl {
  /** Token ids [rows, n], int32. */
  readonly tokens: Int32Array;
  /** Their positions [rows, n], int32, in 0..L-1. */
  readonly positions: Int32Array;
  /** n: tokens per row. */
  readonly count: number;
  /** Mask ratio per row [rows], float32 in [0, 1]. */
  readonly ratio: Float32Array;
}

/** Decoded images, planar: data[b][c][y][x], values in the manifest's image.range. */
export interface ImageBatch {
  readonly data: Float32Array;
  readonly batch: number;
  readonly channels: number;
  readonly height: number;
  readonly width: number;
}

/** What a backend can do beyond the required contract. */
export interface BackendCapabilities {
  /** A learned shortcut (velocity) model is loaded: `velocity()` is available. */
  readonly velocity: boolean;
  /** Features stay on an accelerator between steps (not host memory). */
  readonly deviceFeatures: boolean;
  /**
   * `guidedHead()` is available: the bundle declares its head affine (`graphs.head.affine`) and the backend
   * checked that claim when it loaded the head.
   */
  readonly guidedHead?: boolean;
}

/**
 * The contract every runtime implements (onnxruntime-node, onnxruntime-web, the in-memory test backend).
 * Core owns the loop and the sampling; a backend owns model calls and feature memory.
 *
 * Rules every backend follows (checked by the conformance suite in `@migm/core/testing`):
 * - `forward` writes logits into the caller's buffer and returns a new feature handle; `head(forward.feature)`
 *   gives the same logits.
 * - Every returned FeatureTensor belongs to the caller until passed to `release`; releasing twice or using a
 *   released tensor throws `DISPOSED`.
 * - `combine` computes sum_j coef_j * feature_j exactly as `combineHost` does (float32).
 * - Bad shapes throw `INVALID_OPTION`; runtime failures throw `BACKEND_FAILURE`; any call after `dispose()`
 *   throws `DISPOSED`.
 * - Calls from concurrent `generate()` runs may interleave; a backend keeps no per-run state.
 */
export interface Backend {
  /** Short backend name, e.g. "onnxruntime-node". */
  readonly name: string;
  /** The device actually in use, e.g. "cpu", "cuda", "webgpu", "wasm". */
  readonly device: string;
  /** The validated manifest of the loaded bundle. */
  readonly manifest: Manifest;
  readonly capabilities: BackendCapabilities;

  /** Base model: logits into `input.logits`, and the feature [rows, L, D]. */
  forward(input: ForwardInput): Promise<FeatureTensor>;
  /** Head only: feature [rows, L, D] -> logits [rows, L, K] into `logits`. */
  head(feature: FeatureTensor, logits: Float32Array): Promise<void>;
  /**
   * Head on the guided feature: for a feature [2B, L, D] whose rows are [cond; uncond], writes
   * head((1 + w) f_cond - w f_uncond) [B, L, K] into `logits`. For an affine head these are the guided logits
   * (1 + w) head(f_cond) - w head(f_uncond) up to float32 rounding, for half the head's work. Present when
   * `capabilities.guidedHead`.
   */
  guidedHead?(feature: FeatureTensor, weight: number, logits: Float32Array): Promise<void>;
  /** Learned shortcut: the velocity [rows, L, D] for one step. Present when `capabilities.velocity`. */
  velocity?(feature: FeatureTensor, control: VelocityControl): Promise<FeatureTensor>;
  /** Linear combination sum_j coef_j * feature_j (all of the same dims), as a new tensor. */
  combine(terms: readonly FeatureTerm[]): Promise<FeatureTensor>;
  /** Copies a feature into host memory (for recording and tests; not on the hot path). */
  readFeature(feature: FeatureTensor): Promise<Float32Array>;
  /** Frees a feature tensor. */
  release(feature: FeatureTensor): void;
  /** Tokens [batch, L] -> images. */
  decode(tokens: Int32Array, batch: number): Promise<ImageBatch>;
  /** Frees every session and buffer. Idempotent. */
  dispose(): Promise<void>;
}
