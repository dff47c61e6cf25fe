import type {
  Backend,
  BackendCapabilities,
  DeviceLogits,
  DeviceSampleStep,
  FeatureTensor,
  FeatureTerm,
  ForwardInput,
  ImageBatch,
  VelocityControl,
} from '../backend/types.js';
import { checkSampleStep } from '../backend/check-sample-step.js';
import { createSamplerScratch } from '../sampling/step-sampler.js';
import { sampleStepHost } from '../sampling/step-uniforms.js';
import { checkIds } from '../backend/check-inputs.js';
import { MigmError } from '../errors.js';
import { checkTerms, combineHost, guideFeatureHost, HostFeature } from '../features/host-features.js';
import type { Manifest } from '../manifest/types.js';
import { validateManifest } from '../manifest/validate.js';
import { RandomStreams } from '../random/prng.js';

/** Size of the in-memory test model. */
export interface TestModelSize {
  /** Token grid side (L = side^2). Default 4. */
  readonly side?: number;
  /** Codebook size K. Default 8. */
  readonly codebookSize?: number;
  /** Feature width D. Default 6. */
  readonly featureDim?: number;
  /** Number of classes. Default 3. */
  readonly numClasses?: number;
  /** Include a shortcut (velocity) model. Default true. */
  readonly shortcut?: boolean;
  /** Default steps in the manifest. Default 8. */
  readonly steps?: number;
  /** Declare the (affine) head affine in the manifest, which turns on `guidedHead`. Default true. */
  readonly affineHead?: boolean;
  /** Offer `capabilities.deviceSampling` (logits handles and `sampleStep`, run by core's reference). Default false. */
  readonly deviceSampling?: boolean;
}

const FAKE_SHA = (c: string): string => c.repeat(64);

/** A valid manifest describing the in-memory test model (no files are read for it). */
export function testManifest(size: TestModelSize = {}): Manifest {
  const side = size.side ?? 4;
  const L = side * side;
  const K = size.codebookSize ?? 8;
  const D = size.featureDim ?? 6;
  const C = size.numClasses ?? 3;
  const steps = size.steps ?? 8;
  const t = (name: string, dtype: 'float32' | 'int32', shape: (number | string)[]) => ({ name, dtype, shape });
  const manifest = {
    schemaVersion: 1 as const,
    name: 'migm-test-model',
    family: 'maskgit' as const,
    image: { width: side * 2, height: side * 2, channels: 1 as const, range: [0, 1] as [number, number] },
    tokens: { grid: [side, side] as [number, number], count: L, codebookSize: K, maskId: K, patchSize: 2 },
    condition: {
      type: 'class' as const,
      numClasses: C,
      nullClassId: C,
      classNames: Array.from({ length: C }, (_, i) => `class-${i}`) as [string, ...string[]],
    },
    featureDim: D,
    sampling: {
      steps,
      schedule: 'arccos' as const,
      guidance: { scale: 2, schedule: 'linear' as const },
      inverseTemperature: 1,
      randomizeTemperature: 4.5,
      budget: Math.max(1, Math.round(steps / 3)),
    },
    graphs: {
      base: {
        file: 'base.onnx',
        inputs: { tokens: t('tokens', 'int32', ['batch', L]), classes: t('classes', 'int32', ['batch']) },
        outputs: { logits: t('logits', 'float32', ['batch', L, K]), feature: t('feature', 'float32', ['batch', L, D]) },
      },
      head: {
        file: 'head.onnx',
        inputs: { feature: t('feature', 'float32', ['batch', L, D]) },
        outputs: { logits: t('logits', 'float32', ['batch', L, K]) },
        ...(size.affineHead === false ? {} : { affine: true }),
      },
      decoder: {
        file: 'decoder.onnx',
        inputs: { tokens: t('tokens', 'int32', ['batch', L]) },
        outputs: { pixels: t('pixels', 'float32', ['batch', 1, side * 2, side * 2]) },
      },
      ...(size.shortcut === false
        ? {}
        : {
            shortcut: {
              file: 'shortcut.onnx',
              inputs: {
                feature: t('feature', 'float32', ['batch', L, D]),
                newTokens: t('new_tokens', 'int32', ['batch', 'n']),
                newPositions: t('new_positions', 'int32', ['batch', 'n']),
                ratio: t('ratio', 'float32', ['batch']),
              },
              outputs: { velocity: t('velocity', 'float32', ['batch', L, D]) },
              trainedSteps: steps,
              compatibility: { baseSha256: FAKE_SHA('a'), codebookSize: K, featureDim: D },
            },
          }),
    },
    files: [
      { path: 'base.onnx', bytes: 1, sha256: FAKE_SHA('a') },
      { path: 'head.onnx', bytes: 1, sha256: FAKE_SHA('b') },
      { path: 'decoder.onnx', bytes: 1, sha256: FAKE_SHA('c') },
      ...(size.shortcut === false ? [] : [{ path: 'shortcut.onnx', bytes: 1, sha256: FAKE_SHA('d') }]),
    ] as Manifest['files'],
  };
  return validateManifest(manifest);
}

/** Calls made to a TestBackend, by method. */
export interface TestBackendCounts {
  forward: number;
  head: number;
  velocity: number;
  combine: number;
  decode: number;
  forwardRows: number;
  /** sampleStep calls. */
  sample: number;
  /** Rows the head ran on (head and guidedHead together). */
  headRows: number;
}

/**
 * A deterministic in-memory backend: a tiny "transformer" made of fixed pseudo-random embeddings (token +
 * position + class + a global mean over tokens, so every position sees the whole grid), a tied-style head, a
 * velocity that depends on feature, new tokens and ratio, and a decoder that paints each token as a patch.
 * It follows the whole Backend contract, counts calls and live features, so core's tests and the conformance
 * suite's self-test can check call counts and leaks.
 */
export class TestBackend implements Backend {
  readonly name = 'test';
  readonly device = 'cpu';
  readonly manifest: Manifest;
  readonly capabilities: BackendCapabilities;
  readonly counts: TestBackendCounts = { forward: 0, head: 0, velocity: 0, combine: 0, decode: 0, forwardRows: 0, headRows: 0, sample: 0 };
  /** Feature tensors returned and not yet released. */
  readonly live = new Set<HostFeature>();
  /** Logits handles made by createLogits and not yet released. */
  readonly liveLogits = new Set<HostLogits>();
  /** Optional hook awaited inside every call (e.g. to simulate latency or abort mid-call). */
  onCall: ((method: keyof TestBackendCounts) => void | Promise<void>) | undefined;
  readonly #tokenEmb: Float32Array;
  readonly #posEmb: Float32Array;
  readonly #classEmb: Float32Array;
  readonly #headW: Float32Array;
  readonly #headB: Float32Array;
  #disposed = false;

  constructor(size: TestModelSize = {}) {
    this.manifest = testManifest(size);
    // The head below is affine (f W^T + b), so the manifest's claim holds when it is made.
    const guidedHead = this.manifest.graphs.head.affine === true;
    const deviceSampling = size.deviceSampling === true;
    this.capabilities = { velocity: this.manifest.graphs.shortcut !== undefined, deviceFeatures: false, guidedHead, deviceSampling };
    if (!this.capabilities.velocity) (this as { velocity?: unknown }).velocity = undefined;
    if (!guidedHead) (this as { guidedHead?: unknown }).guidedHead = undefined;
    if (!deviceSampling) {
      (this as { createLogits?: unknown }).createLogits = undefined;
      (this as { sampleStep?: unknown }).sampleStep = undefined;
    }
    const { count: L, codebookSize: K, maskId } = this.manifest.tokens;
    const D = this.manifest.featureDim;
    const rng = new RandomStreams(12345, 1);
    const fill = (n: number, scale: number): Float32Array => Float32Array.from({ length: n }, () => (rng.uniform(0) * 2 - 1) * scale);
    this.#tokenEmb = fill((maskId + 1) * D, 1);
    this.#posEmb = fill(L * D, 0.5);
    this.#classEmb = fill((this.manifest.condition.nullClassId + 1) * D, 1);
    this.#headW = fill(K * D, 1.5);
    this.#headB = fill(K, 0.2);
  }

  get disposed(): boolean {
    return this.#disposed;
  }

  async forward(input: ForwardInput): Promise<FeatureTensor> {
    await this.#enter('forward');
    const { count: L, codebookSize: K, maskId } = this.manifest.tokens;
    const D = this.manifest.featureDim;
    const { tokens, classes, rows, logits } = input;
    if (!Number.isInteger(rows) || rows < 1) throw new MigmError('INVALID_OPTION', `forward: rows must be an integer >= 1, got ${rows}.`);
    if (tokens.length !== rows * L) throw new MigmError('INVALID_OPTION', `forward: tokens has ${tokens.length} values, expected rows * L = ${rows * L}.`);
    if (classes.length !== rows) throw new MigmError('INVALID_OPTION', `forward: classes has ${classes.length} values, expected ${rows}.`);
    const out = this.#logitsOut('forward', logits, rows);
    checkIds('forward', 'tokens', tokens, maskId);
    checkIds('forward', 'classes', classes, this.manifest.condition.nullClassId);
    this.counts.forwardRows += rows;
    const f = new Float32Array(rows * L * D);
    const mean = new Float32Array(D);
    for (let r = 0; r < rows; r++) {
      mean.fill(0);
      for (let p = 0; p < L; p++) {
        const tok = tokens[r * L + p]!;
        if (tok < 0 || tok > maskId) throw new MigmError('INVALID_OPTION', `forward: token id ${tok} outside 0..${maskId}.`);
        for (let d = 0; d < D; d++) mean[d]! += this.#tokenEmb[tok * D + d]! / L;
      }
      const cls = classes[r]!;
      if (cls < 0 || cls > this.manifest.condition.nullClassId) throw new MigmError('INVALID_OPTION', `forward: class id ${cls} out of range.`);
      for (let p = 0; p < L; p++) {
        const tok = tokens[r * L + p]!;
        for (let d = 0; d < D; d++) {
          const x = this.#tokenEmb[tok * D + d]! + this.#posEmb[p * D + d]! + this.#classEmb[cls * D + d]! + 2 * mean[d]!;
          f[(r * L + p) * D + d] = Math.tanh(x);
        }
      }
    }
    this.#head(f, rows, out);
    return this.#track(new HostFeature(f, [rows, L, D]));
  }

  async head(feature: FeatureTensor, logits: Float32Array | DeviceLogits): Promise<void> {
    await this.#enter('head');
    const f = this.#own(feature);
    const rows = f.dims[0];
    const out = this.#logitsOut('head', logits, rows);
    this.counts.headRows += rows;
    this.#head(f.data, rows, out);
  }

  async guidedHead(feature: FeatureTensor, weight: number, logits: Float32Array | DeviceLogits): Promise<void> {
    await this.#enter('head');
    const f = this.#own(feature);
    const rows = f.dims[0];
    if (rows % 2 !== 0) throw new MigmError('INVALID_OPTION', `guidedHead: the feature has ${rows} rows; [cond; uncond] needs an even number.`);
    const out = this.#logitsOut('guidedHead', logits, rows / 2);
    // guideFeatureHost checks the weight (INVALID_OPTION).
    const guided = guideFeatureHost(new Float32Array(f.data.length / 2), f.data, weight);
    this.counts.headRows += rows / 2;
    this.#head(guided, rows / 2, out);
  }

  createLogits(rows: number): DeviceLogits {
    this.#alive();
    const { count: L, codebookSize: K } = this.manifest.tokens;
    if (!Number.isInteger(rows) || rows < 1 || rows > 8192)
      throw new MigmError('INVALID_OPTION', `createLogits: rows must be an integer from 1 to 8192, got ${rows}.`);
    const h = new HostLogits(new Float32Array(rows * L * K), [rows, L, K]);
    this.liveLogits.add(h);
    return h;
  }

  async sampleStep(logits: DeviceLogits, step: DeviceSampleStep): Promise<void> {
    await this.#enter('sample');
    const h = this.#ownLogits('sampleStep', logits);
    checkSampleStep(this.manifest, h, step);
    const { count: L, codebookSize: K, maskId } = this.manifest.tokens;
    const scratch = createSamplerScratch(step.batch, L, K);
    sampleStepHost(h.data, L, K, maskId, step, scratch, new Int32Array(step.batch * L));
  }

  async velocity(feature: FeatureTensor, control: VelocityControl): Promise<FeatureTensor> {
    await this.#enter('velocity');
    const f = this.#own(feature);
    const [rows, L, D] = f.dims;
    const n = control.count;
    if (!Number.isInteger(n) || n < 1) throw new MigmError('INVALID_OPTION', `velocity: count must be an integer >= 1, got ${n}.`);
    if (control.tokens.length !== rows * n || control.positions.length !== rows * n || control.ratio.length !== rows) {
      throw new MigmError('INVALID_OPTION', `velocity: control tensors must be [${rows}, ${n}], [${rows}, ${n}] and [${rows}].`);
    }
    checkIds('velocity', 'tokens', control.tokens, this.manifest.tokens.codebookSize - 1);
    checkIds('velocity', 'positions', control.positions, L - 1);
    const v = new Float32Array(rows * L * D);
    const src = f.data;
    for (let r = 0; r < rows; r++) {
      const ratio = control.ratio[r]!;
      for (let j = 0; j < n; j++) {
        const tok = control.tokens[r * n + j]!;
        const pos = control.positions[r * n + j]!;
        if (pos < 0 || pos >= L) throw new MigmError('INVALID_OPTION', `velocity: position ${pos} outside 0..${L - 1}.`);
        for (let d = 0; d < D; d++) v[(r * L + pos) * D + d]! += 0.5 * this.#tokenEmb[tok * D + d]!;
      }
      for (let i = r * L * D; i < (r + 1) * L * D; i++) v[i] = (v[i]! - 0.1 * src[i]!) * (0.5 + ratio);
    }
    return this.#track(new HostFeature(v, [rows, L, D]));
  }

  async combine(terms: readonly FeatureTerm[]): Promise<FeatureTensor> {
    await this.#enter('combine');
    const dims = checkTerms(terms);
    const arrays = terms.map((t) => this.#own(t.feature).data);
    const out = combineHost(
      new Float32Array(dims[0] * dims[1] * dims[2]),
      arrays,
      terms.map((t) => t.coef),
    );
    return this.#track(new HostFeature(out, dims));
  }

  async readFeature(feature: FeatureTensor): Promise<Float32Array> {
    this.#alive();
    return this.#own(feature).data.slice();
  }

  release(feature: FeatureTensor | DeviceLogits): void {
    if (feature instanceof HostLogits) {
      this.#ownLogits('release', feature).release();
      this.liveLogits.delete(feature);
      return;
    }
    const f = this.#own(feature);
    f.release();
    this.live.delete(f);
  }

  async decode(tokens: Int32Array, batch: number): Promise<ImageBatch> {
    await this.#enter('decode');
    const { count: L, codebookSize: K, grid } = this.manifest.tokens;
    const { width, height } = this.manifest.image;
    if (!Number.isInteger(batch) || batch < 1) throw new MigmError('INVALID_OPTION', `decode: batch must be an integer >= 1, got ${batch}.`);
    checkIds('decode', 'tokens', tokens, K - 1);
    if (tokens.length !== batch * L) throw new MigmError('INVALID_OPTION', `decode: tokens has ${tokens.length} values, expected batch * L = ${batch * L}.`);
    const data = new Float32Array(batch * width * height);
    const patch = width / grid[1];
    for (let b = 0; b < batch; b++) {
      for (let y = 0; y < height; y++) {
        for (let x = 0; x < width; x++) {
          const p = Math.floor(y / patch) * grid[1] + Math.floor(x / patch);
          const tok = tokens[b * L + p]!;
          data[(b * height + y) * width + x] = tok >= K ? 0.5 : tok / (K - 1);
        }
      }
    }
    return { data, batch, channels: 1, height, width };
  }

  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    for (const f of this.live) f.release();
    this.live.clear();
    for (const h of this.liveLogits) h.release();
    this.liveLogits.clear();
  }

  #head(f: Float32Array, rows: number, logits: Float32Array): void {
    const { count: L, codebookSize: K } = this.manifest.tokens;
    const D = this.manifest.featureDim;
    for (let rp = 0; rp < rows * L; rp++) {
      for (let k = 0; k < K; k++) {
        let s = this.#headB[k]!;
        for (let d = 0; d < D; d++) s += f[rp * D + d]! * this.#headW[k * D + d]!;
        logits[rp * K + k] = s;
      }
    }
  }

  async #enter(method: keyof TestBackendCounts): Promise<void> {
    this.#alive();
    this.counts[method]++;
    // Real backends' calls are asynchronous: yield once so a dispose() can land mid-call here too.
    await (this.onCall ? this.onCall(method) : null);
    this.#alive();
  }

  #alive(): void {
    if (this.#disposed) throw new MigmError('DISPOSED', 'This backend was disposed.');
  }

  #own(feature: FeatureTensor): HostFeature {
    this.#alive();
    if (!(feature instanceof HostFeature)) throw new MigmError('INVALID_OPTION', 'This feature tensor was not made by this backend.');
    if (feature.released) throw new MigmError('DISPOSED', 'This feature tensor was released and cannot be used.');
    return feature;
  }

  /** The host array a forward/head call writes `rows` rows of logits into: the caller's, or a handle's own. */
  #logitsOut(method: string, logits: Float32Array | DeviceLogits, rows: number): Float32Array {
    const { count: L, codebookSize: K } = this.manifest.tokens;
    if (logits instanceof Float32Array) {
      if (logits.length !== rows * L * K)
        throw new MigmError('INVALID_OPTION', `${method}: logits buffer has ${logits.length} values, expected ${rows * L * K}.`);
      return logits;
    }
    const h = this.#ownLogits(method, logits);
    if (h.dims[0] < rows) throw new MigmError('INVALID_OPTION', `${method}: the logits handle has ${h.dims[0]} rows, ${rows} are written.`);
    return h.data.subarray(0, rows * L * K);
  }

  #ownLogits(method: string, logits: unknown): HostLogits {
    this.#alive();
    if (!(logits instanceof HostLogits))
      throw new MigmError('INVALID_OPTION', `${method}: logits must be a Float32Array or a handle from this backend's createLogits().`);
    return logits;
  }

  #track(f: HostFeature): HostFeature {
    this.live.add(f);
    return f;
  }
}

/** The test backend's `DeviceLogits`: host memory behind the handle, like a CPU backend's own buffer. */
class HostLogits implements DeviceLogits {
  readonly kind = 'logits' as const;
  readonly dims: readonly [number, number, number];
  #data: Float32Array | null;

  constructor(data: Float32Array, dims: readonly [number, number, number]) {
    this.#data = data;
    this.dims = dims;
  }

  get data(): Float32Array {
    if (this.#data === null) throw new MigmError('DISPOSED', 'This logits handle was released and cannot be used.');
    return this.#data;
  }

  release(): void {
    if (this.#data === null) throw new MigmError('DISPOSED', 'This logits handle was already released.');
    this.#data = null;
  }
}
