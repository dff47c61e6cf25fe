import type {
  Backend,
  BackendCapabilities,
  DeviceLogits,
  DeviceSampleStep,
  FeatureTensor,
  FeatureTerm,
  ForwardInput,
  ImageBatch,
  PromptTokenizer,
  TextHandle,
  TextRows,
  TokenizedPrompt,
  VelocityControl,
} from '../backend/types.js';
import { checkSampleStep } from '../backend/check-sample-step.js';
import { createSamplerScratch } from '../sampling/step-sampler.js';
import { sampleStepHost } from '../sampling/step-uniforms.js';
import { checkForwardCondition, checkIds, checkObject, checkTextIds } from '../backend/check-inputs.js';
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
  /**
   * A text-conditioned model (family amused) instead of a class-conditioned one: a word-hash tokenizer
   * (`TestTokenizer`, maxLength 12), a text encoder (text states [12, 4] and a pooled embedding [3]) and
   * micro-conditioning (5 values) feeding the base model in place of the class embedding. Default false.
   */
  readonly text?: boolean;
}

/** maxLength, text-state width E, pooled width P and vocabulary of the test model's text side. */
const TEXT = { maxLength: 12, width: 4, pooled: 3, vocab: 50 } as const;
const MICRO_NAMES: [string, ...string[]] = ['width', 'height', 'cropX', 'cropY', 'aestheticScore'];

/**
 * The test model's tokenizer: lower-cases, splits on whitespace, maps each word to an id by a hash, and lays the
 * ids out as CLIP does ([start, words..., end, padding with the end id], truncated to keep the end id), so the
 * text path of core and of the conformance suite runs on the same rules as a real bundle's tokenizer.
 */
export class TestTokenizer implements PromptTokenizer {
  readonly maxLength = TEXT.maxLength;
  readonly bosId = TEXT.vocab - 2;
  readonly eosId = TEXT.vocab - 1;

  encode(prompt: string): TokenizedPrompt {
    if (typeof prompt !== 'string') throw new MigmError('INVALID_OPTION', `encode: the prompt must be a string, got ${typeof prompt}.`);
    const words = prompt
      .toLowerCase()
      .split(/\s+/)
      .filter((w) => w.length > 0);
    const T = this.maxLength;
    const ids = new Int32Array(T).fill(this.eosId);
    ids[0] = this.bosId;
    const kept = Math.min(words.length, T - 2);
    for (let i = 0; i < kept; i++) ids[1 + i] = 1 + (fnv1a(words[i]!) % (TEXT.vocab - 3));
    ids[1 + kept] = this.eosId;
    return { ids, length: words.length + 2, truncated: words.length > T - 2 };
  }
}

function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h;
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
  const text = size.text === true;
  const T = TEXT.maxLength;
  const manifest = {
    schemaVersion: 1 as const,
    name: text ? 'migm-test-text-model' : 'migm-test-model',
    family: text ? ('amused' as const) : ('maskgit' as const),
    image: { width: side * 2, height: side * 2, channels: 1 as const, range: [0, 1] as [number, number] },
    tokens: { grid: [side, side] as [number, number], count: L, codebookSize: K, maskId: K, patchSize: 2 },
    condition: text
      ? {
          type: 'text' as const,
          maxLength: T,
          tokenizer: { file: 'tokenizer.json', kind: 'clip-bpe' as const, bosId: TEXT.vocab - 2, eosId: TEXT.vocab - 1, padId: TEXT.vocab - 1 },
          negativePrompt: '',
          microConditioning: { names: MICRO_NAMES, default: [side * 2, side * 2, 0, 0, 6] as [number, ...number[]] },
          examplePrompts: ['a red circle', 'two blue squares'],
        }
      : {
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
        inputs: text
          ? {
              tokens: t('tokens', 'int32', ['batch', L]),
              textStates: t('text_states', 'float32', ['batch', T, TEXT.width]),
              pooled: t('pooled', 'float32', ['batch', TEXT.pooled]),
              microConds: t('micro_conds', 'float32', ['batch', MICRO_NAMES.length]),
            }
          : { tokens: t('tokens', 'int32', ['batch', L]), classes: t('classes', 'int32', ['batch']) },
        outputs: { logits: t('logits', 'float32', ['batch', L, K]), feature: t('feature', 'float32', ['batch', L, D]) },
      },
      ...(text
        ? {
            textEncoder: {
              file: 'text-encoder.onnx',
              inputs: { inputIds: t('input_ids', 'int32', ['batch', T]) },
              outputs: { textStates: t('text_states', 'float32', ['batch', T, TEXT.width]), pooled: t('pooled', 'float32', ['batch', TEXT.pooled]) },
            },
          }
        : {}),
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
      ...(text
        ? [
            { path: 'text-encoder.onnx', bytes: 1, sha256: FAKE_SHA('e') },
            { path: 'tokenizer.json', bytes: 1, sha256: FAKE_SHA('f') },
          ]
        : []),
    ] as Manifest['files'],
  };
  return validateManifest(manifest);
}

/** Calls made to a TestBackend, by method. */
export interface TestBackendCounts {
  forward: number;
  /** encodeText calls. */
  encode: number;
  /** Prompts encoded (over all encodeText calls). */
  encodedPrompts: number;
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
  readonly counts: TestBackendCounts = {
    forward: 0,
    encode: 0,
    encodedPrompts: 0,
    head: 0,
    velocity: 0,
    combine: 0,
    decode: 0,
    forwardRows: 0,
    headRows: 0,
    sample: 0,
  };
  /** Feature tensors returned and not yet released. */
  readonly live = new Set<HostFeature>();
  /** Logits handles made by createLogits and not yet released. */
  readonly liveLogits = new Set<HostLogits>();
  /** Text handles made by encodeText and not yet released. */
  readonly liveText = new Set<HostText>();
  /** The tokenizer of a text model (`size.text`). */
  readonly tokenizer?: TestTokenizer;
  /** Optional hook awaited inside every call (e.g. to simulate latency or abort mid-call). */
  onCall: ((method: keyof TestBackendCounts) => void | Promise<void>) | undefined;
  readonly #tokenEmb: Float32Array;
  readonly #posEmb: Float32Array;
  readonly #classEmb: Float32Array;
  /** Text side: id embeddings [vocab, E], position embeddings [T, E], projections to the pooled [E, P] and to D. */
  readonly #idEmb: Float32Array;
  readonly #textPos: Float32Array;
  readonly #poolW: Float32Array;
  readonly #stateToD: Float32Array;
  readonly #pooledToD: Float32Array;
  readonly #microToD: Float32Array;
  readonly #headW: Float32Array;
  readonly #headB: Float32Array;
  #disposed = false;

  constructor(size: TestModelSize = {}) {
    this.manifest = testManifest(size);
    // The head below is affine (f W^T + b), so the manifest's claim holds when it is made.
    const guidedHead = this.manifest.graphs.head.affine === true;
    const deviceSampling = size.deviceSampling === true;
    const text = this.manifest.condition.type === 'text';
    this.capabilities = { velocity: this.manifest.graphs.shortcut !== undefined, deviceFeatures: false, guidedHead, deviceSampling, text };
    if (text) (this as { tokenizer?: TestTokenizer }).tokenizer = new TestTokenizer();
    if (!text) (this as { encodeText?: unknown }).encodeText = undefined;
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
    const c = this.manifest.condition;
    this.#classEmb = fill(c.type === 'class' ? (c.nullClassId + 1) * D : 0, 1);
    const { maxLength: T, width: E, pooled: P, vocab } = TEXT;
    const M = MICRO_NAMES.length;
    this.#idEmb = fill(text ? vocab * E : 0, 1);
    this.#textPos = fill(text ? T * E : 0, 0.3);
    this.#poolW = fill(text ? E * P : 0, 1);
    this.#stateToD = fill(text ? E * D : 0, 1);
    this.#pooledToD = fill(text ? P * D : 0, 1);
    this.#microToD = fill(text ? M * D : 0, 0.05);
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
    checkObject('forward', 'input', input);
    const { tokens, rows, logits } = input;
    if (!Number.isInteger(rows) || rows < 1) throw new MigmError('INVALID_OPTION', `forward: rows must be an integer >= 1, got ${rows}.`);
    checkIds('forward', 'tokens', tokens, maskId);
    if (tokens.length !== rows * L) throw new MigmError('INVALID_OPTION', `forward: tokens has ${tokens.length} values, expected rows * L = ${rows * L}.`);
    checkForwardCondition(this.manifest, input);
    const out = this.#logitsOut('forward', logits, rows);
    // The condition's embedding of each row [rows, D]: a class embedding, or the row's encoded prompt.
    const cond = input.text !== undefined ? this.#textCondition(input.text, rows) : null;
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
      const condEmb = cond ?? this.#classEmb;
      const at = cond ? r * D : input.classes![r]! * D;
      for (let p = 0; p < L; p++) {
        const tok = tokens[r * L + p]!;
        for (let d = 0; d < D; d++) {
          const x = this.#tokenEmb[tok * D + d]! + this.#posEmb[p * D + d]! + condEmb[at + d]! + 2 * mean[d]!;
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

  /** The text encoder: per prompt, text states [T, E] = tanh(id + position embeddings) and pooled = tanh(mean(states) W). */
  async encodeText(ids: Int32Array, count: number): Promise<TextHandle> {
    await this.#enter('encode');
    const { maxLength: T, width: E, pooled: P, vocab } = TEXT;
    checkTextIds(this.manifest, ids, count, vocab - 1);
    this.counts.encodedPrompts += count;
    const states = new Float32Array(count * T * E);
    const pooled = new Float32Array(count * P);
    for (let n = 0; n < count; n++) {
      const mean = new Float32Array(E);
      for (let t = 0; t < T; t++) {
        const id = ids[n * T + t]!;
        for (let e = 0; e < E; e++) {
          const v = Math.tanh(this.#idEmb[id * E + e]! + this.#textPos[t * E + e]!);
          states[(n * T + t) * E + e] = v;
          mean[e]! += v / T;
        }
      }
      for (let q = 0; q < P; q++) {
        let s = 0;
        for (let e = 0; e < E; e++) s += mean[e]! * this.#poolW[e * P + q]!;
        pooled[n * P + q] = Math.tanh(s);
      }
    }
    const h = new HostText(count, states, pooled);
    this.liveText.add(h);
    return h;
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

  release(feature: FeatureTensor | DeviceLogits | TextHandle): void {
    if (feature instanceof HostText) {
      this.#alive();
      feature.release();
      this.liveText.delete(feature);
      return;
    }
    if (feature instanceof HostLogits) {
      this.#ownLogits('release', feature).release();
      this.liveLogits.delete(feature);
      return;
    }
    const f = this.#own(feature as FeatureTensor);
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
    for (const h of this.liveText) h.release();
    this.liveText.clear();
  }

  /** Each row's condition embedding [rows, D] from its prompt's text states, pooled embedding and micro-conditioning. */
  #textCondition(text: TextRows, rows: number): Float32Array {
    this.#alive();
    if (!(text.handle instanceof HostText)) throw new MigmError('INVALID_OPTION', 'forward: input.text.handle was not made by this backend.');
    const h = text.handle;
    const { maxLength: T, width: E, pooled: P } = TEXT;
    const D = this.manifest.featureDim;
    const M = MICRO_NAMES.length;
    const out = new Float32Array(rows * D);
    for (let r = 0; r < rows; r++) {
      const n = text.index[r]!;
      for (let d = 0; d < D; d++) {
        let s = 0;
        for (let t = 0; t < T; t++) for (let e = 0; e < E; e++) s += (h.states[(n * T + t) * E + e]! * this.#stateToD[e * D + d]!) / T;
        for (let q = 0; q < P; q++) s += h.pooled[n * P + q]! * this.#pooledToD[q * D + d]!;
        for (let m = 0; m < M; m++) s += text.microConds[r * M + m]! * this.#microToD[m * D + d]!;
        out[r * D + d] = s;
      }
    }
    return out;
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

/** The test backend's `TextHandle`: the encoded prompts in host memory. */
class HostText implements TextHandle {
  readonly kind = 'text' as const;
  readonly count: number;
  #states: Float32Array | null;
  #pooled: Float32Array | null;

  constructor(count: number, states: Float32Array, pooled: Float32Array) {
    this.count = count;
    this.#states = states;
    this.#pooled = pooled;
  }

  get states(): Float32Array {
    if (this.#states === null) throw new MigmError('DISPOSED', 'This text handle was released and cannot be used.');
    return this.#states;
  }

  get pooled(): Float32Array {
    if (this.#pooled === null) throw new MigmError('DISPOSED', 'This text handle was released and cannot be used.');
    return this.#pooled;
  }

  release(): void {
    if (this.#states === null) throw new MigmError('DISPOSED', 'This text handle was already released.');
    this.#states = null;
    this.#pooled = null;
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
