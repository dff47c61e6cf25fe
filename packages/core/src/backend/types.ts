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

/**
 * An opaque handle on encoded prompts (`encodeText`): for aMUSEd the text encoder's outputs (text states and the
 * pooled embedding) of `count` distinct prompts, kept where the backend keeps them (host or device memory) for
 * the whole run; for a bundle without a text encoder (Lumina-DiMOO) the prompts' token ids themselves. Only the
 * backend that made it can read it; the caller frees it with `release`.
 */
export interface TextHandle {
  readonly kind: 'text';
  /** Prompts encoded. */
  readonly count: number;
}

/** The prompt of each row of a forward pass of a text-conditioned bundle. */
export interface TextRows {
  /** Encoded prompts, from this backend's `encodeText`. */
  readonly handle: TextHandle;
  /** [rows] int32: row r is conditioned on prompt `index[r]` of the handle (guidance rows: the negative prompt's). */
  readonly index: Int32Array;
  /**
   * [rows, M] float32: the micro-conditioning of each row (`condition.microConditioning`; aMUSEd: width, height,
   * crop x, crop y, aesthetic score). Empty when the bundle has none.
   */
  readonly microConds: Float32Array;
}

/** A prompt as token ids: what a `PromptTokenizer` makes of one string. */
export interface TokenizedPrompt {
  /** Exactly `maxLength` ids: start token, the prompt's tokens, end token, padding. */
  readonly ids: Int32Array;
  /** Tokens the prompt needed with its start and end tokens, before truncation to `maxLength`. */
  readonly length: number;
  /** The prompt was longer than `maxLength` tokens and was cut (its end token kept, as CLIP does). */
  readonly truncated: boolean;
}

/**
 * The tokenizer of a text-conditioned bundle (`condition.tokenizer`), loaded by the backend from the bundle's
 * sha256-checked tokenizer file. Core takes its output as data, so it needs no tokenizer library itself.
 */
export interface PromptTokenizer {
  /** Ids per prompt after padding / truncation (`condition.maxLength`). */
  readonly maxLength: number;
  encode(prompt: string): TokenizedPrompt;
}

/** Input of a base-model forward pass. */
export interface ForwardInput {
  /** Token ids [rows, L], int32; masked positions hold the manifest's mask id. */
  readonly tokens: Int32Array;
  /** Class bundles: class ids [rows], int32; the null class id for the unconditional branch. */
  readonly classes?: Int32Array;
  /** Text bundles: the encoded prompt of each row. */
  readonly text?: TextRows;
  readonly rows: number;
  /**
   * Where the logits [rows, L, K] go: a caller-owned host buffer, or a `DeviceLogits` from
   * `createLogits()` (backends with `capabilities.deviceSampling`), which keeps them where the model ran.
   */
  readonly logits: Float32Array | DeviceLogits;
}

/**
 * An opaque handle on a logits buffer [rows, L, K] that stays where the backend computes (a GPU buffer, or the
 * backend's own host memory). Made by `createLogits`, filled by `forward`/`head`/`guidedHead`, read by
 * `sampleStep`, freed by `release`. One run owns it; it is reused by every step of that run. A call that writes
 * n rows (a forward of the conditional rows only, a guidedHead of B rows) fills rows 0..n-1; n above `rows` is
 * `INVALID_OPTION`.
 */
export interface DeviceLogits {
  readonly dims: readonly [rows: number, tokens: number, vocab: number];
  readonly kind: 'logits';
}

/**
 * One sampling step run by the backend next to the logits (`capabilities.deviceSampling`). It must give what
 * core's host sampler (`sampleMaskedPositions` + `commitTopConfidence`) gives on the same inputs, with the
 * inverse-CDF draw and no top-k / top-p filtering (core falls back to the host sampler for those):
 * for each image b and masked position p (state[b, p] === maskId):
 *   z = invTemp * ((1 + w) * cond - w * uncond)  (or invTemp * cond when not guided)
 *   candidate = the first k with cumsum(softmax(z))[k] >= u0 (zero-probability entries never chosen)
 *   confidence = log softmax(z)[candidate] + noiseScale * (-log(-log(u1)))
 * then the `count` masked positions of highest confidence (ties: lower position first) are committed.
 * u0 = uniforms[(b * L + p) * 2], u1 = uniforms[(b * L + p) * 2 + 1], drawn by core from its seeded streams in
 * the host sampler's order, so a seed means the same on every backend. Entries at unmasked positions are 0.
 */
export interface DeviceSampleStep {
  /** Images B. The logits hold 2B rows [cond; uncond] when `guided`, else B rows (only rows 0..B-1 are read). */
  readonly batch: number;
  readonly guided: boolean;
  /** Guidance weight w (ignored when not `guided`). */
  readonly weight: number;
  readonly invTemp: number;
  /** Scale of the confidence's Gumbel noise (r_temp times the annealing factor). */
  readonly noiseScale: number;
  /** Token grid [B, L] before the step; masked positions hold the manifest's mask id. Not modified. */
  readonly state: Int32Array;
  /** Uniforms in (0, 1) [B, L, 2], float64 (core's precision; a backend may round them). */
  readonly uniforms: Float64Array;
  /** k: positions to commit per image; every image has the same number of masked positions, at least k. */
  readonly count: number;
  /** Out [B, k]: the committed positions per image, ascending. */
  readonly revealedPositions: Int32Array;
  /** Out [B, k]: their token ids. */
  readonly revealedTokens: Int32Array;
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
  /**
   * `createLogits()` and `sampleStep()` are available, and `forward`/`head`/`guidedHead` accept a `DeviceLogits`:
   * the step's sampling runs where the logits are and only the revealed positions and ids come back.
   * generate()'s default `sampler: 'auto'` uses it whenever it is present, so a backend turns it on by default
   * only where it beats core's host sampler, and offers it as an option elsewhere.
   */
  readonly deviceSampling?: boolean;
  /**
   * The bundle is text-conditioned and the backend loaded its tokenizer: `tokenizer` and `encodeText()` are
   * available, and `forward` takes `input.text` instead of `input.classes`.
   */
  readonly text?: boolean;
}

/**
 * The contract every runtime implements (onnxruntime-node, onnxruntime-web, the in-memory test backend).
 * Core owns the loop and the sampling; a backend owns model calls and feature memory.
 *
 * Rules every backend follows (checked by the conformance suite in `@migm/core/testing`):
 * - `forward` writes logits into the caller's buffer and returns a new feature handle; `head(forward.feature)`
 *   gives the same logits.
 * - Every returned FeatureTensor (and TextHandle) belongs to the caller until passed to `release`; releasing
 *   twice or using a released one throws `DISPOSED`.
 * - Text bundles (`capabilities.text`): `encodeText` encodes each prompt independently of the others in the
 *   call; `forward` takes `input.text` and refuses `input.classes` (class bundles: the other way round).
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
  head(feature: FeatureTensor, logits: Float32Array | DeviceLogits): Promise<void>;
  /**
   * Head on the guided feature: for a feature [2B, L, D] whose rows are [cond; uncond], writes
   * head((1 + w) f_cond - w f_uncond) [B, L, K] into `logits`. For an affine head these are the guided logits
   * (1 + w) head(f_cond) - w head(f_uncond) up to float32 rounding, for half the head's work. Present when
   * `capabilities.guidedHead`.
   */
  guidedHead?(feature: FeatureTensor, weight: number, logits: Float32Array | DeviceLogits): Promise<void>;
  /** A logits buffer [rows, L, K] kept by the backend. Present when `capabilities.deviceSampling`. */
  createLogits?(rows: number): DeviceLogits;
  /**
   * Samples one step from `logits` (see `DeviceSampleStep`), writes the committed positions and ids into the
   * step's out arrays, and returns non-finite logits as `BACKEND_FAILURE` like the host sampler. Present when
   * `capabilities.deviceSampling`.
   */
  sampleStep?(logits: DeviceLogits, step: DeviceSampleStep): Promise<void>;
  /** The bundle's tokenizer (text bundles). Present when `capabilities.text`. */
  readonly tokenizer?: PromptTokenizer;
  /**
   * Encodes `count` prompts given as token ids [count, maxLength] (from `tokenizer`) once, for every forward of a
   * run: a text encoder's outputs, or the ids themselves for a base model that reads prompt ids. The handle
   * belongs to the caller until passed to `release`. Present when `capabilities.text`.
   */
  encodeText?(ids: Int32Array, count: number): Promise<TextHandle>;
  /** Learned shortcut: the velocity [rows, L, D] for one step. Present when `capabilities.velocity`. */
  velocity?(feature: FeatureTensor, control: VelocityControl): Promise<FeatureTensor>;
  /** Linear combination sum_j coef_j * feature_j (all of the same dims), as a new tensor. */
  combine(terms: readonly FeatureTerm[]): Promise<FeatureTensor>;
  /** Copies a feature into host memory (for recording and tests; not on the hot path). */
  readFeature(feature: FeatureTensor): Promise<Float32Array>;
  /** Frees a feature tensor, a `DeviceLogits` or a `TextHandle`. */
  release(feature: FeatureTensor | DeviceLogits | TextHandle): void;
  /** Tokens [batch, L] -> images. */
  decode(tokens: Int32Array, batch: number): Promise<ImageBatch>;
  /** Frees every session and buffer. Idempotent. */
  dispose(): Promise<void>;
}
