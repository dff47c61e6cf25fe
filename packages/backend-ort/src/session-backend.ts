import {
  checkForwardCondition,
  checkSampleStep,
  checkTerms,
  checkTextIds,
  MigmError,
  type PromptTokenizer,
  type TextHandle,
  type Backend,
  type BackendCapabilities,
  type DeviceLogits,
  type DeviceSampleStep,
  type FeatureTensor,
  type FeatureTerm,
  type ForwardInput,
  type GraphRole,
  type ImageBatch,
  type Manifest,
  type TensorSpec,
  type VelocityControl,
} from '@migm/core/backend';
import { affineHeadVerdict, checkDecodeInput, checkForwardInput, checkGuidedHead, checkVelocityControl } from './backend-inputs.js';
import { DeviceSampler, type DeviceSamplerOptions, type SamplerTraffic } from './device-sampler.js';
import { InFlight } from './in-flight.js';
import { checkHostLogits, isLogitsHandle, LogitsHandles, type LogitsHandle } from './logits-handles.js';
import { checkLength, errorText, intTensor, releaseSessions, type Sessions } from './sessions.js';
import type { InferenceSession, OrtModule, Tensor } from './ort-types.js';
import { gatherRows, isTextStore, TextStore, TextStores } from './text-handles.js';

/** A text bundle's tokenizer as a backend holds it: what core uses, plus the largest id its vocabulary has. */
export interface BundleTokenizer extends PromptTokenizer {
  readonly maxId: number;
}

/** A feature's dims: [rows, L, D]. */
export type FeatureDims = readonly [rows: number, tokens: number, width: number];

/** Where a graph's logits go: the caller's host buffer, or one of the backend's logits handles (its first rows). */
export type LogitsTarget<L> = Float32Array | LogitsHandle<L>;

/** Where one graph run's outputs go, each named by the graph's output name. */
export interface GraphOutputs<L> {
  /** Logits [rows, L, K], written to `target`. */
  readonly logits?: { readonly name: string; readonly target: LogitsTarget<L>; readonly rows: number };
  /** A feature the backend keeps: `runGraph` returns it (not yet tracked as live). */
  readonly feature?: { readonly name: string; readonly dims: FeatureDims };
  /** Values copied into a host buffer of `dims` (decoded pixels). */
  readonly host?: { readonly name: string; readonly buffer: Float32Array; readonly dims: readonly number[] };
}

/** What a `SessionBackend` is made of; the subclass's `create` loads the sessions and decides the rest. */
export interface SessionBackendParts<F extends FeatureTensor> {
  readonly ort: OrtModule;
  readonly manifest: Manifest;
  readonly sessions: Sessions;
  /** Backend name reported to callers, e.g. "onnxruntime-node". */
  readonly name: string;
  /** The device the sessions run on, e.g. "cpu". */
  readonly device: string;
  /** `capabilities.deviceFeatures`: features stay in device memory between calls. */
  readonly deviceFeatures: boolean;
  /** The device sampler to offer (`capabilities.deviceSampling`), or null for none. */
  readonly sampler: DeviceSamplerOptions | null;
  /** The class of this backend's features: a released one is DISPOSED, any other foreign value INVALID_OPTION. */
  readonly featureType: abstract new (...args: never[]) => F;
  /** A text bundle's tokenizer, loaded from its sha256-checked tokenizer file (`bundleTokenizer`). Required for text bundles. */
  readonly tokenizer?: BundleTokenizer | undefined;
}

/**
 * The part of core's `Backend` that both onnxruntime backends share: lifecycle (dispose waits for runs in
 * flight), capabilities, argument checks, live features and logits handles, the device sampler, and the
 * forward / head / guidedHead / velocity / decode skeleton around session runs. A subclass says only where
 * tensors live: `F` is its feature type, `L` what a logits handle keeps (host memory, a GPU buffer), and the
 * protected hooks run a graph and move its outputs.
 */
export abstract class SessionBackend<F extends FeatureTensor, L> implements Backend {
  readonly name: string;
  readonly device: string;
  readonly manifest: Manifest;
  protected readonly ort: OrtModule;
  protected readonly sessions: Sessions;
  #capabilities: BackendCapabilities;
  readonly #featureType: abstract new (...args: never[]) => F;
  readonly #live = new Set<F>();
  readonly #inFlight = new InFlight();
  readonly #handles = new LogitsHandles<L>((store) => this.freeLogits(store));
  readonly #sampler: DeviceSampler | null;
  readonly #texts = new TextStores();
  /** The bundle's tokenizer (text bundles; absent otherwise). */
  readonly tokenizer?: BundleTokenizer;
  readonly #warnings: string[] = [];
  #disposed = false;

  protected constructor(parts: SessionBackendParts<F>) {
    this.ort = parts.ort;
    this.sessions = parts.sessions;
    this.name = parts.name;
    this.device = parts.device;
    this.manifest = parts.manifest;
    this.#featureType = parts.featureType;
    const deviceSampling = parts.sampler !== null;
    const text = this.manifest.condition.type === 'text';
    if (text && parts.tokenizer === undefined)
      throw new MigmError('INVALID_OPTION', `The text-conditioned bundle ${this.manifest.name} needs its tokenizer (bundleTokenizer) to make a backend.`);
    this.#capabilities = {
      velocity: parts.sessions.shortcut !== undefined,
      deviceFeatures: parts.deviceFeatures,
      guidedHead: this.manifest.graphs.head.affine === true,
      deviceSampling,
      text,
    };
    if (text) this.tokenizer = parts.tokenizer!;
    else (this as { encodeText?: unknown }).encodeText = undefined;
    // An optional Backend method a backend cannot serve is absent (an own undefined property over the
    // prototype's method), so core's capability check sees the method and the flag agree.
    if (!parts.sessions.shortcut) (this as { velocity?: unknown }).velocity = undefined;
    if (!this.#capabilities.guidedHead) this.#dropGuidedHead();
    this.#sampler = parts.sampler && new DeviceSampler(parts.sampler);
    if (!deviceSampling) {
      (this as { createLogits?: unknown }).createLogits = undefined;
      (this as { sampleStep?: unknown }).sampleStep = undefined;
    }
  }

  get capabilities(): BackendCapabilities {
    return this.#capabilities;
  }

  /**
   * What loading found that a caller should hear about but that did not stop it (a bundle's affine-head claim
   * that failed its check, so `guidedHead` is off), in order. The backend prints nothing: an app shows these,
   * the `migm` CLI prints them on stderr, and the `onWarning` option hears each as it happens.
   */
  get warnings(): readonly string[] {
    return [...this.#warnings];
  }

  /** Feature tensors handed out and not yet released (for leak checks). */
  get liveFeatures(): number {
    return this.#live.size;
  }

  /** Text handles handed out and not yet released (for leak checks). */
  get liveTexts(): number {
    return this.#texts.size;
  }

  /** Logits handles handed out and not yet released (for leak checks). */
  get liveLogits(): number {
    return this.#handles.size;
  }

  /**
   * The load-time check of the bundle's affine-head claim (the subclass's `create` calls it once): a claim that
   * fails turns `guidedHead` off, with a warning kept in `warnings` and handed to `onWarning`; an error disposes
   * the backend and is thrown. `where` keys the cached verdict.
   */
  protected async verifyAffineHead(where: string, onWarning: ((message: string) => void) | undefined): Promise<void> {
    if (!this.#capabilities.guidedHead) return;
    const warn = (message: string) => {
      this.#warnings.push(message);
      onWarning?.(message);
    };
    try {
      if (!(await affineHeadVerdict(where, this.manifest, (feature, rows) => this.#headHost(feature, rows), warn))) this.#dropGuidedHead();
    } catch (err) {
      await this.dispose();
      throw err;
    }
  }

  /** A logits buffer [rows, L, K] in this backend's memory, for `forward`/`head`/`guidedHead` and `sampleStep`. */
  createLogits(rows: number): DeviceLogits {
    this.alive();
    const { count: L, codebookSize: K } = this.manifest.tokens;
    return this.#handles.create(rows, L, K, (r) => this.newLogits(r));
  }

  /** Samples one step on the logits in `logits` (core's `DeviceSampleStep`) with the sampler graph, where the logits are. */
  async sampleStep(logits: DeviceLogits, step: DeviceSampleStep): Promise<void> {
    this.alive();
    const h = this.#handles.own('sampleStep', logits);
    const masked = checkSampleStep(this.manifest, h, step);
    try {
      await this.#inFlight.track(this.#sampler!.run(this.logitsTensor(h), step, masked));
    } catch (err) {
      this.alive(); // cut short by dispose(): DISPOSED
      throw err;
    }
  }

  /** Bytes a `sampleStep` moves to and from the sampler graph, or null without the device sampler. */
  samplerTraffic(batch: number, masked: number, count: number, guided: boolean): SamplerTraffic | null {
    return this.#sampler?.traffic(batch, masked, count, guided) ?? null;
  }

  /** Writes host values into a logits handle's first rows (tests and tools; the model writes it otherwise). */
  writeLogits(logits: DeviceLogits, values: Float32Array): void {
    this.alive();
    const h = this.#handles.own('writeLogits', logits);
    const { count: L, codebookSize: K } = this.manifest.tokens;
    if (!(values instanceof Float32Array) || values.length % (L * K) !== 0 || values.length > h.dims[0] * L * K) {
      throw new MigmError('INVALID_OPTION', `writeLogits: values must be a Float32Array of whole rows of L * K = ${L * K}, at most ${h.dims[0]} rows.`);
    }
    this.writeLogitsStore(h.store, values);
  }

  async forward(input: ForwardInput): Promise<FeatureTensor> {
    const session = this.session('base');
    const { L, D } = checkForwardInput(this.manifest, input);
    const { tokens, rows } = input;
    const target = this.#logitsTarget('forward', input.logits, rows);
    const g = this.manifest.graphs.base;
    const feeds: Record<string, Tensor> = { [g.inputs['tokens']!.name]: this.#int(g.inputs['tokens']!, tokens, [rows, L]) };
    if (input.text === undefined) feeds[g.inputs['classes']!.name] = this.#int(g.inputs['classes']!, input.classes!, [rows]);
    else {
      // Each row's encoded prompt, gathered once per row layout of the handle (where the backend keeps its
      // tensors: a step feeds the same tensors, nothing is copied or uploaded again); micro-conditioning as given.
      const store = this.#texts.own('forward', input.text.handle);
      const rowsOf = store.gather(input.text.index, (value, index) => this.gatherText(value, index));
      for (const [role, tensor] of Object.entries(rowsOf)) feeds[g.inputs[role]!.name] = tensor;
      const micro = g.inputs['microConds'];
      if (micro !== undefined) feeds[micro.name] = new this.ort.Tensor('float32', input.text.microConds, [rows, input.text.microConds.length / rows]);
    }
    const feature = await this.runGraph('base', session, feeds, {
      logits: { name: g.outputs['logits']!.name, target, rows },
      feature: { name: g.outputs['feature']!.name, dims: [rows, L, D] },
    });
    return this.#keep(feature!);
  }

  /**
   * Encodes `count` prompts (token ids [count, maxLength] from `tokenizer`) once for a run: the text encoder's
   * outputs (text states and pooled embedding) are kept behind the handle where this backend keeps tensors (host
   * memory; GPU buffers on the GPU-resident WebGPU backend), and each forward feeds its rows gathered from them,
   * once per row layout. A bundle without a text encoder (a base model that reads the prompt ids itself, as
   * Lumina-DiMOO does) keeps the ids. Released by `release(handle)` or `dispose()`. Present when `capabilities.text`.
   */
  async encodeText(ids: Int32Array, count: number): Promise<TextHandle> {
    this.alive();
    checkTextIds(this.manifest, ids, count, this.tokenizer!.maxId);
    const T = (this.manifest.condition as { maxLength: number }).maxLength;
    const encoder = this.manifest.graphs.textEncoder;
    if (encoder === undefined) {
      const spec = this.manifest.graphs.base.inputs['promptIds']!;
      return this.#texts.add(new TextStore(count, new Map([['promptIds', this.#int(spec, ids.slice(), [count, T])]])));
    }
    const session = this.session('textEncoder');
    const results = (await this.settleRun(
      'textEncoder',
      session.run({ [encoder.inputs['inputIds']!.name]: this.#int(encoder.inputs['inputIds']!, ids, [count, T]) }),
      { discard: (r) => disposeResults(r, new Set()) },
    )) as Record<string, Tensor>;
    const values = new Map<string, Tensor>();
    try {
      for (const role of ['textStates', 'pooled']) {
        const out = results[encoder.outputs[role]!.name];
        if (!out) throw new MigmError('BACKEND_FAILURE', `Graph textEncoder returned no output '${encoder.outputs[role]!.name}' (${role}).`);
        const dims = out.dims.map(Number);
        if (dims[0] !== count || out.type !== 'float32')
          throw new MigmError('BACKEND_FAILURE', `Graph textEncoder returned ${role} of type ${out.type} and dims [${dims.join(', ')}] for ${count} prompts.`);
        values.set(role, this.keepTextOutput(role, out));
      }
    } catch (err) {
      disposeResults(values, new Set());
      throw err;
    } finally {
      disposeResults(results, new Set(values.values()));
    }
    return this.#texts.add(new TextStore(count, values));
  }

  async head(feature: FeatureTensor, into: Float32Array | DeviceLogits): Promise<void> {
    const session = this.session('head');
    const f = this.own(feature);
    const rows = f.dims[0];
    const target = this.#logitsTarget('head', into, rows);
    const g = this.manifest.graphs.head;
    await this.runGraph('head', session, { [g.inputs['feature']!.name]: this.featureTensor(f) }, { logits: { name: g.outputs['logits']!.name, target, rows } });
  }

  async guidedHead(feature: FeatureTensor, weight: number, into: Float32Array | DeviceLogits): Promise<void> {
    const session = this.session('head');
    const f = this.own(feature);
    const [rows, L, D] = f.dims;
    const batch = checkGuidedHead(this.manifest, rows, L, into);
    const target = this.#logitsTarget('guidedHead', into, batch);
    const guided = this.guideFeature(f, weight, [batch, L, D]);
    try {
      const g = this.manifest.graphs.head;
      await this.runGraph(
        'head',
        session,
        { [g.inputs['feature']!.name]: this.featureTensor(guided) },
        { logits: { name: g.outputs['logits']!.name, target, rows: batch } },
      );
    } finally {
      this.freeFeature(guided);
    }
  }

  async velocity(feature: FeatureTensor, control: VelocityControl): Promise<FeatureTensor> {
    const session = this.session('shortcut');
    const f = this.own(feature);
    const [rows, L, D] = f.dims;
    checkVelocityControl(this.manifest, rows, L, control);
    const n = control.count;
    const g = this.manifest.graphs.shortcut!;
    const feeds = {
      [g.inputs['feature']!.name]: this.featureTensor(f),
      [g.inputs['newTokens']!.name]: this.#int(g.inputs['newTokens']!, control.tokens, [rows, n]),
      [g.inputs['newPositions']!.name]: this.#int(g.inputs['newPositions']!, control.positions, [rows, n]),
      [g.inputs['ratio']!.name]: new this.ort.Tensor('float32', control.ratio, [rows]),
    };
    const velocity = await this.runGraph('shortcut', session, feeds, { feature: { name: g.outputs['velocity']!.name, dims: [rows, L, D] } });
    return this.#keep(velocity!);
  }

  async combine(terms: readonly FeatureTerm[]): Promise<FeatureTensor> {
    this.alive();
    const dims = checkTerms(terms);
    const features = terms.map((t) => this.own(t.feature));
    return this.#keep(
      this.combineFeatures(
        features,
        terms.map((t) => t.coef),
        dims,
      ),
    );
  }

  abstract readFeature(feature: FeatureTensor): Promise<Float32Array>;

  release(feature: FeatureTensor | DeviceLogits | TextHandle): void {
    if (isTextStore(feature)) {
      this.alive();
      this.#texts.release(this.#texts.own('release', feature));
      return;
    }
    if (isLogitsHandle(feature)) {
      this.alive();
      this.#handles.release(this.#handles.own('release', feature));
      return;
    }
    const f = this.own(feature as FeatureTensor);
    this.#live.delete(f);
    this.freeFeature(f);
  }

  async decode(tokens: Int32Array, batch: number): Promise<ImageBatch> {
    const session = this.session('decoder');
    const { count: L } = this.manifest.tokens;
    const { width, height, channels } = this.manifest.image;
    checkDecodeInput(this.manifest, tokens, batch);
    const g = this.manifest.graphs.decoder;
    const data = new Float32Array(batch * channels * height * width);
    await this.runGraph(
      'decoder',
      session,
      { [g.inputs['tokens']!.name]: this.#int(g.inputs['tokens']!, tokens, [batch, L]) },
      {
        host: { name: g.outputs['pixels']!.name, buffer: data, dims: [batch, channels, height, width] },
      },
    );
    return { data, batch, channels, height, width };
  }

  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    await this.#inFlight.settle(); // nothing is freed under a running session
    for (const f of this.#live) this.freeFeature(f);
    this.#live.clear();
    this.#handles.releaseAll();
    this.#texts.releaseAll();
    await this.#sampler?.release();
    this.freeResources();
    await releaseSessions(this.sessions);
  }

  // Hooks: what differs between host-memory and device-resident tensors.

  /** The store behind a new logits handle of `rows` rows [rows, L, K]. */
  protected abstract newLogits(rows: number): L;
  /** Frees a released logits handle's store (host memory needs nothing). */
  protected freeLogits(_store: L): void {}
  /** The logits handle as the sampler graph's input tensor. */
  protected abstract logitsTensor(handle: LogitsHandle<L>): Tensor;
  /** Writes host values into the first rows of a logits handle's store. */
  protected abstract writeLogitsStore(store: L, values: Float32Array): void;
  /** A feature of this backend as a graph input. */
  protected abstract featureTensor(feature: F): Tensor;
  /** (1 + w) f_cond - w f_uncond of a [cond; uncond] feature, as a feature of `dims` not tracked as live. */
  protected abstract guideFeature(feature: F, weight: number, dims: FeatureDims): F;
  /** Sum of coefs[j] * features[j] (checked to share `dims`), as a new feature not yet tracked as live. */
  protected abstract combineFeatures(features: readonly F[], coefs: readonly number[], dims: FeatureDims): F;
  /**
   * Keeps a text encoder output (float32 [count, ...], checked) for the life of a text handle; the run's tensor
   * is disposed after this unless it is the value returned. Host memory: a copy of its data.
   */
  protected keepTextOutput(role: string, out: Tensor): Tensor {
    const data = out.data as Float32Array;
    if (!(data instanceof Float32Array) || data.length !== out.dims.reduce((a, b) => a * Number(b), 1))
      throw new MigmError('BACKEND_FAILURE', `Graph textEncoder returned ${role} of dims [${out.dims.join(', ')}] with ${data.length} host values.`);
    return new this.ort.Tensor('float32', data.slice(), out.dims);
  }
  /**
   * Rows of an encoded text value as a graph input (row r is prompt index[r]), made once per text handle and row
   * layout and disposed with the handle. Host memory: a gathered copy.
   */
  protected gatherText(value: Tensor, index: Int32Array): Tensor {
    const rest = value.dims.slice(1).map(Number);
    const size = rest.reduce((a, b) => a * b, 1);
    const data = gatherRows(value.data as Float32Array | Int32Array | BigInt64Array, size, index);
    return new (this.ort.Tensor as new (type: string, data: unknown, dims: readonly number[]) => Tensor)(value.type, data, [index.length, ...rest]);
  }
  /** Frees a feature's memory (it is already out of the live set, or the backend is disposing). */
  protected abstract freeFeature(feature: F): void;
  /** Frees what the subclass keeps besides features and handles (pools), at dispose before the sessions go. */
  protected abstract freeResources(): void;
  /**
   * Runs one graph with `feeds` (through `settleRun`) and delivers `outputs`; returns the feature output when
   * asked for one. On failure nothing it allocated is left behind.
   */
  protected abstract runGraph(role: GraphRole, session: InferenceSession, feeds: Record<string, Tensor>, outputs: GraphOutputs<L>): Promise<F | undefined>;

  // Helpers for subclasses.

  /**
   * Awaits one runtime call as a run in flight. A failure is BACKEND_FAILURE naming the graph (and `on`, a
   * device, when given), or DISPOSED when dispose() cut the run short; results that arrive after dispose() are
   * handed to `discard` and refused with DISPOSED: they are not ours to hand out.
   */
  protected async settleRun<R>(role: GraphRole, run: Promise<R>, how: { readonly on?: string; readonly discard?: (results: R) => void } = {}): Promise<R> {
    let results: R;
    try {
      results = await this.#inFlight.track(run);
    } catch (err) {
      this.alive(); // a run cut short by dispose() is DISPOSED, not a runtime failure
      const on = how.on === undefined ? '' : ` on ${how.on}`;
      throw new MigmError('BACKEND_FAILURE', `onnxruntime failed running graph ${role} (${this.manifest.graphs[role]!.file})${on}: ${errorText(err)}`, {
        cause: err,
      });
    }
    if (this.#disposed) {
      how.discard?.(results);
      this.alive();
    }
    return results;
  }

  /**
   * Copies output `name` of a run into `buffer` after checking its size; nothing to do when the runtime wrote
   * into `buffer` itself (a pre-allocated output).
   */
  protected copyOutput(role: GraphRole, results: Readonly<Record<string, unknown>>, name: string, buffer: Float32Array): void {
    const out = results[name] as Tensor | undefined;
    if (!out) throw new MigmError('BACKEND_FAILURE', `Graph ${role} returned no output '${name}'.`);
    const data = out.data as Float32Array;
    if (data === buffer) return;
    checkLength(role, `output ${name}`, data.length, buffer.length);
    buffer.set(data);
  }

  /** The session of `role`: DISPOSED after dispose(), UNSUPPORTED when the graph is not loaded. */
  protected session(role: GraphRole): InferenceSession {
    this.alive();
    const s = this.sessions[role];
    if (!s) throw new MigmError('UNSUPPORTED', `Graph ${role} is not loaded in this backend.`);
    return s;
  }

  /** True once dispose() has begun. */
  protected get disposed(): boolean {
    return this.#disposed;
  }

  /** Throws DISPOSED once dispose() has begun. */
  protected alive(): void {
    if (this.#disposed) throw new MigmError('DISPOSED', `The ${this.name} backend was disposed.`);
  }

  /** `feature` as a live feature of this backend: DISPOSED when released, INVALID_OPTION when not ours. */
  protected own(feature: FeatureTensor): F {
    this.alive();
    const type = this.#featureType;
    if (!(feature instanceof type) || !this.#live.has(feature)) {
      if (feature instanceof type && (feature as { released?: unknown }).released === true)
        throw new MigmError('DISPOSED', 'This feature tensor was released and cannot be used.');
      throw new MigmError('INVALID_OPTION', 'This feature tensor was not made by this backend.');
    }
    return feature;
  }

  #keep(feature: F): F {
    this.#live.add(feature);
    return feature;
  }

  #dropGuidedHead(): void {
    this.#capabilities = { ...this.#capabilities, guidedHead: false };
    (this as { guidedHead?: unknown }).guidedHead = undefined;
  }

  /** The caller's host buffer (checked), or the handle that receives `rows` rows of logits. */
  #logitsTarget(method: string, logits: Float32Array | DeviceLogits, rows: number): LogitsTarget<L> {
    if (isLogitsHandle(logits)) return this.#handles.written(method, logits, rows);
    checkHostLogits(method, logits, rows * this.manifest.tokens.count * this.manifest.tokens.codebookSize);
    return logits as Float32Array;
  }

  /** The head graph on a host feature [rows, L, D] (for the load-time affine check). */
  async #headHost(feature: Float32Array, rows: number): Promise<Float32Array> {
    const { count: L, codebookSize: K } = this.manifest.tokens;
    const g = this.manifest.graphs.head;
    const logits = new Float32Array(rows * L * K);
    const feeds = { [g.inputs['feature']!.name]: new this.ort.Tensor('float32', feature, [rows, L, this.manifest.featureDim]) };
    await this.runGraph('head', this.session('head'), feeds, { logits: { name: g.outputs['logits']!.name, target: logits, rows } });
    return logits;
  }

  #int(spec: TensorSpec, data: Int32Array, dims: readonly number[]): Tensor {
    return intTensor(this.ort, spec, data, dims);
  }
}

/** Disposes every tensor of `tensors` not in `keep` (a run's outputs that nobody took). */
function disposeResults(tensors: Readonly<Record<string, unknown>> | ReadonlyMap<string, Tensor>, keep: ReadonlySet<Tensor>): void {
  const all = tensors instanceof Map ? [...tensors.values()] : Object.values(tensors);
  for (const t of all as Tensor[]) if (!keep.has(t)) t.dispose();
}
